"""A PyFlink SQL job on the real session cluster, reading one Kafka topic and writing another."""

import json
import time
from pathlib import Path

import httpx
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from pyflink.table import DataTypes, Schema, TableDescriptor

from advertisex.stack.jars import resolve
from flink_jobs.session import remote_table_environment

SQL = (Path(__file__).parent / "sql" / "enrich_orders.sql").read_text()


def kafka_table(cfg, topic: str, schema: Schema, **options: str) -> TableDescriptor:
    builder = (
        TableDescriptor.for_connector("kafka")
        .schema(schema)
        .format("json")
        .option("topic", topic)
        .option("properties.bootstrap.servers", cfg.kafka_bootstrap)
    )
    for key, value in options.items():
        builder = builder.option(key, value)
    return builder.build()


def wait_for_job_state(cfg, job_id: str, state: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    current = None
    while time.monotonic() < deadline:
        current = httpx.get(f"{cfg.flink_rest_url}/jobs/{job_id}").json()["state"]
        if current == state:
            return current
        time.sleep(0.5)
    return current


def test_sql_job_kafka_to_kafka_exactly_once(flink, topic_name):
    cfg = flink
    source, sink = f"{topic_name}-in", f"{topic_name}-out"
    # A Kafka source fails its job when its topic does not exist yet.
    admin = KafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    admin.create_topics(
        [NewTopic(t, num_partitions=2, replication_factor=1) for t in (source, sink)]
    )
    admin.close()
    env = remote_table_environment(
        cfg.flink_rest_url,
        resolve("flink").glob("flink-sql-connector-kafka-*.jar"),
        options={"execution.checkpointing.interval": "1s", "pipeline.name": topic_name},
    )
    env.create_temporary_table(
        "orders_in",
        kafka_table(
            cfg,
            source,
            Schema.new_builder()
            .column("id", DataTypes.STRING())
            .column("country", DataTypes.STRING())
            .column("amount", DataTypes.INT())
            .build(),
            **{"properties.group.id": topic_name, "scan.startup.mode": "earliest-offset"},
        ),
    )
    env.create_temporary_table(
        "orders_out",
        kafka_table(
            cfg,
            sink,
            Schema.new_builder()
            .column("id", DataTypes.STRING())
            .column("country", DataTypes.STRING())
            .column("doubled", DataTypes.INT())
            .build(),
            **{
                "sink.delivery-guarantee": "exactly-once",
                "sink.transactional-id-prefix": topic_name,
            },
        ),
    )
    job_id = str(env.execute_sql(SQL).get_job_client().get_job_id())
    try:
        assert wait_for_job_state(cfg, job_id, "RUNNING") == "RUNNING"
        producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap)
        rows = [
            {"id": f"o{i}", "country": "de" if i % 2 else "fr", "amount": i - 2} for i in range(20)
        ]
        for row in rows:
            producer.send(source, json.dumps(row).encode())
        producer.flush()
        producer.close()

        expected = {
            r["id"]: {"id": r["id"], "country": r["country"].upper(), "doubled": r["amount"] * 2}
            for r in rows
            if r["amount"] >= 0
        }
        # Only committed transactions are read: the rows appear once a checkpoint completes.
        consumer = KafkaConsumer(
            sink,
            bootstrap_servers=cfg.kafka_bootstrap,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            consumer_timeout_ms=60_000,
        )
        received = []
        for message in consumer:
            received.append(json.loads(message.value))
            if len(received) == len(expected):
                break
        # Nothing more than what was expected arrives.
        extra = consumer.poll(timeout_ms=3000)
        consumer.close()

        assert {r["id"]: r for r in received} == expected
        assert len(received) == 18
        assert not any(extra.values())
    finally:
        httpx.patch(f"{cfg.flink_rest_url}/jobs/{job_id}", params={"mode": "cancel"})
    assert wait_for_job_state(cfg, job_id, "CANCELED") == "CANCELED"
