"""Pinot on the real stack: a REALTIME table consuming our Kafka, queried with pinotdb."""

import json
import time

import pinotdb
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from pinot_sql import query  # tests/pinot_sql.py

from advertisex.serving.pinot_admin import JSON_DECODER, KAFKA_CONSUMER_FACTORY, PinotAdmin


def realtime_table(name: str, topic: str, bootstrap: str) -> dict:
    return {
        "tableName": name,
        "tableType": "REALTIME",
        "segmentsConfig": {
            "schemaName": name,
            "timeColumnName": "ts",
            "replication": "1",
            "replicasPerPartition": "1",
        },
        "tenants": {},
        "tableIndexConfig": {
            "loadMode": "MMAP",
            "streamConfigs": {
                "streamType": "kafka",
                "stream.kafka.consumer.type": "lowlevel",
                "stream.kafka.topic.name": topic,
                "stream.kafka.broker.list": bootstrap,
                "stream.kafka.consumer.factory.class.name": KAFKA_CONSUMER_FACTORY,
                "stream.kafka.decoder.class.name": JSON_DECODER,
                "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
                "realtime.segment.flush.threshold.rows": "100000",
            },
        },
        "metadata": {},
    }


def wait_for_rows(cfg, table: str, count: int, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        try:
            rows = query(cfg, f"SELECT COUNT(*) FROM {table}")
        except pinotdb.exceptions.DatabaseError:
            rows = []  # the table's consuming segments are still being created
        seen = rows[0][0] if rows else -1
        if seen >= count:
            return seen
        time.sleep(0.5)
    return seen


def test_realtime_table_consumes_kafka_and_answers_sql(pinot, topic_name):
    cfg = pinot
    table = topic_name.replace("-", "_")
    admin = KafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    admin.create_topics([NewTopic(topic_name, num_partitions=2, replication_factor=1)])
    admin.close()

    pinot_admin = PinotAdmin(cfg.pinot_controller_url)
    pinot_admin.add_schema(
        {
            "schemaName": table,
            "dimensionFieldSpecs": [
                {"name": "id", "dataType": "STRING"},
                {"name": "campaign", "dataType": "STRING"},
            ],
            "metricFieldSpecs": [{"name": "cost", "dataType": "LONG"}],
            "dateTimeFieldSpecs": [
                {
                    "name": "ts",
                    "dataType": "LONG",
                    "format": "1:MILLISECONDS:EPOCH",
                    "granularity": "1:MILLISECONDS",
                }
            ],
        }
    )
    pinot_admin.add_table(realtime_table(table, topic_name, cfg.kafka_bootstrap))
    try:
        producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap)
        now = int(time.time() * 1000)
        rows = [
            {"id": f"imp-{i:03d}", "campaign": f"c{i % 3}", "cost": 1000 + i, "ts": now + i}
            for i in range(30)
        ]
        for row in rows:
            producer.send(topic_name, key=row["id"].encode(), value=json.dumps(row).encode())
        producer.flush()
        producer.close()

        assert wait_for_rows(cfg, table, len(rows)) == 30
        per_campaign = query(
            cfg,
            f"SELECT campaign, COUNT(*), SUM(cost) FROM {table} "
            "GROUP BY campaign ORDER BY campaign",
        )
        assert [(c, int(n), int(s)) for c, n, s in per_campaign] == [
            (f"c{k}", 10, sum(1000 + i for i in range(30) if i % 3 == k)) for k in range(3)
        ]
        ids = [r[0] for r in query(cfg, f"SELECT id FROM {table} ORDER BY id LIMIT 100")]
        assert ids == [r["id"] for r in rows]
    finally:
        pinot_admin.delete_table(table)
        pinot_admin.delete_schema(table)
        pinot_admin.close()
