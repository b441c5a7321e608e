"""On the real Kafka: producers leave the message timestamp alone, and the raw topics keep
history of any age, because the broker stamps arrival time (LogAppendTime)."""

import time
from collections import Counter

import pytest
from confluent_kafka import Producer

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.replay import folder_messages, replay
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import FileSink, KafkaDeliveryError, KafkaSink
from advertisex.ingest.topics import RAW_TOPICS, ensure_topics, raw_topic_specs

LOG_APPEND_TIME = 1  # kafka-python's timestamp_type of a broker-set timestamp
WEEK_MS = 7 * 86_400_000


def test_history_weeks_old_is_kept_and_stamped_with_its_arrival(
    kafka, topic_name, read_topic, tmp_path
):
    bootstrap = kafka.kafka_bootstrap
    live, replayed = f"{topic_name}-live-", f"{topic_name}-replay-"
    ensure_topics(bootstrap, raw_topic_specs(prefix=live) + raw_topic_specs(prefix=replayed))
    # Event times three weeks old: older than the raw topics' retention counted from now.
    start = int(time.time()) // 60 * 60_000 - 3 * WEEK_MS
    anomalies = Anomalies(malformed=0.1, duplicates=0.05, late=0.05, out_of_order=0.1)
    sim = Simulator(
        SimulationConfig(
            start_ms=start,
            seed=3,
            duration_s=30,
            bid_rate=30,
            diurnal=False,  # at 3h UTC this seed sent no click at all at the daily rate
            anomalies=anomalies,
        )
    )
    to_kafka, to_files = KafkaSink(bootstrap, topic_prefix=live), FileSink(tmp_path)
    sent = list(sim.events())
    assert {m.source for m in sent} == set(RAW_TOPICS)  # the scenario has every source
    before = int(time.time() * 1000)
    for m in sent:
        to_kafka.write(m)
        to_files.write(m)
    to_kafka.close()
    to_files.close()
    to_kafka = KafkaSink(bootstrap, topic_prefix=replayed)
    replay(tmp_path, to_kafka)
    to_kafka.close()
    # A producer that stamps its records' own (old) event times, as some replay tools do.
    stamping = Producer({"bootstrap.servers": bootstrap})
    for m in sent:
        stamping.produce(live + RAW_TOPICS[m.source], m.payload, timestamp=m.event_ms)
    assert stamping.flush(30) == 0
    after = int(time.time() * 1000)

    in_files = list(folder_messages(tmp_path))
    for source, topic in RAW_TOPICS.items():
        got = read_topic(bootstrap, live + topic)
        expected = [m.payload for m in sent if m.source == source]
        assert Counter(r.value for r in got) == Counter(expected * 2)
        assert {r.timestamp_type for r in got} == {LOG_APPEND_TIME}
        assert all(before <= r.timestamp <= after for r in got)
        got = read_topic(bootstrap, replayed + topic)
        assert Counter(r.value for r in got) == Counter(
            m.payload for m in in_files if m.source == source
        )


def test_each_message_lands_in_the_partition_the_ground_truth_judged_it_in(
    kafka, topic_name, read_topic
):
    bootstrap = kafka.kafka_bootstrap
    prefix = f"{topic_name}-"
    ensure_topics(bootstrap, raw_topic_specs(4, prefix=prefix))
    anomalies = Anomalies(malformed=0.1, duplicates=0.05, late=0.05, out_of_order=0.1)
    config = SimulationConfig(seed=8, duration_s=20, bid_rate=30, anomalies=anomalies)
    sent = list(Simulator(config).events())
    sink = KafkaSink(bootstrap, topic_prefix=prefix)
    for m in sent:
        sink.write(m)
    sink.close()
    want = Counter((m.source, m.partition, m.payload) for m in sent)
    assert {p for _, p, _ in want} == {0, 1, 2, 3}
    got = Counter()
    for source, topic in RAW_TOPICS.items():
        for r in read_topic(bootstrap, prefix + topic):
            got[(source, r.partition, r.value)] += 1
    assert got == want


def test_a_sink_refuses_topics_with_fewer_partitions_than_the_simulation_assumes(kafka, topic_name):
    prefix = f"{topic_name}-"
    ensure_topics(kafka.kafka_bootstrap, raw_topic_specs(1, prefix=prefix))
    config = SimulationConfig(seed=8, duration_s=5, bid_rate=30)
    message = next(m for m in Simulator(config).events() if m.partition)
    sink = KafkaSink(kafka.kafka_bootstrap, topic_prefix=prefix)
    with pytest.raises(KafkaDeliveryError, match="has 1 partition.*raw_partitions"):
        sink.write(message)
    sink.close()
