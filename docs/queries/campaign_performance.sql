-- Campaign performance over a time range, one row per campaign: `advertisex report`.
-- Sums over the campaign's minutes in campaign_metrics_1m whose window starts in [from, to).
-- The report derives the ratios from these sums: spend = spend_micros / 1e6,
-- CTR = clicks / impressions, CVR = conversions / clicks, CPM = spend / impressions * 1000,
-- CPC = spend / clicks, CPA = spend / conversions, win rate = wins / bids.
-- ORDER BY names the alias: Pinot puts an alias's expression in place of the name there,
-- so SUM(spend_micros) would become SUM(SUM(spend_micros)).
-- Parameters: each literal followed by a /* :name */ marker. The values written here are
-- examples (2026-11-29 09:00 to 10:00 UTC), so the query runs as it is in the query console.
SELECT campaign_id, advertiser_id, campaign_name,
       SUM(impressions) AS impressions,
       SUM(clicks) AS clicks,
       SUM(attributed_clicks) AS attributed_clicks,
       SUM(unattributed_clicks) AS unattributed_clicks,
       SUM(conversions) AS conversions,
       SUM(conversion_value) AS conversion_value,
       SUM(spend_micros) AS spend_micros,
       SUM(bids) AS bids,
       SUM(wins) AS wins
FROM campaign_metrics_1m
WHERE window_start_ms >= 1795942800000 /* :from_ms */
  AND window_start_ms < 1795946400000 /* :to_ms */
GROUP BY campaign_id, advertiser_id, campaign_name
ORDER BY spend_micros DESC, campaign_id
LIMIT 1000 /* :limit */
