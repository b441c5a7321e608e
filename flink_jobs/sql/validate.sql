-- Stage 1: every raw message is decoded, checked against the contract's rules,
-- standardized and enriched with its campaign by a Python UDF (flink_jobs/udfs.py, rules
-- in advertisex/contract/rules.py). The driver registers each view from a Table object,
-- so the planner computes it once for all its readers and the UDF runs once per message.
-- rowtime is the message timestamp (the producer's event time), so the watermark comes
-- from the raw partitions and this stage keeps their order: nothing between the source
-- and the joins re-orders records.

-- late: behind its partition's watermark on arrival, that is more than the allowed
-- out-of-orderness behind the highest event time its partition has brought so far. Kept
-- as state per partition rather than asked of CURRENT_WATERMARK: the operator's watermark
-- moves in steps whose size depends on how records were fetched and buffered, so the
-- same backlog would be judged differently from run to run. It is passed through the UDF.

CREATE TEMPORARY VIEW checked_impressions AS
SELECT v.checked_at_ms, v.reason, v.detail, v.raw_payload, v.payload_encoding,
       kafka_topic, kafka_partition, kafka_offset, file_name, file_line,
       v.impression_id, v.event_time_ms, v.user_id, v.creative_id, v.campaign_id, v.website,
       v.bid_request_id, v.cost_micros, v.currency, v.device_type, v.country, v.user_agent,
       v.advertiser_id, v.campaign_name, v.campaign_status, v.campaign_daily_budget_micros,
       v.campaign_known,
       v.checked_at_ms - MOD(v.checked_at_ms, ${dq_window_ms}) AS arrival_window_ms,
       v.late,
       rowtime, proc_time
FROM (
  SELECT validate_impressions(payload, late) AS v, * FROM (
    SELECT *, rowtime < MAX(rowtime) OVER (
                PARTITION BY kafka_partition ORDER BY proc_time
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - ${out_of_orderness} AS late
    FROM raw_impressions
  )
);

CREATE TEMPORARY VIEW checked_clicks_conversions AS
SELECT v.checked_at_ms, v.reason, v.detail, v.raw_payload, v.payload_encoding,
       kafka_topic, kafka_partition, kafka_offset, file_name, file_line,
       v.event_id, v.event_time_ms, v.event_type, v.user_id, v.campaign_id, v.impression_id,
       v.conversion_type, v.conversion_value, v.currency,
       v.advertiser_id, v.campaign_name, v.campaign_status, v.campaign_daily_budget_micros,
       v.campaign_known,
       v.checked_at_ms - MOD(v.checked_at_ms, ${dq_window_ms}) AS arrival_window_ms,
       v.late,
       rowtime, proc_time
FROM (
  SELECT validate_clicks_conversions(payload, late) AS v, * FROM (
    SELECT *, rowtime < MAX(rowtime) OVER (
                PARTITION BY kafka_partition ORDER BY proc_time
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - ${out_of_orderness} AS late
    FROM raw_clicks_conversions
  )
);

CREATE TEMPORARY VIEW checked_bid_requests AS
SELECT v.checked_at_ms, v.reason, v.detail, v.raw_payload, v.payload_encoding,
       kafka_topic, kafka_partition, kafka_offset, file_name, file_line,
       v.request_id, v.event_time_ms, v.exchange, v.auction_type, v.bid_floor_micros,
       v.currency, v.user_id, v.user_segments, v.age_range, v.gender, v.device_type, v.os,
       v.user_agent, v.ip, v.country, v.site_domain, v.page_url, v.site_categories,
       v.targeted_campaign_ids, v.keywords, v.bid, v.won, v.bid_price_micros,
       v.clearing_price_micros, v.campaign_id, v.creative_id,
       v.advertiser_id, v.campaign_name, v.campaign_status, v.campaign_daily_budget_micros,
       v.campaign_known,
       v.checked_at_ms - MOD(v.checked_at_ms, ${dq_window_ms}) AS arrival_window_ms,
       v.late,
       rowtime, proc_time
FROM (
  SELECT validate_bid_requests(payload, late) AS v, * FROM (
    SELECT *, rowtime < MAX(rowtime) OVER (
                PARTITION BY kafka_partition ORDER BY proc_time
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - ${out_of_orderness} AS late
    FROM raw_bid_requests
  )
);
