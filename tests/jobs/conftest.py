"""Fixtures for the job-client tests: the count-keys job on the real session cluster."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from advertisex.jobs.flink_rest import TERMINAL_STATES, FlinkRest, UnknownJob
from advertisex.jobs.submit import submit_python_job
from advertisex.stack.jars import resolve

COUNT_KEYS_JOB = Path(__file__).parent / "count_keys_job.py"


class CountKeys:
    """The count-keys job's topics, and the jobs submitted for them (cancelled at the end)."""

    def __init__(self, cfg, topic: str):
        self.cfg = cfg
        self.source, self.sink = f"{topic}-in", f"{topic}-out"
        self.rest = FlinkRest(cfg.flink_rest_url)
        self.job_ids: list[str] = []
        admin = KafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
        # The Kafka source fails at once on a topic that does not exist yet.
        admin.create_topics([NewTopic(self.source, num_partitions=1, replication_factor=1)])
        admin.close()

    def submit(self, startup_mode: str = "earliest-offset", **options) -> str:
        job_id = submit_python_job(
            self.cfg.flink_rest_url,
            COUNT_KEYS_JOB,
            [self.cfg.kafka_bootstrap, self.source, self.sink, startup_mode],
            jars=sorted(resolve("flink").glob("*.jar")),
            **options,
        )
        self.job_ids.append(job_id)
        return job_id

    def send(self, key: str, times: int) -> None:
        producer = KafkaProducer(bootstrap_servers=self.cfg.kafka_bootstrap)
        for _ in range(times):
            producer.send(self.source, json.dumps({"k": key}).encode())
        producer.flush()
        producer.close()

    def wait_for_count(self, key: str, count: int, timeout: float = 60) -> int:
        """The job's latest count for key (upper-cased by its UDF), once it reaches count."""
        consumer = KafkaConsumer(
            self.sink,
            bootstrap_servers=self.cfg.kafka_bootstrap,
            auto_offset_reset="earliest",
        )
        latest = None
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and latest != count:
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        row = json.loads(record.value)
                        if row["k"] == key.upper():
                            latest = row["n"]
        finally:
            consumer.close()
        return latest

    def cancel_all(self) -> None:
        for job_id in self.job_ids:
            try:
                if self.rest.state(job_id) not in TERMINAL_STATES:
                    self.rest.cancel(job_id)
                    self.rest.wait_for_state(job_id, {"CANCELED"}, timeout=60)
            except UnknownJob:
                pass
        self.rest.close()


@pytest.fixture
def count_keys(flink, topic_name):
    job = CountKeys(flink, topic_name)
    try:
        yield job
    finally:
        job.cancel_all()
