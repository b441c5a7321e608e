-- campaign_metrics_1m: per campaign and event-time minute. A record behind the watermark
-- on arrival (late) is left out: its minute has closed (contract 2.5). Rows are updated as
-- records arrive (mini-batched) and are final once the watermark passes the minute's end
-- (attributed and unattributed clicks: once it passes each click's own time); the output
-- is an upsert keyed campaign:minute, as its Pinot table is.

CREATE TEMPORARY VIEW campaign_signals AS
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000) AS window_start_ms,
       1 AS impressions, 0 AS clicks, 0 AS attributed_clicks, 0 AS unattributed_clicks,
       0 AS conversions, 0 AS unattributed_conversions,
       CAST(0 AS DOUBLE) AS conversion_value, COALESCE(cost_micros, 0) AS spend_micros,
       0 AS bids, 0 AS wins,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known
FROM first_impressions WHERE NOT late
UNION ALL
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000),
       0, 1, IF(matched_impression_id IS NULL, 0, 1), IF(matched_impression_id IS NULL, 1, 0),
       0, 0, CAST(0 AS DOUBLE), CAST(0 AS BIGINT), 0, 0,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known
FROM click_attribution WHERE NOT late
UNION ALL
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000),
       0, 0, 0, 0, 1, 0, COALESCE(conversion_value, CAST(0 AS DOUBLE)), CAST(0 AS BIGINT), 0, 0,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known
FROM first_conversions WHERE NOT late
UNION ALL
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000),
       0, 0, 0, 0, 0, 1, CAST(0 AS DOUBLE), CAST(0 AS BIGINT), 0, 0,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known
FROM conversion_candidates WHERE click_id IS NULL AND NOT late
UNION ALL
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000),
       0, 0, 0, 0, 0, 0, CAST(0 AS DOUBLE), CAST(0 AS BIGINT), 1, IF(won, 1, 0),
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known
-- A bid whose outcome names no campaign belongs to no campaign's row: dq_metrics counts it
-- (contract 2.7).
FROM first_bid_requests WHERE bid AND campaign_id IS NOT NULL AND NOT late;

-- The row's state lives ${aggregate_state_ttl} after its last update (not the dedup
-- horizon): an unmatched conversion leaves its join about half the conversion window after
-- its own time, and updates its minute then; a row expired before that would restart from
-- zero and overwrite the upsert row.
INSERT INTO campaign_metrics_1m
SELECT /*+ STATE_TTL('campaign_signals' = '${aggregate_state_ttl}') */ CONCAT(campaign_id, ':', CAST(window_start_ms AS STRING)),
       campaign_id, window_start_ms, window_start_ms + 60000,
       CAST(SUM(impressions) AS BIGINT), CAST(SUM(clicks) AS BIGINT),
       CAST(SUM(attributed_clicks) AS BIGINT), CAST(SUM(unattributed_clicks) AS BIGINT),
       CAST(SUM(conversions) AS BIGINT), CAST(SUM(unattributed_conversions) AS BIGINT),
       SUM(conversion_value), CAST(SUM(spend_micros) AS BIGINT),
       CAST(SUM(bids) AS BIGINT), CAST(SUM(wins) AS BIGINT),
       CASE WHEN SUM(impressions) > 0
            THEN CAST(SUM(clicks) AS DOUBLE) / SUM(impressions) END,
       CASE WHEN SUM(clicks) > 0 THEN CAST(SUM(conversions) AS DOUBLE) / SUM(clicks) END,
       CASE WHEN SUM(bids) > 0 THEN CAST(SUM(wins) AS DOUBLE) / SUM(bids) END,
       MAX(advertiser_id), MAX(campaign_name), MAX(campaign_status),
       MAX(campaign_daily_budget_micros), MAX(campaign_known)
FROM campaign_signals
GROUP BY campaign_id, window_start_ms;
