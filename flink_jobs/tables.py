"""The pipeline's source and sink tables as descriptors: connection settings are options,
not text pasted into SQL, and columns come from the schema files.

The SQL sees the same tables in both modes:
- `raw_<source>`: one row per message: `payload` (bytes), where it was read
  (`kafka_topic`, `kafka_partition`, `kafka_offset` or `file_name`, `file_line`), `rowtime`
  (the record's own event_time, read from the payload by the JVM function adx_event_time:
  contract 2.5) with the watermark on it, and `proc_time`.
- one sink per output: `record_key` (the Kafka key, not part of the value) then the output
  schema's fields.

Streaming reads and writes Kafka; batch reads the staged input (flink_jobs/batch_input.py)
and writes JSON Lines files. What differs between the modes in the SQL (which record is
first, what is late) comes from the tables' sql_parameters().
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyflink.table import DataTypes, Schema, TableDescriptor

from advertisex.contract.topics import RAW_TOPICS, output_topics, upsert_outputs
from advertisex.kafka_admin import TopicSpec
from flink_jobs.schema_types import output_fields

# Outputs whose rows are updated after they are first written: upserts keyed by record_key.
UPSERT_OUTPUTS = upsert_outputs()


# Client properties the tables set from their own options.
MANAGED_PROPERTIES = ("bootstrap.servers", "group.id", "auto.offset.reset", "isolation.level")
# flink-sql-connector-kafka (advertisex/stack/jvm/flink/pom.xml) carries the Kafka client
# relocated under this package: the login module that sasl.jaas.config names must be the
# relocated class, the original is not on Flink's class path.
SHADED_PREFIX = "org.apache.flink.kafka.shaded."


def connector_properties(properties: dict[str, str]) -> dict[str, str]:
    """properties as the connector's relocated Kafka client reads them."""
    jaas = properties.get("sasl.jaas.config", "").lstrip()
    if jaas.startswith("org.apache.kafka."):
        return {**properties, "sasl.jaas.config": SHADED_PREFIX + jaas}
    return dict(properties)


class KafkaOptions(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)  # properties may hold a password

    bootstrap: str
    out_of_orderness_s: int = Field(10, ge=0, description="how far the watermark trails")
    group_id: str = "advertisex-pipeline"
    topic_prefix: str = Field("", description="put before every topic name (isolated runs)")
    startup_mode: str = Field("group-offsets", description="where a new job starts reading")
    transactional_prefix: str = "advertisex-pipeline"
    max_drift_s: int | None = Field(
        None,
        gt=0,
        description="watermark alignment: how far a partition may read ahead (default: off)",
    )
    properties: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description="Kafka client properties of every table (advertisex/kafka_auth.py)",
    )

    @field_validator("properties")
    @classmethod
    def _not_managed(cls, properties: dict[str, str]) -> dict[str, str]:
        prefixed = sorted(key for key in properties if key.startswith("properties."))
        if prefixed:
            raise ValueError(
                f"Kafka properties {', '.join(prefixed)}: give client properties without "
                "the `properties.` prefix, the tables add it"
            )
        taken = sorted(key for key in properties if key in MANAGED_PROPERTIES)
        if taken:
            raise ValueError(
                f"Kafka properties {', '.join(taken)}: the tables set these from their own options"
            )
        return properties


# The JVM function a raw table's rowtime calls (io.advertisex.flink.EventTimeFunction).
EVENT_TIME_FUNCTION = "adx_event_time"


def _event_time(
    schema: Schema.Builder,
    source: str,
    out_of_orderness_s: int,
    payload: str = "payload",
    proc_time: str = "PROCTIME()",
) -> Schema.Builder:
    """rowtime from the payload, and the watermark on it: generated inside the source, per
    partition (Flink pushes a computed rowtime's watermark into the Kafka source). payload
    is an expression of physical columns (a computed column cannot use another)."""
    return (
        schema.column_by_expression("rowtime", f"{EVENT_TIME_FUNCTION}('{source}', {payload})")
        .column_by_expression("proc_time", proc_time)
        .watermark("rowtime", f"rowtime - INTERVAL '{int(out_of_orderness_s)}' SECOND")
    )


def _output_schema(name: str, primary_key: bool) -> Schema:
    schema = Schema.new_builder().column("record_key", DataTypes.STRING().not_null())
    for field, data_type in output_fields(name):
        schema = schema.column(field, data_type)
    if primary_key:
        schema = schema.primary_key("record_key")
    return schema.build()


