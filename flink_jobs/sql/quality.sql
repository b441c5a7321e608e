-- dq_metrics: per source and arrival window (processing time, when the message was
-- checked), the data-quality counts the monitor watches. received = valid + invalid +
-- duplicates; late and unattributed count valid first-seen records: unattributed are
-- clicks and conversions that matched nothing, and bids whose outcome names no campaign
-- (contract 2.7: counted here, in no campaign's row).

CREATE TEMPORARY VIEW quality_signals AS
SELECT 'impressions' AS source, arrival_window_ms, 1 AS received, reason,
       IF(reason IS NULL, 1, 0) AS valid_any, 0 AS first_seen, 0 AS late, 0 AS unattributed,
       CAST(NULL AS BIGINT) AS delay_ms
FROM checked_impressions
UNION ALL
SELECT 'clicks_conversions', arrival_window_ms, 1, reason, IF(reason IS NULL, 1, 0),
       0, 0, 0, CAST(NULL AS BIGINT)
FROM checked_clicks_conversions
UNION ALL
SELECT 'bid_requests', arrival_window_ms, 1, reason, IF(reason IS NULL, 1, 0),
       0, 0, 0, CAST(NULL AS BIGINT)
FROM checked_bid_requests
UNION ALL
SELECT 'impressions', arrival_window_ms, 0, CAST(NULL AS STRING), 0, 1, IF(late, 1, 0), 0,
       checked_at_ms - event_time_ms
FROM first_impressions
UNION ALL
SELECT 'clicks_conversions', arrival_window_ms, 0, CAST(NULL AS STRING), 0, 1,
       IF(late, 1, 0), 0, checked_at_ms - event_time_ms
FROM first_clicks_conversions
UNION ALL
SELECT 'bid_requests', arrival_window_ms, 0, CAST(NULL AS STRING), 0, 1, IF(late, 1, 0), 0,
       checked_at_ms - event_time_ms
FROM first_bid_requests
UNION ALL
SELECT 'clicks_conversions', arrival_window_ms, 0, CAST(NULL AS STRING), 0, 0, 0, 1,
       CAST(NULL AS BIGINT)
FROM click_attribution WHERE matched_impression_id IS NULL
UNION ALL
SELECT 'clicks_conversions', arrival_window_ms, 0, CAST(NULL AS STRING), 0, 0, 0, 1,
       CAST(NULL AS BIGINT)
FROM conversion_candidates WHERE click_id IS NULL
UNION ALL
SELECT 'bid_requests', arrival_window_ms, 0, CAST(NULL AS STRING), 0, 0, 0, 1,
       CAST(NULL AS BIGINT)
FROM first_bid_requests WHERE bid AND campaign_id IS NULL;

-- invalid_by_reason and the delay median are JVM aggregate functions (flink_jobs/java:
-- CountByFunction, MedianDelayFunction) whose accumulators are small maps that mini-batch
-- and two-phase aggregation merge: COLLECT and PERCENTILE rebuilt and sorted a whole
-- window's values on every record.
-- State lives as long as campaign_metrics_1m's (sql/metrics.sql): an unmatched conversion
-- updates its arrival window days later.
INSERT INTO dq_metrics
SELECT /*+ STATE_TTL('quality_signals' = '${aggregate_state_ttl}') */ CONCAT(source, ':', CAST(arrival_window_ms AS STRING)),
       source, arrival_window_ms, arrival_window_ms + ${dq_window_ms},
       CAST(SUM(received) AS BIGINT), CAST(SUM(first_seen) AS BIGINT), COUNT(reason),
       adx_count_by(reason), CAST(SUM(valid_any) - SUM(first_seen) AS BIGINT),
       CAST(SUM(late) AS BIGINT), CAST(SUM(unattributed) AS BIGINT),
       adx_median_delay(delay_ms), MAX(delay_ms)
FROM quality_signals
GROUP BY source, arrival_window_ms;
