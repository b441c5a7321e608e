-- Stage 2 (first part): rejected messages become dead letters, keyed by where the message
-- was, so a replay after a restart rewrites the same keys.

INSERT INTO dead_letters
SELECT CONCAT(kafka_topic, ':', CAST(kafka_partition AS STRING), ':',
              CAST(kafka_offset AS STRING)),
       source, reason, detail, raw_payload, payload_encoding,
       kafka_topic, CAST(kafka_partition AS BIGINT), kafka_offset,
       CAST(NULL AS STRING), CAST(NULL AS BIGINT),
       UNIX_TIMESTAMP() * 1000
FROM (
  SELECT 'impressions' AS source, reason, detail, raw_payload, payload_encoding,
         kafka_topic, kafka_partition, kafka_offset
  FROM checked_impressions_in
  UNION ALL
  SELECT 'clicks_conversions', reason, detail, raw_payload, payload_encoding,
         kafka_topic, kafka_partition, kafka_offset
  FROM checked_clicks_conversions_in
  UNION ALL
  SELECT 'bid_requests', reason, detail, raw_payload, payload_encoding,
         kafka_topic, kafka_partition, kafka_offset
  FROM checked_bid_requests_in
)
WHERE reason IS NOT NULL;