class KafkaTables:
    """Streaming: raw topics in, output topics out, exactly once."""

    def __init__(self, options: KafkaOptions):
        self.options = options

    def _topic(self, connector: str, topic: str) -> TableDescriptor.Builder:
        builder = (
            TableDescriptor.for_connector(connector)
            .option("topic", self.options.topic_prefix + topic)
            .option("properties.bootstrap.servers", self.options.bootstrap)
        )
        # Security (protocol, SASL): every source and sink, and the admin clients they make.
        for key, value in connector_properties(self.options.properties).items():
            builder = builder.option(f"properties.{key}", value)
        return builder

    def raw_source(self, source: str) -> TableDescriptor:
        schema = (
            Schema.new_builder()
            .column("payload", DataTypes.BYTES())
            .column_by_metadata("kafka_topic", DataTypes.STRING(), "topic", True)
            .column_by_metadata("kafka_partition", DataTypes.INT(), "partition", True)
            .column_by_metadata("kafka_offset", DataTypes.BIGINT(), "offset", True)
            .column_by_expression("file_name", "CAST(NULL AS STRING)")
            .column_by_expression("file_line", "CAST(NULL AS BIGINT)")
        )
        # The message timestamp is not read: producers leave it as their client sets it.
        schema = _event_time(schema, source, self.options.out_of_orderness_s)
        builder = (
            self._topic("kafka", RAW_TOPICS[source])
            .schema(schema.build())
            .format("raw")
            # A watermark after every record, not every 200 ms: on a backlog, records read
            # between two periodic watermarks would be judged against a stale one.
            .option("scan.watermark.emit.strategy", "on-event")
            .option("properties.group.id", self.options.group_id)
            .option("scan.startup.mode", self.options.startup_mode)
            # A group without committed offsets (the first run) starts at the beginning.
            .option("properties.auto.offset.reset", "earliest")
            # Only what upstream transactions committed: exactly once end to end.
            .option("properties.isolation.level", "read_committed")
        )
        if self.options.max_drift_s is not None:
            # Partitions (and the three sources) read in step: a reader pauses a partition
            # this far ahead of the slowest, so on a backlog the joins do not hold a fast
            # partition's records for the others' sake. Off by default: in Flink 2.2 a split
            # that goes idle while paused is never resumed, though records wait on it
            # (FLINK-40093, fixed after 2.2); a job started before its traffic, or one whose
            # traffic pauses for longer than the idle timeout, then stops reading for good.
            # The watermark is a minimum over partitions and sources either way, so without
            # alignment no record becomes late for running behind: only join state grows.
            builder = (
                builder.option("scan.watermark.alignment.group", "advertisex-raw")
                .option("scan.watermark.alignment.max-drift", f"{self.options.max_drift_s} s")
                .option("scan.watermark.alignment.update-interval", "250 ms")
            )
        return builder.build()

    def sql_parameters(self, out_of_orderness: str) -> dict[str, str]:
        """Streaming: campaign-minutes are running totals and the last click per conversion
        a running best, both forgotten by event time (sql/metrics.sql, sql/correlate.sql); a
        record is late when it is behind its partition's watermark on arrival, that is more
        than the out-of-orderness behind the highest event time its partition has brought so
        far.
        That is kept as state per partition rather than asked of CURRENT_WATERMARK: the
        operator's watermark is a minimum over the partitions a reader holds and moves in
        steps that depend on how they were fetched, so the same backlog would be judged
        differently from run to run."""
        return {
            "campaign_minutes": "campaign_minutes_timed",
            "last_click": "last_click_timed",
            "late": (
                "rowtime < MAX(rowtime) OVER (PARTITION BY kafka_partition ORDER BY proc_time "
                f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - {out_of_orderness}"
            ),
        }

    def first_occurrence(self, source: str, key: str, horizon: str) -> str:
        """The first valid record of each id (sql/first_seen.sql): the first to arrive,
        remembered until the watermark passes its event time plus the horizon (an INTERVAL
        literal). adx_first_seen: flink_jobs/java FirstSeenFunction."""
        return (
            f"SELECT * FROM adx_first_seen(input => TABLE valid_{source} PARTITION BY {key}, "
            f"horizon => {horizon}, uid => 'first-{source}')"
        )

    def output_sink(self, name: str) -> TableDescriptor:
        upsert = name in UPSERT_OUTPUTS
        builder = self._topic("upsert-kafka" if upsert else "kafka", output_topics()[name])
        builder = builder.schema(_output_schema(name, upsert))
        if upsert:
            # Aggregates update per record; a second's updates of a key leave as one.
            builder = builder.option("sink.buffer-flush.max-rows", "2000")
            builder = builder.option("sink.buffer-flush.interval", "1 s")
        else:
            builder = builder.option("key.fields", "record_key")
        return (
            builder.option("key.format", "raw")
            .option("key.fields-prefix", "record_")
            .option("value.format", "json")
            .option("value.fields-include", "EXCEPT_KEY")
            .option("value.json.encode.decimal-as-plain-number", "true")
            # Transactions: read_committed readers see each record exactly once.
            .option("sink.delivery-guarantee", "exactly-once")
            .option("sink.transactional-id-prefix", f"{self.options.transactional_prefix}-{name}")
            # Reuse a small pool of transactional ids (Kafka 3.0+) instead of a new id and
            # producer per checkpoint, which the broker keeps state for.
            .option("sink.transaction-naming-strategy", "POOLING")
            # Records are visible at the checkpoint's commit anyway: wait a little to send
            # fuller batches (fewer requests for the broker), within the transaction.
            .option("properties.linger.ms", "50")
            .option("properties.batch.size", str(256 * 1024))
            .build()
        )

    def topics(self, partitions: int = 4) -> list[TopicSpec]:
        """The output topics: Kafka sources and sinks do not create topics."""
        return [
            TopicSpec(
                self.options.topic_prefix + topic,
                partitions,
                # An upsert topic keeps the latest row per key.
                {"cleanup.policy": "compact"} if name in UPSERT_OUTPUTS else {},
            )
            for name, topic in output_topics().items()
        ]


