-- Stage 1, one view per source (the driver fills ${source} and the validated columns from
-- the output schema files): every raw message is decoded, checked against the contract's
-- rules, standardized and enriched with its campaign by a JVM function
-- (adx_check_<source>: flink_jobs/java, the port of advertisex/contract, which stays the
-- reference). The driver registers the view from a Table object, so the planner computes it
-- once for all its readers and the function runs once per message.
--
-- rowtime is the record's own event_time, read at the source (flink_jobs/tables.py), so
-- the watermark comes from the payloads per raw partition and nothing between the source
-- and the joins re-orders records. late (${late}) is judged before anything else: in
-- streaming, behind the partition's watermark on arrival; in batch, never.

CREATE TEMPORARY VIEW checked_${source} AS
SELECT v.reason, v.checked_at_ms, payload,
       kafka_topic, kafka_partition, kafka_offset, file_name, file_line,
       ${validated_columns},
       v.checked_at_ms - MOD(v.checked_at_ms, ${dq_window_ms}) AS arrival_window_ms,
       late, rowtime, proc_time
FROM (
  SELECT adx_check_${source}(payload) AS v, * FROM (
    SELECT *, ${late} AS late FROM raw_${source}
  )
);
