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
       campaign_known, rowtime
FROM first_impressions WHERE NOT late
UNION ALL
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000),
       0, 1, IF(matched_impression_id IS NULL, 0, 1), IF(matched_impression_id IS NULL, 1, 0),
       0, 0, CAST(0 AS DOUBLE), CAST(0 AS BIGINT), 0, 0,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known, rowtime
FROM click_attribution WHERE NOT late
UNION ALL
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000),
       0, 0, 0, 0, 1, 0, COALESCE(conversion_value, CAST(0 AS DOUBLE)), CAST(0 AS BIGINT), 0, 0,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known, rowtime
FROM first_conversions WHERE NOT late
UNION ALL
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000),
       0, 0, 0, 0, 0, 1, CAST(0 AS DOUBLE), CAST(0 AS BIGINT), 0, 0,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known, rowtime
FROM conversion_candidates WHERE click_id IS NULL AND NOT late
UNION ALL
SELECT campaign_id, event_time_ms - MOD(event_time_ms, 60000),
       0, 0, 0, 0, 0, 0, CAST(0 AS DOUBLE), CAST(0 AS BIGINT), 1, IF(won, 1, 0),
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known, rowtime
-- A bid whose outcome names no campaign belongs to no campaign's row: dq_metrics counts it
-- (contract 2.7).
FROM first_bid_requests WHERE bid AND campaign_id IS NOT NULL AND NOT late;

-- A campaign-minute's totals so far, two ways; ${campaign_minutes} names the mode's.
-- Streaming: adx_campaign_minute (flink_jobs/java CampaignMinuteFunction), running totals
-- per campaign and minute that leave with each signal and are forgotten when the watermark
-- passes the minute's end plus ${campaign_minute_grace_ms} ms (CampaignMinuteFunction says why):
-- state bounded by event time, and no processing-time TTL that could restart a minute an
-- unmatched conversion updates days later. Batch (where Flink has no
-- process table functions): a GROUP BY, whose rows are final.
-- (The CAST: for an INT literal, Flink 2.2 generates a cast to Long that does not compile.)
CREATE TEMPORARY VIEW campaign_minutes_timed AS
SELECT * FROM adx_campaign_minute(
  input => TABLE campaign_signals PARTITION BY (campaign_id, window_start_ms),
  grace_ms => CAST(${campaign_minute_grace_ms} AS BIGINT), uid => 'campaign-minutes');

CREATE TEMPORARY VIEW campaign_minutes_grouped AS
SELECT campaign_id, window_start_ms,
       CAST(SUM(impressions) AS BIGINT) AS impressions, CAST(SUM(clicks) AS BIGINT) AS clicks,
       CAST(SUM(attributed_clicks) AS BIGINT) AS attributed_clicks,
       CAST(SUM(unattributed_clicks) AS BIGINT) AS unattributed_clicks,
       CAST(SUM(conversions) AS BIGINT) AS conversions,
       CAST(SUM(unattributed_conversions) AS BIGINT) AS unattributed_conversions,
       SUM(conversion_value) AS conversion_value,
       CAST(SUM(spend_micros) AS BIGINT) AS spend_micros,
       CAST(SUM(bids) AS BIGINT) AS bids, CAST(SUM(wins) AS BIGINT) AS wins,
       MAX(advertiser_id) AS advertiser_id, MAX(campaign_name) AS campaign_name,
       MAX(campaign_status) AS campaign_status,
       MAX(campaign_daily_budget_micros) AS campaign_daily_budget_micros,
       MAX(campaign_known) AS campaign_known
FROM campaign_signals
GROUP BY campaign_id, window_start_ms;

INSERT INTO campaign_metrics_1m
SELECT CONCAT(campaign_id, ':', CAST(window_start_ms AS STRING)),
       campaign_id, window_start_ms, window_start_ms + 60000,
       impressions, clicks, attributed_clicks, unattributed_clicks, conversions,
       unattributed_conversions, conversion_value, spend_micros, bids, wins,
       CASE WHEN impressions > 0 THEN CAST(clicks AS DOUBLE) / impressions END,
       CASE WHEN clicks > 0 THEN CAST(conversions AS DOUBLE) / clicks END,
       CASE WHEN bids > 0 THEN CAST(wins AS DOUBLE) / bids END,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known
FROM ${campaign_minutes};
