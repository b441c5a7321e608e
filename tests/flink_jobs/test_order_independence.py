"""Order independence (contract 2.5, issue 13): the same records give exactly the contract's
result, computed by the ground truth, whatever order they come in.

- Batch: the records of one simulated run, shuffled across files with random names and
  sizes, three times: every output equals the complete truth (nothing late, every join and
  window complete), and the three runs write the same rows.
- Streaming, Kafka to Kafka on the real stack: the same records shuffled across partitions
  at random (not by key), each partition fed within the allowed out-of-orderness, three
  times; two runs on topics that keep whatever message timestamp the producer sets, which
  is random, one on the raw topics as `advertisex` creates them (the broker stamps arrival
  time). The event times are three weeks old: older than the raw topics' retention counted
  from now. Every output equals the same complete truth, and the batch rows.
"""

import base64
import json
import random
import time
import uuid
from collections import Counter, defaultdict

import pytest
from confluent_kafka import Producer
from golden import as_in_a_file, compare, outputs_once_equal  # tests/flink_jobs/golden.py
from kafka_outputs import (
    CLOSERS_DQ,
    PARTITIONS,
    send_closers,
    submit_pipeline,
)

from advertisex.contract.event_time import event_time_ms
from advertisex.contract.topics import CAMPAIGN_TOPIC, RAW_TOPICS
from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import FileSink
from advertisex.ingest.topics import TopicSpec, ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkRest
from flink_jobs.batch import run_batch

