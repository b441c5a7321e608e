-- Stage 2, one view per source (the driver fills ${source}, its id field ${id} and the
-- mode's ${first_occurrence}): the first occurrence of each id wins (contract 2.3); later
-- ones are duplicates, counted in dq_metrics.
--
-- Streaming: adx_first_seen (flink_jobs/java FirstSeenFunction), a process table function
-- that passes the first row of an id on at once, insert-only with its rowtime attribute (so
-- a record leaves with no watermark wait and the joins downstream can use it), and forgets
-- the id when the watermark passes its event time plus the dedup horizon: state bounded by
-- event time. Batch: ROW_NUMBER over file name then line, the first in file order.

-- Only what the stages after this read: the function's input is not pruned for it.
CREATE TEMPORARY VIEW valid_${source} AS
SELECT ${record_columns}, checked_at_ms, arrival_window_ms, late, rowtime, file_name, file_line
FROM checked_${source} WHERE reason IS NULL;

CREATE TEMPORARY VIEW first_${source} AS
${first_occurrence};
