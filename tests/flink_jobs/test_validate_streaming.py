"""Stages 1-2 of the pipeline on the real Kafka and Flink, against the simulator's ground
truth: every raw message is checked exactly once; rejected ones become the same dead
letters; the record outputs hold exactly the truth's ids, deduplicated and enriched."""

import json
import time
import uuid
from collections import Counter
from pathlib import Path

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import KafkaSink
from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.jobs.submit import submit_python_job
from advertisex.stack.jars import resolve
from flink_jobs.tables import CHECKED_TOPICS

PIPELINE = Path(__file__).parents[2] / "flink_jobs" / "pipeline.py"
START = 1_795_910_400_000


def wait_for_count(read_topic, bootstrap: str, topic: str, count: int, timeout: float = 180):
    """The topic's committed records once there are count of them (or at the deadline)."""
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        rows = [json.loads(m.value) for m in read_topic(bootstrap, topic)]
        if len(rows) >= count:
            return rows
        time.sleep(1)
    return rows


def test_every_message_is_checked_once_and_rejects_are_dead_letters(flink, read_topic):
    cfg = flink
    prefix = f"v{uuid.uuid4().hex[:6]}."
    sim = Simulator(
        SimulationConfig(
            start_ms=START, seed=4, duration_s=120, bid_rate=60, anomalies=Anomalies.everything(120)
        )
    )
    ensure_topics(cfg.kafka_bootstrap, raw_topic_specs(prefix=prefix))
    sink = KafkaSink(cfg.kafka_bootstrap, topic_prefix=prefix)
    sink.write_campaigns(sim.campaigns())
    for message in sim.events():
        sink.write(message)
    sink.close()
    truth = sim.truth.to_dict()

    rest = FlinkRest(cfg.flink_rest_url)
    job_id = submit_python_job(
        cfg.flink_rest_url,
        PIPELINE,
        [
            "--bootstrap",
            cfg.kafka_bootstrap,
            "--topic-prefix",
            prefix,
            "--job-name",
            prefix,
            "--checkpoint-interval",
            "2 s",
        ],
        jars=list(resolve("flink").glob("*.jar")),
    )
    try:
        dead = wait_for_count(
            read_topic, cfg.kafka_bootstrap, f"{prefix}dead_letters", len(truth["dead_letters"])
        )
        received = {s: row["received"] for s, row in truth["sources"].items()}
        checked = {
            s: wait_for_count(read_topic, cfg.kafka_bootstrap, prefix + CHECKED_TOPICS[s], n)
            for s, n in received.items()
        }
        records = {
            name: wait_for_count(
                read_topic, cfg.kafka_bootstrap, prefix + name, len(truth["ids"][name])
            )
            for name in ("impressions", "clicks", "conversions", "bid_requests")
        }
    finally:
        rest.cancel(job_id)

    # Exactly one checked record per message: as many as were sent, none twice.
    assert {s: len(rows) for s, rows in checked.items()} == received
    for source, rows in checked.items():
        offsets = Counter((r["kafka_partition"], r["kafka_offset"]) for r in rows)
        assert max(offsets.values()) == 1, source
        rejected = Counter(r["reason"] for r in rows if r["reason"])
        assert rejected == Counter(truth["sources"][source]["invalid"])
    # Dead letters: the same messages, with the same reasons and payloads.
    assert Counter((d["source"], d["reason"], d["raw_payload"]) for d in dead) == Counter(
        (d["source"], d["reason"], d["payload"]) for d in truth["dead_letters"]
    )
    assert all(d["dead_letter_id"] == f"{d['topic']}:{d['partition']}:{d['offset']}" for d in dead)
    assert {d["payload_encoding"] for d in dead if d["source"] == "bid_requests"} == {"base64"}
    # The valid ones carry the standardized fields: one of each timestamp form became millis.
    valid = [r for r in checked["impressions"] if not r["reason"]]
    assert all(
        isinstance(r["event_time_ms"], int)
        and r["website"] == r["website"].lower()
        and not r["website"].startswith(("http", "www."))
        for r in valid
    )

    # Record outputs: first occurrence wins, so exactly the truth's ids, each once.
    id_field = {
        "impressions": "impression_id",
        "clicks": "event_id",
        "conversions": "event_id",
        "bid_requests": "request_id",
    }
    for name, rows in records.items():
        assert sorted(r[id_field[name]] for r in rows) == truth["ids"][name], name
    # Enrichment: every campaign the dimension knows is found; retired ones are flagged.
    known = {c["campaign_id"]: c for c in sim.campaigns()}
    for row in records["impressions"] + records["clicks"]:
        campaign = known.get(row["campaign_id"])
        assert row["campaign_known"] is (campaign is not None)
        assert row["advertiser_id"] == (campaign and campaign["advertiser_id"])
    assert any(not r["campaign_known"] for r in records["impressions"])
    bids = records["bid_requests"]
    assert all(r["campaign_known"] is (r["campaign_id"] is not None) for r in bids)
