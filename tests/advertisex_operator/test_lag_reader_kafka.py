"""read_offsets on the real KRaft broker: a group's committed offsets and the log ends of a
topic written in transactions (the last stable offset, markers included)."""

import socket

import pytest
from advertisex_operator.lag import LagSettings, LagStatus, LagTracker
from advertisex_operator.lag_reader import (
    KafkaUnreachable,
    LagReadError,
    end_offsets_by_consumer,
    read_offsets,
)
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic, OffsetSpec
from kafka.structs import OffsetAndMetadata


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit offsets for a group as a consumer does (Flink's source commits the same way:
    the offset after the last record it read)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit(
            {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}
        )
    finally:
        consumer.close()


def high_watermarks(bootstrap: str, topic: str, partitions: int) -> list[int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        specs = {TopicPartition(topic, p): OffsetSpec.LATEST for p in range(partitions)}
        answer = admin.list_partition_offsets(specs, isolation_level="read_uncommitted")
        return [answer[TopicPartition(topic, p)].offset for p in range(partitions)]
    finally:
        admin.close()


@pytest.mark.kafka
def test_read_offsets_of_a_group_on_a_transactional_topic(kafka, topic_name):
    bootstrap = kafka.kafka_bootstrap
    create_topic(bootstrap, topic_name, 2)
    group = f"g-{topic_name}"
    p0, p1 = (topic_name, 0), (topic_name, 1)

    producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"tx-{topic_name}")
    producer.init_transactions()
    producer.begin_transaction()
    for i in range(10):
        producer.send(topic_name, f"a-{i}".encode(), partition=0)
    for i in range(4):
        producer.send(topic_name, f"b-{i}".encode(), partition=1)
    producer.commit_transaction()
    producer.close()
    # p0: records 0..9 and the commit marker at 10, so the end is 11; p1: 0..3, marker 4, end 5

    # a group that never committed: nothing for its own topics, None on the topics asked for
    assert read_offsets(bootstrap, group) == {}
    assert read_offsets(bootstrap, group, [topic_name]) == {p0: (None, 11), p1: (None, 5)}

    commit(bootstrap, group, topic_name, {0: 4})
    # the topics of the group's commits, with every partition (p1 has no offset yet)
    assert read_offsets(bootstrap, group) == {p0: (4, 11), p1: (None, 5)}

    # read every record: committed after the last record, one short of the end (the marker)
    commit(bootstrap, group, topic_name, {0: 10, 1: 4})
    offsets = read_offsets(bootstrap, group, [topic_name])
    assert offsets == {p0: (10, 11), p1: (4, 5)}
    assert {tp: end - committed for tp, (committed, end) in offsets.items()} == {p0: 1, p1: 1}

    # a transaction still open is not in the end: a read_committed reader cannot reach it
    open_tx = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"open-{topic_name}")
    open_tx.init_transactions()
    open_tx.begin_transaction()
    open_tx.send(topic_name, b"pending-1", partition=0)
    open_tx.send(topic_name, b"pending-2", partition=0)
    open_tx.flush()
    try:
        assert high_watermarks(bootstrap, topic_name, 2) == [13, 5]
        assert read_offsets(bootstrap, group, [topic_name]) == {p0: (10, 11), p1: (4, 5)}
        # kafka-python 2's way (a read_committed consumer) gives the same ends
        tps = [TopicPartition(topic_name, p) for p in (0, 1)]
        ends = end_offsets_by_consumer(bootstrap, tps)
        assert {(tp.topic, tp.partition): end for tp, end in ends.items()} == {p0: 11, p1: 5}
    finally:
        open_tx.abort_transaction()
        open_tx.close()

    # aborted: records 11 and 12 and the abort marker at 13 move the end to 14, although a
    # read_committed consumer has nothing more to read (see the report: lag 4, not 1)
    assert read_offsets(bootstrap, group, [topic_name]) == {p0: (10, 14), p1: (4, 5)}


@pytest.mark.kafka
def test_read_offsets_feed_the_tracker(kafka, topic_name):
    bootstrap = kafka.kafka_bootstrap
    create_topic(bootstrap, topic_name, 1)
    group = f"g-{topic_name}"
    producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"tx-{topic_name}")
    producer.init_transactions()
    tracker = LagTracker(LagSettings(window=3), group=group)
    for poll in range(3):
        producer.begin_transaction()
        for i in range(5):
            producer.send(topic_name, f"{poll}-{i}".encode(), partition=0)
        producer.commit_transaction()
        commit(bootstrap, group, topic_name, {0: 6 * poll + 5})  # after the poll's 5 records
        tracker.observe(read_offsets(bootstrap, group, [topic_name]), at=10.0 * poll)
    producer.close()
    result = tracker.evaluate(now=20.0, last_commit_at=20.0)
    assert [(p.committed, p.end, p.lag, p.behind) for p in result.partitions] == [(17, 18, 1, 0)]
    assert (result.status, result.total_lag, result.max_lag_seconds) == (LagStatus.OK, 0, 0.0)


@pytest.mark.kafka
def test_a_topic_that_does_not_exist_is_named(kafka, topic_name):
    with pytest.raises(LagReadError, match=f"{topic_name} do not exist"):
        read_offsets(kafka.kafka_bootstrap, "g", [topic_name])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_kafka_names_the_address_and_how_to_start_it():
    bootstrap = f"127.0.0.1:{closed_port()}"
    with pytest.raises(KafkaUnreachable) as caught:
        read_offsets(bootstrap, "g", ["t"], timeout_s=2)
    assert bootstrap in str(caught.value)
    assert "advertisex stack up kafka" in str(caught.value)


def test_java_property_names_are_refused_with_the_name_to_use():
    with pytest.raises(ValueError, match="'security_protocol'"):
        read_offsets("127.0.0.1:1", "g", admin_config={"security.protocol": "SASL_SSL"})
