"""Golden tests: one simulated run with every anomaly knob on, through the batch job and
through the streaming job on the real Kafka and Flink; every output is compared record by
record with the simulator's ground truth: in streaming, records the simulator delayed past
the watermark are late; batch knows its whole input, so nothing is (contract 2.5). The
record outputs are the same in both modes."""

import base64
import json
import time
import uuid
from collections import Counter

import pytest
from golden import as_in_a_file, compare, outputs_once_equal  # tests/flink_jobs/golden.py
from kafka_outputs import (
    CLOSERS_DQ,
    PARTITIONS,
    send_closers,
    send_messages,
    submit_pipeline,
)

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import FileSink
from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkRest
from flink_jobs.batch import run_batch

# Yesterday's midnight: the same time of day for every run, so that the seeded traffic is
# the same.
START = (int(time.time()) // 86_400 - 1) * 86_400_000
DURATION = 300


@pytest.fixture(scope="module")
def simulation():
    sim = Simulator(
        SimulationConfig(
            start_ms=START,
            seed=7,
            duration_s=DURATION,
            bid_rate=40,
            anomalies=Anomalies.everything(DURATION),
        )
    )
    campaigns = sim.campaigns()
    messages = list(sim.events())
    truth = sim.truth.to_dict()
    assert truth["ambiguities"] == [], "the seed's data has join outcomes on an edge"
    return campaigns, messages, truth, sim.truth.complete().to_dict()


@pytest.fixture(scope="module")
def batch_outputs(simulation, tmp_path_factory) -> dict[str, list[dict]]:
    campaigns, messages, *_ = simulation
    folder = tmp_path_factory.mktemp("golden-in")
    sink = FileSink(folder)
    sink.write_campaigns(campaigns)
    for message in messages:
        sink.write(message)
    sink.close()
    out = tmp_path_factory.mktemp("golden-out")
    counts = run_batch(folder, out, on_step=lambda _: None)
    return {
        name: [json.loads(line) for line in (out / name / "part-0.jsonl").read_text().splitlines()]
        for name in counts
    }


@pytest.fixture(scope="module")
def streaming_outputs(simulation, flink, tmp_path_factory):
    campaigns, messages, truth, _ = simulation
    cfg = flink
    prefix = f"g{uuid.uuid4().hex[:6]}."
    ensure_topics(cfg.kafka_bootstrap, raw_topic_specs(PARTITIONS, prefix=prefix))
    send_messages(cfg.kafka_bootstrap, prefix, messages, campaigns)
    send_closers(cfg.kafka_bootstrap, prefix, START + DURATION * 1000 + 8 * 86_400_000)

    rest = FlinkRest(cfg.flink_rest_url)
    job_id = submit_pipeline(cfg, prefix)
    try:
        yield outputs_once_equal(cfg.kafka_bootstrap, prefix, truth, timeout=300)
    finally:
        rest.cancel(job_id)


def test_batch_outputs_equal_the_complete_ground_truth(batch_outputs, simulation):
    streamed, complete = simulation[2], simulation[3]
    assert compare(batch_outputs, complete, from_files=True) == []
    # The run exercises what the comparison covers.
    assert len(complete["attributed_clicks"]) > 100
    assert len(complete["attributed_conversions"]) > 0
    assert sum(s["late"] for s in streamed["sources"].values()) > 0  # late only in a stream
    assert sum(s["late"] for s in complete["sources"].values()) == 0
    assert sum(s["duplicates"] for s in complete["sources"].values()) > 0
    assert len(complete["dead_letters"]) > 0


def test_streaming_outputs_equal_the_ground_truth(streaming_outputs, simulation):
    assert compare(streaming_outputs, simulation[2], dq_extra=CLOSERS_DQ) == []


def test_streaming_and_batch_write_the_same_records(streaming_outputs, batch_outputs):
    def rows(outputs: dict, name: str, from_kafka: bool) -> Counter:
        found = Counter()
        for row in outputs[name]:
            row = dict(row)
            if name == "dead_letters":
                # Where and when: Kafka coordinates against file lines; processing time.
                for field in ("dead_letter_id", "topic", "partition", "offset", "file", "line"):
                    row.pop(field)
                row.pop("rejected_at_ms")
                if from_kafka and row["source"] == "bid_requests":
                    datum = as_in_a_file("bid_requests", base64.b64decode(row["raw_payload"]))
                    row["raw_payload"] = base64.b64encode(datum).decode()
            found[json.dumps(row, sort_keys=True)] += 1
        return found

    # Late records differ between the modes where they count in windows and joins
    # (compared with each mode's truth above); the record outputs and dead letters do not.
    for name in ("impressions", "clicks", "conversions", "bid_requests", "dead_letters"):
        assert rows(streaming_outputs, name, True) == rows(batch_outputs, name, False), name