WEEK_MS = 7 * 86_400_000
# Three weeks ago, at midnight: history older than the raw topics' retention from now.
START = (int(time.time()) // 86_400 - 21) * 86_400_000
DURATION = 240
# Each partition's records are at most this far out of event-time order: within the
# pipeline's allowed out-of-orderness (10 s), so none is late.
JITTER_MS = 8_000
SHUFFLES = (1, 2, 3)
# Outputs whose rows say where and when a record was read, not what it is.
LOCATION_FIELDS = ("dead_letter_id", "topic", "partition", "offset", "file", "line")


@pytest.fixture(scope="module")
def simulation():
    anomalies = Anomalies.everything(DURATION).model_copy(update={"late": 0.0})
    sim = Simulator(
        SimulationConfig(
            start_ms=START, seed=5, duration_s=DURATION, bid_rate=30, anomalies=anomalies
        )
    )
    campaigns, messages = sim.campaigns(), list(sim.events())
    truth = sim.truth.complete().to_dict()
    # The run exercises what the comparison covers.
    assert len(truth["attributed_clicks"]) > 100
    assert len(truth["attributed_conversions"]) > 0
    assert sum(s["duplicates"] for s in truth["sources"].values()) > 0
    assert len(truth["dead_letters"]) > 0
    return campaigns, messages, truth


def comparable(outputs: dict[str, list[dict]], from_kafka: bool) -> dict[str, Counter]:
    """Each output's rows without where and when they were read (dq_metrics' windows are
    processing time: compared as totals with the truth instead)."""
    found = {}
    for name, rows in outputs.items():
        if name == "dq_metrics":
            continue
        found[name] = Counter()
        for row in rows:
            # Sums of doubles (conversion values) depend on the order they were added in.
            row = {
                k: float(f"{v:.12g}") if isinstance(v, float) else v
                for k, v in row.items()
                if k not in LOCATION_FIELDS
            }
            if name == "dead_letters":
                row.pop("rejected_at_ms")
                if from_kafka and row["source"] == "bid_requests":
                    datum = as_in_a_file("bid_requests", base64.b64decode(row["raw_payload"]))
                    row["raw_payload"] = base64.b64encode(datum).decode()
            found[name][json.dumps(row, sort_keys=True)] += 1
    return found


# --- batch ----------------------------------------------------------------------------


def shuffled_folder(folder, campaigns, messages, seed: int):
    """The messages in a random order, in files of random sizes with random names."""
    rng = random.Random(seed)
    order = list(messages)
    rng.shuffle(order)
    sink = FileSink(folder, part_size=rng.randrange(300, 3_000))
    sink.write_campaigns(campaigns)
    for message in order:
        sink.write(message)
    sink.close()
    for source in RAW_TOPICS:
        for path in (folder / source).iterdir():
            path.rename(path.with_name(f"{uuid.UUID(int=rng.getrandbits(128))}{path.suffix}"))
    return folder


@pytest.fixture(scope="module")
def batch_runs(simulation, tmp_path_factory) -> dict[int, dict[str, list[dict]]]:
    campaigns, messages, _ = simulation
    runs = {}
    for seed in SHUFFLES:
        folder = shuffled_folder(tmp_path_factory.mktemp(f"in-{seed}"), campaigns, messages, seed)
        out = tmp_path_factory.mktemp(f"out-{seed}")
        counts = run_batch(folder, out, on_step=lambda _: None)
        runs[seed] = {
            name: [json.loads(line) for line in (out / name / "part-0.jsonl").open()]
            for name in counts
        }
    return runs


def test_batch_equals_the_complete_truth_in_every_order(batch_runs, simulation):
    truth = simulation[2]
    for seed, outputs in batch_runs.items():
        assert compare(outputs, truth, from_files=True) == [], f"shuffle {seed}"


def test_batch_writes_the_same_rows_in_every_order(batch_runs):
    first, *others = (comparable(outputs, from_kafka=False) for outputs in batch_runs.values())
    for other in others:
        assert other == first


# --- streaming ------------------------------------------------------------------------


def partition_feeds(messages, seed: int) -> dict[int, list]:
    """Each message on a random partition; each partition in event-time order up to
    JITTER_MS (a message without a readable time goes where the simulator's time puts it)."""
    rng = random.Random(seed)
    feeds: dict[int, list] = defaultdict(list)
    for message in messages:
        feeds[rng.randrange(PARTITIONS)].append(message)
    for feed in feeds.values():
        keyed = []
        for message in feed:
            readable = event_time_ms(message.source, message.payload)
            at = message.event_ms if readable is None else readable
            keyed.append((at + rng.randrange(JITTER_MS), message))
        keyed.sort(key=lambda pair: pair[0])
        feed[:] = [message for _, message in keyed]
    return feeds


def send_shuffled(bootstrap: str, prefix: str, campaigns, messages, seed: int, stamp: bool):
    """The shuffled feeds onto the raw topics under prefix; stamp: topics that keep the
    producer's timestamp, and a random one on every message."""
    if stamp:
        keep = {"message.timestamp.type": "CreateTime", "retention.ms": "-1"}
        keep["message.timestamp.after.max.ms"] = str(2**63 - 1)
        specs = [TopicSpec(prefix + topic, PARTITIONS, keep) for topic in RAW_TOPICS.values()]
        ensure_topics(bootstrap, specs + raw_topic_specs(PARTITIONS, prefix=prefix)[-1:])
    else:
        ensure_topics(bootstrap, raw_topic_specs(PARTITIONS, prefix=prefix))
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for row in campaigns:
        producer.produce(prefix + CAMPAIGN_TOPIC, json.dumps(row).encode(), key=row["campaign_id"])
    for partition, feed in partition_feeds(messages, seed).items():
        for message in feed:
            timestamp = rng.randrange(1, now + 52 * WEEK_MS) if stamp else 0
            while True:
                try:
                    producer.produce(
                        prefix + RAW_TOPICS[message.source],
                        message.payload,
                        key=message.key.encode() or None,
                        partition=partition,
                        timestamp=timestamp,
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
    assert producer.flush(60) == 0


@pytest.fixture(scope="module")
def streaming_runs(simulation, flink) -> dict[int, dict[str, list[dict]]]:
    campaigns, messages, truth = simulation
    cfg = flink
    rest = FlinkRest(cfg.flink_rest_url)
    runs = {}
    for seed in SHUFFLES:
        prefix = f"o{seed}{uuid.uuid4().hex[:6]}."
        stamp = seed != SHUFFLES[-1]
        send_shuffled(cfg.kafka_bootstrap, prefix, campaigns, messages, seed, stamp)
        send_closers(cfg.kafka_bootstrap, prefix, START + DURATION * 1000 + 8 * 86_400_000)
        job_id = submit_pipeline(cfg, prefix)
        try:
            runs[seed] = outputs_once_equal(cfg.kafka_bootstrap, prefix, truth, timeout=300)
        finally:
            rest.cancel(job_id)
    return runs


def test_streaming_equals_the_complete_truth_in_every_order(streaming_runs, simulation):
    truth = simulation[2]
    for seed, outputs in streaming_runs.items():
        assert compare(outputs, truth, dq_extra=CLOSERS_DQ) == [], f"shuffle {seed}"


def test_streaming_writes_the_batch_rows(streaming_runs, batch_runs):
    batch = comparable(batch_runs[SHUFFLES[0]], from_kafka=False)
    for seed, outputs in streaming_runs.items():
        streamed = comparable(outputs, from_kafka=True)
        for name in batch:
            assert streamed[name] == batch[name], f"shuffle {seed}: {name}"
