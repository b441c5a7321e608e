"""End to end on the real servers: the simulator (every anomaly on, redeliveries too) to
Kafka, the Flink job, its output topics, and Pinot; what Pinot answers equals the ground
truth: exact counts per campaign, no duplicate rows, dead letters counted by reason."""

import time
import uuid
from collections import Counter, defaultdict

import httpx
from kafka_outputs import (  # tests/kafka_outputs.py
    CLOSING,
    send_closers,
    send_messages,
    submit_pipeline,
)

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.serving.bootstrap import BootstrapSettings, bootstrap

START = (int(time.time()) // 86_400 - 1) * 86_400_000  # see test_pipeline_golden.py
DURATION = 120
COUNTS = ("impressions", "clicks", "conversions", "spend_micros", "bids", "wins")


def sql(broker_url: str, query: str) -> list[list]:
    response = httpx.post(f"{broker_url}/query/sql", json={"sql": query}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert not body.get("exceptions"), body["exceptions"]
    return body["resultTable"]["rows"]


def truth_per_campaign(truth: dict) -> dict[str, dict[str, int]]:
    totals: dict[str, Counter] = defaultdict(Counter)
    for row in truth["campaign_metrics_1m"]:
        for field in COUNTS:
            totals[row["campaign_id"]][field] += row[field]
    return {c: dict(t) for c, t in totals.items()}


def test_pinot_answers_what_the_ground_truth_says(flink, pinot):
    cfg = pinot
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
    assert sum(s["duplicates"] for s in truth["sources"].values()) > 0

    run = uuid.uuid4().hex[:6]
    prefix, tables = f"e{run}.", f"e{run}_"
    settings = BootstrapSettings(
        kafka_bootstrap=cfg.kafka_bootstrap,
        pinot_controller=cfg.pinot_controller_url,
        topic_prefix=prefix,
        table_prefix=tables,
    )
    outcomes = bootstrap(settings)
    assert {o.status for o in outcomes} == {"created"}

    send_messages(cfg.kafka_bootstrap, prefix, messages, campaigns)
    send_closers(cfg.kafka_bootstrap, prefix, START + DURATION * 1000 + 8 * 86_400_000)
    rest = FlinkRest(cfg.flink_rest_url)
    job_id = submit_pipeline(cfg, prefix)
    broker = cfg.pinot_broker_url
    not_closing = f"campaign_id <> '{CLOSING}campaign'"
    want = truth_per_campaign(truth)
    try:
        # Wait until Pinot's campaign minutes add up to the truth (or the deadline).
        deadline, got = time.monotonic() + 240, {}
        while time.monotonic() < deadline:
            rows = sql(
                broker,
                f"SELECT campaign_id, {', '.join(f'SUM({f})' for f in COUNTS)} "
                f"FROM {tables}campaign_metrics_1m WHERE {not_closing} "
                "GROUP BY campaign_id LIMIT 1000",
            )
            got = {r[0]: {f: int(v) for f, v in zip(COUNTS, r[1:], strict=True)} for r in rows}
            if got == want:
                break
            time.sleep(2)
        assert got == want

        # Every event table: the truth's ids, each in exactly one row (Pinot dedup).
        for table, id_field in {
            "impressions": "impression_id",
            "clicks": "event_id",
            "conversions": "event_id",
            "bid_requests": "request_id",
        }.items():
            # Each table consumes its own topic: wait for it too (or the deadline).
            want_rows, deadline = (len(truth["ids"][table]),) * 2, time.monotonic() + 120
            while True:
                [[rows, ids]] = sql(
                    broker,
                    f"SELECT COUNT(*), DISTINCTCOUNT({id_field}) FROM {tables}{table} "
                    f"WHERE {id_field} NOT LIKE '{CLOSING}%'",
                )
                if (rows, ids) == want_rows or time.monotonic() > deadline:
                    break
                time.sleep(2)
            assert (rows, ids) == want_rows, table
        [[attributed]] = sql(
            broker,
            f"SELECT COUNT(*) FROM {tables}attributed_clicks WHERE event_id NOT LIKE '{CLOSING}%'",
        )
        assert attributed == len(truth["attributed_clicks"])
        [[conversions]] = sql(broker, f"SELECT COUNT(*) FROM {tables}attributed_conversions")
        assert conversions == len(truth["attributed_conversions"])

        # Dead letters by source and reason.
        rows = sql(
            broker,
            f"SELECT source, reason, COUNT(*) FROM {tables}dead_letters "
            "GROUP BY source, reason LIMIT 1000",
        )
        want_dead = Counter((d["source"], d["reason"]) for d in truth["dead_letters"])
        assert {(s, r): n for s, r, n in rows} == dict(want_dead)
    finally:
        rest.cancel(job_id)
