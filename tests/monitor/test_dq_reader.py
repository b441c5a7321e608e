"""DqReader on the real broker: it reads the history before the monitor judges anything."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Producer

from advertisex.contract.topics import output_topics
from advertisex.kafka_admin import TopicSpec, ensure_topics
from advertisex.monitor.dq_reader import DqReader

pytestmark = pytest.mark.kafka


def test_the_reader_is_caught_up_only_once_it_has_read_the_history(kafka):
    prefix = f"r{uuid.uuid4().hex[:6]}."
    topic = prefix + output_topics()["dq_metrics"]
    ensure_topics(kafka.kafka_bootstrap, [TopicSpec(topic, 2)])
    producer = Producer({"bootstrap.servers": kafka.kafka_bootstrap})
    for i in range(3000):
        row = {"source": "impressions", "window_start_ms": i * 1000, "received": i}
        producer.produce(topic, json.dumps(row).encode(), key=str(i).encode(), partition=i % 2)
    assert producer.flush(30) == 0

    reader = DqReader(kafka.kafka_bootstrap, prefix)
    try:
        reader.consumer.config["max_poll_records"] = 200  # several polls for the history
        read, polls = [], 0
        while not reader.caught_up:
            assert polls < 200, f"not caught up after {polls} polls and {len(read)} rows"
            batch = list(reader.poll(1000))
            polls += 1
            # until the last of the history is read, the reader is not caught up
            assert reader.caught_up == (len(read) + len(batch) == 3000) or not batch
            read += batch
        assert len(read) == 3000 and polls > 1
        assert sorted(r["received"] for r in read) == list(range(3000))
        # a new row later is read as it comes, caught up all along
        producer.produce(topic, json.dumps({"source": "x", "received": -1}).encode(), partition=0)
        assert producer.flush(30) == 0
        later = []
        for _ in range(20):
            later += list(reader.poll(500))
            if later:
                break
        assert [r["received"] for r in later] == [-1] and reader.caught_up
    finally:
        reader.close()
