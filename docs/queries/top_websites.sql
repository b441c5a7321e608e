-- The websites with the most impressions over a time range: `advertisex report --top N`.
-- Impressions whose event time is in [from, to); spend = spend_micros / 1e6.
-- Parameters: each literal followed by a /* :name */ marker. The values written here are
-- examples (2026-11-29 09:00 to 10:00 UTC), so the query runs as it is in the query console.
SELECT website,
       COUNT(*) AS impressions,
       SUM(cost_micros) AS spend_micros
FROM impressions
WHERE event_time_ms >= 1795942800000 /* :from_ms */
  AND event_time_ms < 1795946400000 /* :to_ms */
GROUP BY website
ORDER BY COUNT(*) DESC, website
LIMIT 10 /* :top */
