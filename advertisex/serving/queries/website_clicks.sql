-- Attributed clicks per website over a time range, for the websites of top_websites.sql
-- (Pinot's single-stage engine has no joins: the report merges the two answers by website).
-- Clicks whose event time is in [from, to), attributed to an impression on that website.
-- Parameters: each literal followed by a /* :name */ marker. The values written here are
-- examples (2026-11-29 09:00 to 10:00 UTC), so the query runs as it is in the query console.
SELECT website,
       COUNT(*) AS clicks
FROM attributed_clicks
WHERE event_time_ms >= 1795942800000 /* :from_ms */
  AND event_time_ms < 1795946400000 /* :to_ms */
  AND website IN ('site0001.example.com', 'news0000.example.org') /* :websites */
GROUP BY website
ORDER BY website
LIMIT 2 /* :limit */
