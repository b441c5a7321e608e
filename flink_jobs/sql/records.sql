-- The record outputs: the first occurrence of each id (sql/first_seen.sql), clicks and
-- conversions apart. An impression carries its invalid-traffic judgement (contract 2.6):
-- a known crawler's user agent (adx_known_crawler: flink_jobs/java KnownCrawlerFunction).

CREATE TEMPORARY VIEW first_clicks AS
SELECT * FROM first_clicks_conversions WHERE event_type = 'click';

CREATE TEMPORARY VIEW first_conversions AS
SELECT * FROM first_clicks_conversions WHERE event_type = 'conversion';

INSERT INTO impressions
SELECT r.impression_id,
       r.impression_id, r.event_time_ms, r.user_id, r.creative_id, r.campaign_id, r.website,
       r.bid_request_id, r.cost_micros, r.currency, r.device_type, r.country, r.user_agent,
       r.advertiser_id, r.campaign_name, r.campaign_status, r.campaign_daily_budget_micros,
       r.campaign_known,
       IF(r.known_crawler, 'givt', 'valid'),
       IF(r.known_crawler, 'known_crawler', CAST(NULL AS STRING))
FROM (SELECT *, adx_known_crawler(user_agent) AS known_crawler FROM first_impressions) AS r;

INSERT INTO clicks
SELECT r.event_id,
       r.event_id, r.event_time_ms, r.event_type, r.user_id, r.campaign_id, r.impression_id,
       r.advertiser_id, r.campaign_name, r.campaign_status, r.campaign_daily_budget_micros,
       r.campaign_known
FROM first_clicks AS r;

INSERT INTO conversions
SELECT r.event_id,
       r.event_id, r.event_time_ms, r.event_type, r.user_id, r.campaign_id, r.impression_id,
       r.conversion_type, r.conversion_value, r.currency,
       r.advertiser_id, r.campaign_name, r.campaign_status, r.campaign_daily_budget_micros,
       r.campaign_known
FROM first_conversions AS r;

INSERT INTO bid_requests
SELECT r.request_id,
       r.request_id, r.event_time_ms, r.exchange, r.auction_type, r.bid_floor_micros,
       r.currency, r.user_id, r.user_segments, r.age_range, r.gender, r.device_type, r.os,
       r.user_agent, r.ip, r.country, r.site_domain, r.page_url, r.site_categories,
       r.targeted_campaign_ids, r.keywords, r.bid, r.won, r.bid_price_micros,
       r.clearing_price_micros, r.campaign_id, r.creative_id,
       r.advertiser_id, r.campaign_name, r.campaign_status, r.campaign_daily_budget_micros,
       r.campaign_known
FROM first_bid_requests AS r;