class FileTables:
    """Batch: the staged input folder in, one JSON Lines folder per output out. Flink's batch
    runtime gives every aggregate and join its final rows, so updated outputs need no
    changelog."""

    def __init__(self, staged: Path, written: Path, out_of_orderness_s: int = 10):
        self.staged, self.written = Path(staged), Path(written)
        self.out_of_orderness_s = out_of_orderness_s

    def raw_source(self, source: str) -> TableDescriptor:
        schema = (
            Schema.new_builder()
            # Bytes travel in base64, which the JSON format reads into BYTES
            # (flink_jobs/batch_input.py).
            .column("payload", DataTypes.BYTES())
            .column("file_name", DataTypes.STRING())
            .column("file_line", DataTypes.BIGINT())
            .column_by_expression("kafka_topic", "CAST(NULL AS STRING)")
            .column_by_expression("kafka_partition", "CAST(NULL AS INT)")
            .column_by_expression("kafka_offset", "CAST(NULL AS BIGINT)")
        )
        # Batch has no processing time to order by (its SQL does not use it: the first
        # is the file order): the column is there so that both modes share one SQL.
        schema = _event_time(
            schema, source, self.out_of_orderness_s, proc_time="CAST(NULL AS TIMESTAMP_LTZ(3))"
        )
        return (
            TableDescriptor.for_connector("filesystem")
            .schema(schema.build())
            .option("path", str(self.staged / source))
            .format("json")
            .build()
        )

    def sql_parameters(self, out_of_orderness: str) -> dict[str, str]:
        """Batch knows its whole input: nothing is late, every campaign-minute is final once (a
        GROUP BY), and the last click per conversion is ranked once (ROW_NUMBER)."""
        return {
            "campaign_minutes": "campaign_minutes_grouped",
            "last_click": "last_click_ranked",
            "late": "FALSE",
        }

    def first_occurrence(self, source: str, key: str, horizon: str) -> str:
        """The first valid record of each id in file-name then line order: the whole input is
        known, so the horizon is not needed to bound state."""
        return (
            f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {key} "
            f"ORDER BY file_name, file_line) AS arrival FROM valid_{source}) WHERE arrival = 1"
        )

    def output_sink(self, name: str) -> TableDescriptor:
        return (
            TableDescriptor.for_connector("filesystem")
            .schema(_output_schema(name, primary_key=False))
            .option("path", str(self.written / name))
            .format("json")
            .option("json.encode.decimal-as-plain-number", "true")
            .build()
        )
