"""The pipeline's Kafka tables as descriptors: connection settings are options, not text
pasted into SQL, and columns come from the schema files."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pyflink.table import DataTypes, Schema, TableDescriptor
from pyflink.table.types import DataType

from advertisex.contract.topics import RAW_TOPICS, output_topics
from advertisex.kafka_admin import TopicSpec
from flink_jobs.schema_types import output_fields, validated_fields

# Stage 1 writes every message, checked, here; stage 2 reads it (internal to the job).
CHECKED_TOPICS = {source: f"checked-{topic}" for source, topic in RAW_TOPICS.items()}
ID_FIELD = {
    "impressions": "impression_id",
    "clicks_conversions": "event_id",
    "bid_requests": "request_id",
}


class KafkaOptions(BaseModel):
    bootstrap: str
    out_of_orderness_s: int = Field(10, ge=0, description="how far the watermark trails")
    group_id: str = "advertisex-pipeline"
    topic_prefix: str = Field("", description="put before every topic name (isolated runs)")
    startup_mode: str = Field("group-offsets", description="where a new job starts reading")
    transactional_prefix: str = "advertisex-pipeline"


def _kafka(options: KafkaOptions, topic: str) -> TableDescriptor.Builder:
    return (
        TableDescriptor.for_connector("kafka")
        .option("topic", options.topic_prefix + topic)
        .option("properties.bootstrap.servers", options.bootstrap)
    )


def _kafka_source(options: KafkaOptions, topic: str) -> TableDescriptor.Builder:
    return (
        _kafka(options, topic)
        .option("properties.group.id", options.group_id)
        .option("scan.startup.mode", options.startup_mode)
        # A group without committed offsets (the first run) starts at the beginning.
        .option("properties.auto.offset.reset", "earliest")
        # Only what upstream transactions committed: exactly once end to end.
        .option("properties.isolation.level", "read_committed")
    )


def raw_source(options: KafkaOptions, source: str) -> TableDescriptor:
    """A raw topic: each message's bytes and where it was (for dead letters)."""
    schema = (
        Schema.new_builder()
        .column("payload", DataTypes.BYTES())
        .column_by_metadata("kafka_topic", DataTypes.STRING(), "topic", True)
        .column_by_metadata("kafka_partition", DataTypes.INT(), "partition", True)
        .column_by_metadata("kafka_offset", DataTypes.BIGINT(), "offset", True)
        .build()
    )
    return _kafka_source(options, RAW_TOPICS[source]).schema(schema).format("raw").build()


def _json_sink(
    options: KafkaOptions, topic: str, fields: list[tuple[str, DataType]], key: str, name: str
) -> TableDescriptor:
    schema = Schema.new_builder()
    for field, data_type in fields:
        schema = schema.column(field, data_type)
    return (
        _kafka(options, topic)
        .schema(schema.build())
        .option("key.format", "raw")
        .option("key.fields", key)
        .option("value.format", "json")
        .option("value.fields-include", "ALL")
        .option("value.json.encode.decimal-as-plain-number", "true")
        # Transactions: downstream read_committed readers see each record exactly once.
        .option("sink.delivery-guarantee", "exactly-once")
        .option("sink.transactional-id-prefix", f"{options.transactional_prefix}-{name}")
        .build()
    )


def pipeline_topics(options: KafkaOptions, partitions: int = 4) -> list[TopicSpec]:
    """The topics the job writes: its internal checked-* topics and the outputs. Sources
    do not create topics, so they must exist before the job starts."""
    day = str(24 * 3_600_000)
    names = [*CHECKED_TOPICS.values(), *output_topics().values()]
    return [
        TopicSpec(
            options.topic_prefix + name,
            partitions,
            {"retention.ms": day} if name in CHECKED_TOPICS.values() else {},
        )
        for name in names
    ]


def checked_fields(source: str) -> list[tuple[str, DataType]]:
    return [
        ("reason", DataTypes.STRING()),
        ("detail", DataTypes.STRING()),
        ("raw_payload", DataTypes.STRING()),
        ("payload_encoding", DataTypes.STRING()),
        ("kafka_topic", DataTypes.STRING()),
        ("kafka_partition", DataTypes.INT()),
        ("kafka_offset", DataTypes.BIGINT()),
        *validated_fields(source),
    ]


def checked_sink(options: KafkaOptions, source: str) -> TableDescriptor:
    return _json_sink(
        options,
        CHECKED_TOPICS[source],
        checked_fields(source),
        ID_FIELD[source],
        f"checked-{source}",
    )


def _event_time(schema: Schema.Builder, millis: str, lag_s: int) -> Schema.Builder:
    """rowtime from an epoch-millis column, a watermark lag_s behind the highest seen, and
    the processing time (first-wins deduplication orders by arrival)."""
    return (
        schema.column_by_expression("rowtime", f"TO_TIMESTAMP_LTZ(COALESCE({millis}, 0), 3)")
        .column_by_expression("proc_time", "PROCTIME()")
        .watermark("rowtime", f"rowtime - INTERVAL '{int(lag_s)}' SECOND")
    )


def checked_source(options: KafkaOptions, source: str) -> TableDescriptor:
    schema = Schema.new_builder()
    for field, data_type in checked_fields(source):
        schema = schema.column(field, data_type)
    # Rejected messages have no event time: COALESCE puts them at 0, below any watermark.
    schema = _event_time(schema, "event_time_ms", options.out_of_orderness_s)
    return (
        _kafka_source(options, CHECKED_TOPICS[source]).schema(schema.build()).format("json").build()
    )


def output_sink(options: KafkaOptions, name: str) -> TableDescriptor:
    fields = output_fields(name)
    key = {"dead_letters": "dead_letter_id"}.get(name) or fields[0][0]
    return _json_sink(options, output_topics()[name], fields, key, name)
