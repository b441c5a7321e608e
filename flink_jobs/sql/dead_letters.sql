-- Rejected messages become dead letters, keyed by where the message was, so a replay
-- after a restart rewrites the same keys. The reason is the JVM check's; the human detail
-- and the payload as text (or base64) come from the Python reference (flink_jobs/udfs.py),
-- which only rejected messages reach.

CREATE TEMPORARY VIEW rejected AS
SELECT 'impressions' AS source, checked_at_ms, reason, payload,
       kafka_topic, kafka_partition, kafka_offset, file_name, file_line
FROM checked_impressions WHERE reason IS NOT NULL
UNION ALL
SELECT 'clicks_conversions', checked_at_ms, reason, payload,
       kafka_topic, kafka_partition, kafka_offset, file_name, file_line
FROM checked_clicks_conversions WHERE reason IS NOT NULL
UNION ALL
SELECT 'bid_requests', checked_at_ms, reason, payload,
       kafka_topic, kafka_partition, kafka_offset, file_name, file_line
FROM checked_bid_requests WHERE reason IS NOT NULL;

INSERT INTO dead_letters
SELECT dead_letter_id, dead_letter_id, source, reason, e.detail, e.raw_payload,
       e.payload_encoding, kafka_topic, CAST(kafka_partition AS BIGINT), kafka_offset,
       file_name, file_line, checked_at_ms
FROM (
  SELECT *,
         explain_rejection(source, reason, payload) AS e,
         COALESCE(
           CONCAT(kafka_topic, ':', CAST(kafka_partition AS STRING), ':',
                  CAST(kafka_offset AS STRING)),
           CONCAT(file_name, ':', CAST(file_line AS STRING))) AS dead_letter_id
  FROM rejected
);
