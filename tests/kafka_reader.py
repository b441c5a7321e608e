"""Read a Kafka topic to its end: what tests compare with (a module of its own, so that
test modules can import it; importing `conftest` would find whichever was loaded first)."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition


def read_to_end(bootstrap: str, topic: str, committed_only: bool = True) -> list:
    """Every message of a topic up to its current end (with read_committed, what
    transactions committed)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed" if committed_only else "read_uncommitted",
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    end = consumer.end_offsets(partitions)
    messages = []
    while any(consumer.position(tp) < end[tp] for tp in partitions):
        for batch in consumer.poll(timeout_ms=1000).values():
            messages.extend(batch)
    consumer.close()
    return messages
