-- Correlation by event time: interval joins on the deduplicated records. A row stays in a
-- join's state until the watermark passes the last time a partner may have, so a late
-- record still joins what is still there, and what has expired stays unjoined (contract
-- 2.5). rowtime is the record's own event time (event_time_ms), so the interval on it is
-- the contract's condition exactly.

-- Every click once: with its impression, or with nulls once it can no longer find one
-- (when the watermark passes the click's own time).
CREATE TEMPORARY VIEW click_attribution AS
SELECT c.event_id, c.event_time_ms, c.user_id, c.campaign_id, c.impression_id,
       c.advertiser_id, c.campaign_name, c.campaign_status, c.campaign_daily_budget_micros,
       c.campaign_known, c.late, c.arrival_window_ms, c.rowtime,
       i.impression_id AS matched_impression_id,
       i.event_time_ms AS impression_event_time_ms, i.creative_id, i.website, i.device_type,
       i.country, i.cost_micros, i.currency, i.bid_request_id
FROM first_clicks AS c
LEFT JOIN first_impressions AS i
  ON c.impression_id = i.impression_id
 AND c.rowtime BETWEEN i.rowtime AND i.rowtime + ${click_window};

INSERT INTO attributed_clicks
SELECT event_id,
       event_id, event_time_ms, user_id, campaign_id, impression_id, impression_event_time_ms,
       creative_id, website, device_type, country, cost_micros, currency, bid_request_id,
       CAST(event_time_ms - impression_event_time_ms AS DOUBLE) / 1000,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known
FROM click_attribution
WHERE matched_impression_id IS NOT NULL;

-- Every conversion with each click of the same user and campaign in its window, or once
-- with nulls when it has none.
CREATE TEMPORARY VIEW conversion_candidates AS
SELECT v.event_id, v.event_time_ms, v.user_id, v.campaign_id, v.conversion_type,
       v.conversion_value, v.currency,
       v.advertiser_id, v.campaign_name, v.campaign_status, v.campaign_daily_budget_micros,
       v.campaign_known, v.late, v.arrival_window_ms, v.rowtime,
       k.event_id AS click_id, k.event_time_ms AS click_event_time_ms,
       k.impression_id AS click_impression_id
FROM first_conversions AS v
LEFT JOIN first_clicks AS k
  ON v.user_id = k.user_id AND v.campaign_id = k.campaign_id
 AND v.rowtime BETWEEN k.rowtime AND k.rowtime + ${conversion_window};

-- Last click wins: per conversion, the latest click, ties on event time to the greatest click
-- id, as the simulator's truth states. A later click found afterwards replaces the row (an
-- upsert output keyed by the conversion). Two ways; ${last_click} names the mode's.
-- Streaming: adx_last_click (flink_jobs/java LastClickFunction), a process table function
-- per conversion that passes on each candidate better than the best so far and forgets the
-- conversion when the watermark passes its time (the join's output watermark trails by the
-- conversion window, so no candidate comes after): state bounded by event time, not by
-- table.exec.state.ttl's processing time. Batch (no process table functions): ROW_NUMBER.
CREATE TEMPORARY VIEW click_candidates AS
SELECT event_id, event_time_ms, user_id, campaign_id, conversion_type, conversion_value,
       currency, click_id, click_event_time_ms, click_impression_id,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known, rowtime
FROM conversion_candidates
WHERE click_id IS NOT NULL;

CREATE TEMPORARY VIEW last_click_timed AS
SELECT * FROM adx_last_click(
  input => TABLE click_candidates PARTITION BY event_id,
  uid => 'last-click');

CREATE TEMPORARY VIEW last_click_ranked AS
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (
           PARTITION BY event_id ORDER BY click_event_time_ms DESC, click_id DESC) AS rank_
  FROM click_candidates
) WHERE rank_ = 1;

INSERT INTO attributed_conversions
SELECT event_id,
       event_id, event_time_ms, user_id, campaign_id, conversion_type, conversion_value,
       currency, click_id, click_event_time_ms, click_impression_id,
       CAST(event_time_ms - click_event_time_ms AS DOUBLE) / 1000,
       advertiser_id, campaign_name, campaign_status, campaign_daily_budget_micros,
       campaign_known
FROM ${last_click};
