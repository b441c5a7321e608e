"""Exactly once across a restart: the streaming job is stopped with a savepoint halfway
through a simulated run and resumed from it; the outputs then equal the ground truth,
every record once."""

import time
import uuid

from golden import compare, outputs_once_equal
from kafka_outputs import (
    CLOSERS_DQ,
    PARTITIONS,
    send_closers,
    send_messages,
    submit_pipeline,
)
from kafka_reader import read_to_end  # tests/kafka_reader.py

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkRest

START = (int(time.time()) // 86_400 - 1) * 86_400_000  # see test_pipeline_golden.py
DURATION = 120


def test_a_stop_with_savepoint_and_resume_loses_and_repeats_nothing(flink):
    cfg = flink
    sim = Simulator(
        SimulationConfig(
            start_ms=START,
            seed=4,
            duration_s=DURATION,
            bid_rate=60,
            anomalies=Anomalies.everything(DURATION),
        )
    )
    campaigns, messages = sim.campaigns(), list(sim.events())
    truth = sim.truth.to_dict()
    assert truth["ambiguities"] == []
    half = len(messages) // 2
    prefix = f"r{uuid.uuid4().hex[:6]}."
    ensure_topics(cfg.kafka_bootstrap, raw_topic_specs(PARTITIONS, prefix=prefix))
    send_messages(cfg.kafka_bootstrap, prefix, messages[:half], campaigns)

    rest = FlinkRest(cfg.flink_rest_url)
    first = submit_pipeline(cfg, prefix)
    # Stop once the job has committed some of its work, and while it holds state.
    deadline = time.monotonic() + 120
    while not read_to_end(cfg.kafka_bootstrap, prefix + "impressions"):
        assert time.monotonic() < deadline, "the first run wrote nothing"
        time.sleep(1)
    rest.wait_for_tasks_running(first)
    savepoint = rest.wait_for_savepoint(first, rest.stop_with_savepoint(first))
    rest.wait_for_state(first, ["FINISHED"])
    written_before = len(read_to_end(cfg.kafka_bootstrap, prefix + "impressions"))
    assert 0 < written_before < len(truth["ids"]["impressions"])

    send_messages(cfg.kafka_bootstrap, prefix, messages[half:])
    send_closers(cfg.kafka_bootstrap, prefix, START + DURATION * 1000 + 8 * 86_400_000)
    second = submit_pipeline(cfg, prefix, savepoint)
    try:
        outputs = outputs_once_equal(cfg.kafka_bootstrap, prefix, truth, timeout=240)
        assert compare(outputs, truth, dq_extra=CLOSERS_DQ) == []
    finally:
        rest.cancel(second)
