"""On the real Kafka: every raw message carries its record's event time as its timestamp,
sent by the simulator or replayed from files."""

import time
from collections import Counter

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.message_clock import MessageClock
from advertisex.ingest.replay import folder_messages, replay
from advertisex.ingest.simulator import Emitted, Simulator
from advertisex.ingest.sinks import FileSink, KafkaSink
from advertisex.ingest.topics import RAW_TOPICS, ensure_topics, raw_topic_specs

CREATE_TIME = 0  # kafka-python's timestamp_type of a producer-set timestamp


def test_messages_carry_their_event_time(kafka, topic_name, read_topic, tmp_path):
    bootstrap = kafka.kafka_bootstrap
    live, replayed = f"{topic_name}-live-", f"{topic_name}-replay-"
    ensure_topics(bootstrap, raw_topic_specs(prefix=live) + raw_topic_specs(prefix=replayed))
    # Recent event times: a week's retention keeps them, and none is in the future.
    start = int(time.time()) // 60 * 60_000 - 10 * 60_000
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
    for m in sent:
        to_kafka.write(m)
        to_files.write(m)
    # Simulated traffic runs ahead of the clock: raw topics take future event times.
    ahead = Emitted("impressions", "imp-ahead", b"{}", start + 2 * 86_400_000, 0, True)
    to_kafka.write(ahead)
    to_kafka.close()
    to_files.close()
    to_kafka = KafkaSink(bootstrap, topic_prefix=replayed)
    replay(tmp_path, to_kafka)
    to_kafka.close()

    clock = MessageClock()
    stamped = [(m, clock.stamp(m)) for m in folder_messages(tmp_path)]
    for source, topic in RAW_TOPICS.items():
        got = read_topic(bootstrap, live + topic)
        assert {r.timestamp_type for r in got} == {CREATE_TIME}
        assert Counter((r.value, r.timestamp) for r in got) == Counter(
            (m.payload, m.event_ms) for m in [*sent, ahead] if m.source == source
        )
        got = read_topic(bootstrap, replayed + topic)
        assert Counter((r.value, r.timestamp) for r in got) == Counter(
            (m.payload, stamp or 1) for m, stamp in stamped if m.source == source
        )
        # Replayed records with a readable event time carry the one the simulator gave.
        assert Counter(r.timestamp for r in got) & Counter(
            m.event_ms for m in sent if m.source == source and not m.malformed
        ) == Counter(m.event_ms for m in sent if m.source == source and not m.malformed)
