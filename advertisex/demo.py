"""The demo, step by step: the local stack, its topics and tables, the streaming job,
simulated traffic, and the report once Pinot holds what was sent.

Each step is safe to repeat: a second demo reuses the running stack, the bootstrapped
tables and the running job, and adds its traffic to what is there.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from kafka import KafkaConsumer, TopicPartition

from advertisex.contract.topics import RAW_TOPICS
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.stack.config import StackConfig

JOB_NAME = "advertisex-pipeline"


def running_pipeline(cfg: StackConfig) -> str | None:
    """The id of the pipeline job if it runs on the local cluster."""
    with FlinkRest(cfg.flink_rest_url) as rest:
        for job in rest.jobs():
            if job["name"] == JOB_NAME and job["state"] in ("RUNNING", "CREATED", "RESTARTING"):
                return job["id"]
    return None


def raw_messages(cfg: StackConfig) -> int:
    """Messages on the raw topics so far (their end offsets; the producers do not use
    transactions, so every offset is a message)."""
    consumer = KafkaConsumer(bootstrap_servers=cfg.kafka_bootstrap)
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in RAW_TOPICS.values()
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def received_in_pinot(cfg: StackConfig) -> int:
    """Messages the pipeline has counted in dq_metrics, as Pinot answers now."""
    response = httpx.post(
        f"{cfg.pinot_broker_url}/query/sql",
        json={"sql": "SELECT SUM(received) FROM dq_metrics"},
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    rows = body.get("resultTable", {}).get("rows") or [[0]]
    return int(rows[0][0] or 0)


def wait_for_pinot(
    cfg: StackConfig, expected: int, timeout: float, on_progress: Callable[[int], None]
) -> int:
    """Poll Pinot until dq_metrics has counted `expected` messages (or the deadline)."""
    deadline, seen = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        seen = received_in_pinot(cfg)
        on_progress(seen)
        if seen >= expected:
            break
        time.sleep(2)
    return seen


def run_demo(duration: float, seed: int, console) -> None:
    """Every step of the README's first command after the install."""
    from advertisex.ingest.cli import simulate
    from advertisex.jobs.cli import run as run_job
    from advertisex.serving.bootstrap import BootstrapSettings, bootstrap
    from advertisex.serving.report_cli import report
    from advertisex.stack.cli import up

    cfg = StackConfig()
    console.rule("1/6 the local stack: Kafka, Pinot, Flink")
    up(services=None)

    console.rule("2/6 topics and Pinot tables")
    outcomes = bootstrap(
        BootstrapSettings(
            kafka_bootstrap=cfg.kafka_bootstrap, pinot_controller=cfg.pinot_controller_url
        )
    )
    by_status: dict[str, int] = {}
    for outcome in outcomes:
        by_status[outcome.status] = by_status.get(outcome.status, 0) + 1
    console.print(", ".join(f"{n} {status}" for status, n in sorted(by_status.items())))

    console.rule("3/6 the streaming job")
    job_id = running_pipeline(cfg)
    if job_id:
        console.print(f"already running: {job_id}")
    else:
        run_job(job_name=JOB_NAME)
        job_id = running_pipeline(cfg)

    console.rule(f"4/6 {duration:.0f} simulated seconds of traffic, every anomaly on")
    start_ms = int(time.time()) // 60 * 60_000
    simulate(to="kafka", duration=duration, seed=seed, all_anomalies=True)
    # Everything on the raw topics, this run's and any earlier one's: a job started now
    # reads the topics from their beginning, so Pinot's counts cover them all.
    on_topics = raw_messages(cfg)

    console.rule("5/6 through Flink into Pinot")
    with console.status("") as status:
        counted = wait_for_pinot(
            cfg,
            on_topics,
            timeout=300,
            on_progress=lambda seen: status.update(
                f"Pinot's dq_metrics has counted {seen:,} of the {on_topics:,} raw messages"
            ),
        )
    console.print(f"Pinot holds {counted:,} of the {on_topics:,} messages on the raw topics")

    console.rule("6/6 campaign performance (advertisex report)")
    report(
        from_=str(start_ms),
        to=str(start_ms + int(duration * 1000) + 60_000),
        by="campaign",
        campaign=None,
        top=5,
        limit=1000,
        format_="table",
        broker=None,
        table_prefix="",
    )
    console.print(
        f"\nThe stack stays up and the job ({job_id}) keeps running.\n"
        f"Pinot query console: {cfg.pinot_controller_url}/#/query (queries to paste: "
        "docs/queries/)\n"
        f"Flink web UI: {cfg.flink_rest_url}\n"
        "More: `advertisex report --help`, `advertisex simulate --help`; "
        "stop everything with `advertisex stack down`."
    )
