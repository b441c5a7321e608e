-- One campaign minute by minute over a time range: `advertisex report --campaign ID`.
-- Minutes without any event have no row in campaign_metrics_1m and none here.
-- The report derives the ratios from these sums as in campaign_performance.sql.
-- Parameters: each literal followed by a /* :name */ marker. The values written here are
-- examples (campaign cmp-0001, 2026-11-29 09:00 to 10:00 UTC), so the query runs as it is in
-- the query console.
SELECT window_start_ms,
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
WHERE campaign_id = 'cmp-0001' /* :campaign_id */
  AND window_start_ms >= 1795942800000 /* :from_ms */
  AND window_start_ms < 1795946400000 /* :to_ms */
GROUP BY window_start_ms
ORDER BY window_start_ms
LIMIT 60 /* :limit */
