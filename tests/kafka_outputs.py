"""The streaming job's side of the golden tests: closing a run's windows, and reading the
output topics back."""

import json
from pathlib import Path

from confluent_kafka import Producer

from advertisex.contract.bid_requests import encode_bid_request
from advertisex.contract.topics import RAW_TOPICS, output_topics
from advertisex.ingest.sinks import KafkaSink
from advertisex.jobs.submit import submit_python_job
from advertisex.stack.jars import resolve
from flink_jobs.tables import UPSERT_OUTPUTS

PARTITIONS = 4
CLOSING = "closing-"


def closing_messages(close_ms: int, n: int) -> dict[str, bytes]:
    """One valid record per raw topic far in event time after the run (8 days, past every
    window): one sent to each partition moves every partition's watermark on, so the last
    windows and joins of the run close, as later traffic would close them."""
    impression = {
        "impression_id": f"{CLOSING}imp-{n}",
        "event_time": close_ms,
        "user_id": f"{CLOSING}user",
        "creative_id": "cr",
        "campaign_id": f"{CLOSING}campaign",
        "website": "example.com",
    }
    click = f"{CLOSING}clk-{n},{close_ms},click,{CLOSING}user,{CLOSING}campaign,{CLOSING}imp-{n},,,"
    bid = {
        "request_id": f"{CLOSING}br-{n}",
        "event_time": close_ms,
        "exchange": "x",
        "auction_type": "FIRST_PRICE",
        "bid_floor_micros": 0,
        "currency": "USD",
        "user": {},
        "device": {},
        "site": {"domain": "example.com"},
        "targeting": {},
    }
    return {
        "impressions": json.dumps(impression).encode(),
        "clicks_conversions": click.encode(),
        "bid_requests": encode_bid_request(bid),
    }


def send_closers(bootstrap: str, prefix: str, close_ms: int, partitions: int = PARTITIONS) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition in range(partitions):
        for source, payload in closing_messages(close_ms, partition).items():
            producer.produce(prefix + RAW_TOPICS[source], payload, partition=partition)
    assert producer.flush(30) == 0


def read_outputs(read_topic, bootstrap: str, prefix: str) -> dict[str, list[dict]]:
    """Every output topic's rows; upsert topics folded to their latest row per key."""
    outputs = {}
    for name, topic in output_topics().items():
        messages = read_topic(bootstrap, prefix + topic)
        if name in UPSERT_OUTPUTS:
            latest: dict[bytes, dict | None] = {}
            for m in messages:
                latest[m.key] = None if m.value is None else json.loads(m.value)
            outputs[name] = [row for row in latest.values() if row is not None]
        else:
            outputs[name] = [json.loads(m.value) for m in messages]
    return outputs


def without_closers(outputs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    def closing(row: dict) -> bool:
        return any(isinstance(v, str) and v.startswith(CLOSING) for v in row.values())

    return {name: [r for r in rows if not closing(r)] for name, rows in outputs.items()}


# What the closers add to dq_metrics: one valid record per partition of each source.
def closers_dq(partitions: int = PARTITIONS) -> dict[str, dict[str, int]]:
    return {source: {"received": partitions, "valid": partitions} for source in RAW_TOPICS}


CLOSERS_DQ = closers_dq()


PIPELINE = Path(__file__).parents[1] / "flink_jobs" / "pipeline.py"


def send_messages(bootstrap: str, prefix: str, messages, campaigns=None) -> None:
    """Simulated messages (and the campaign dimension) onto the raw topics under prefix."""
    sink = KafkaSink(bootstrap, topic_prefix=prefix)
    if campaigns:
        sink.write_campaigns(campaigns)
    for message in messages:
        sink.write(message)
    sink.close()


def submit_pipeline(
    cfg, prefix: str, savepoint: str | None = None, extra_args: tuple[str, ...] = ()
) -> str:
    """Submit the streaming job on the topics under prefix (its own group and
    transactional ids), checkpointing every 2 s; returns the job id.

    The tests preload their messages and closers 8 days ahead, then start the job on that
    backlog: a partition whose records wait behind another's in the reader for longer than
    the idle timeout is taken for idle, and the watermark jumps to the closers' time (the
    golden test had 113-188 bid requests twice and their minutes short when the machine was
    busy). So the tests' jobs wait a minute before calling a partition idle (extra_args can
    override it); docs/pipeline.md "Idle partitions" says what this means in production."""
    args = ["--bootstrap", cfg.kafka_bootstrap, "--topic-prefix", prefix, "--job-name", prefix]
    args += ["--group-id", prefix, "--checkpoint-interval", "2 s", "--idle-timeout", "1 min"]
    args += extra_args
    jars = list(resolve("flink").glob("*.jar"))
    return submit_python_job(
        cfg.flink_rest_url, PIPELINE, args, jars=jars, savepoint_path=savepoint
    )
