-- Stage 1: every raw message is decoded, checked against the contract's rules,
-- standardized and enriched with its campaign by a Python UDF (flink_jobs/udfs.py, rules
-- in advertisex/contract/rules.py), called once per message. Each message leaves as one checked record: its rejection
-- (reason, detail, raw payload) or its standardized fields, with where it was read.

INSERT INTO checked_impressions
SELECT v.reason, v.detail, v.raw_payload, v.payload_encoding,
       kafka_topic, kafka_partition, kafka_offset,
       v.impression_id, v.event_time_ms, v.user_id, v.creative_id, v.campaign_id, v.website,
       v.bid_request_id, v.cost_micros, v.currency, v.device_type, v.country, v.user_agent,
       v.advertiser_id, v.campaign_name, v.campaign_status, v.campaign_daily_budget_micros,
       v.campaign_known
FROM (
  SELECT validate_impressions(payload) AS v, kafka_topic, kafka_partition, kafka_offset
  FROM raw_impressions
);

INSERT INTO checked_clicks_conversions
SELECT v.reason, v.detail, v.raw_payload, v.payload_encoding,
       kafka_topic, kafka_partition, kafka_offset,
       v.event_id, v.event_time_ms, v.event_type, v.user_id, v.campaign_id, v.impression_id,
       v.conversion_type, v.conversion_value, v.currency,
       v.advertiser_id, v.campaign_name, v.campaign_status, v.campaign_daily_budget_micros,
       v.campaign_known
FROM (
  SELECT validate_clicks_conversions(payload) AS v, kafka_topic, kafka_partition, kafka_offset
  FROM raw_clicks_conversions
);

INSERT INTO checked_bid_requests
SELECT v.reason, v.detail, v.raw_payload, v.payload_encoding,
       kafka_topic, kafka_partition, kafka_offset,
       v.request_id, v.event_time_ms, v.exchange, v.auction_type, v.bid_floor_micros,
       v.currency, v.user_id, v.user_segments, v.age_range, v.gender, v.device_type, v.os,
       v.user_agent, v.ip, v.country, v.site_domain, v.page_url, v.site_categories,
       v.targeted_campaign_ids, v.keywords, v.bid, v.won, v.bid_price_micros,
       v.clearing_price_micros, v.campaign_id, v.creative_id,
       v.advertiser_id, v.campaign_name, v.campaign_status, v.campaign_daily_budget_micros,
       v.campaign_known
FROM (
  SELECT validate_bid_requests(payload) AS v, kafka_topic, kafka_partition, kafka_offset
  FROM raw_bid_requests
);
