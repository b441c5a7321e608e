"""A valid record never fails or vanishes (issue 13): edge values that the schema allows,
messages without a value, and event times far in the past and future, sent to the running
streaming job on the real Kafka and Flink. The job keeps running, never restarts, and every
message is accounted for in an output or in dq_metrics."""

import json
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import Producer
from kafka_outputs import (
    CLOSERS_DQ,
    PARTITIONS,
    read_outputs,
    send_closers,
    submit_pipeline,
    without_closers,
)
from kafka_reader import read_to_end  # tests/kafka_reader.py

from advertisex.contract.bid_requests import encode_bid_request
from advertisex.contract.timestamps import MAX_EPOCH_MS
from advertisex.contract.topics import CAMPAIGN_TOPIC, RAW_TOPICS
from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkRest

pytestmark = pytest.mark.flink

T = (int(time.time()) // 86_400 - 1) * 86_400_000  # yesterday's midnight
INT64_MAX = 2**63 - 1
CAMPAIGN = {
    "campaign_id": "c1",
    "advertiser_id": "adv-1",
    "name": "Edges",
    "status": "active",
    "daily_budget_micros": 1_000_000,
    "currency": "USD",
    "updated_at_ms": 0,
}


def impression(impression_id: str, event_time, **fields) -> bytes:
    record = {
        "impression_id": impression_id,
        "event_time": event_time,
        "user_id": "u1",
        "creative_id": "cr-1",
        "campaign_id": "c1",
        "website": "news.example.com",
        **fields,
    }
    return json.dumps(record).encode()


def bid(request_id: str, outcome_campaign: str | None, won: bool = True) -> bytes:
    record = {
        "request_id": request_id,
        "event_time": T + 10_000,
        "exchange": "x",
        "auction_type": "SECOND_PRICE",
        "bid_floor_micros": 0,
        "currency": "USD",
        "user": {},
        "device": {},
        "site": {"domain": "news.example.com"},
        "targeting": {"campaign_ids": ["c1"]},
        "outcome": {
            "bid_price_micros": 10,
            "won": won,
            "clearing_price_micros": 5,
            "campaign_id": outcome_campaign,
            "creative_id": None,
        },
    }
    return encode_bid_request(record)


# (source, partition, value or None for a message without one)
MESSAGES = [
    ("impressions", 0, impression("imp-ok", T)),
    ("impressions", 0, impression("imp-unknown", T + 1_000, campaign_id="nobody")),
    ("impressions", 1, impression("imp-p1", T)),
    # 1970, after a record of today in its partition: behind the watermark, so late.
    ("impressions", 1, impression("imp-past", "1970-01-01T00:00:00Z")),
    # The last instant of year 9999, alone in its partition.
    ("impressions", 3, impression("imp-future", MAX_EPOCH_MS)),
    ("impressions", 2, impression("imp-extreme", T + 2_000, cost_micros=INT64_MAX)),
    (
        "impressions",
        2,
        impression(
            "imp-empties",
            T + 3_000,
            user_agent="",
            country="  ",
            currency="",
            device_type="",
            bid_request_id="",
        ),
    ),
    ("impressions", 2, impression("imp-long", T + 4_000, website="x.example/" + "a" * 100_000)),
    ("impressions", 0, None),
    ("impressions", 0, b""),
    ("clicks_conversions", 0, f"clk-orphan,{T + 5_000},click,u1,c1,nope,,,".encode()),
    (
        "clicks_conversions",
        0,
        f"conv-big,{T + 6_000},conversion,u9,c1,,purchase,1{'0' * 300},".encode(),
    ),
    ("clicks_conversions", 1, None),
    ("bid_requests", 0, bid("br-ok", "c1")),
    ("bid_requests", 0, bid("br-null", None)),  # a won bid naming no campaign (2.7)
    ("bid_requests", 1, bid("br-empty", "")),  # the same, as an empty string
    ("bid_requests", 2, None),
]


@pytest.fixture(scope="module")
def run(flink):
    cfg = flink
    prefix = f"p{uuid.uuid4().hex[:6]}."
    ensure_topics(cfg.kafka_bootstrap, raw_topic_specs(PARTITIONS, prefix=prefix))
    producer = Producer({"bootstrap.servers": cfg.kafka_bootstrap})
    producer.produce(prefix + CAMPAIGN_TOPIC, json.dumps(CAMPAIGN).encode(), key=b"c1")
    for source, partition, value in MESSAGES:
        producer.produce(prefix + RAW_TOPICS[source], value, partition=partition)
    assert producer.flush(30) == 0
    send_closers(cfg.kafka_bootstrap, prefix, T + 8 * 86_400_000)

    rest = FlinkRest(cfg.flink_rest_url)
    job_id = submit_pipeline(cfg, prefix)
    try:
        sent = Counter(source for source, _, _ in MESSAGES)
        deadline, outputs = time.monotonic() + 240, {}
        while time.monotonic() < deadline:
            outputs = read_outputs(read_to_end, cfg.kafka_bootstrap, prefix)
            received = Counter()
            for row in outputs["dq_metrics"]:
                received[row["source"]] += row["received"]
            done = {s: sent[s] + CLOSERS_DQ[s]["received"] for s in sent}
            if received == done and len(outputs["campaign_metrics_1m"]) >= 3:
                break
            time.sleep(3)
        time.sleep(4)  # two more checkpoints: anything still moving has landed
        outputs = read_outputs(read_to_end, cfg.kafka_bootstrap, prefix)
        yield rest.job(job_id), rest.exceptions(job_id), without_closers(outputs), outputs
    finally:
        rest.cancel(job_id)


def test_the_job_keeps_running_and_never_restarts(run):
    job, exceptions, _, _ = run
    assert job["state"] == "RUNNING"
    assert exceptions == []


def test_every_valid_record_reaches_its_output(run):
    _, _, outputs, _ = run
    impressions = {r["impression_id"]: r for r in outputs["impressions"]}
    assert sorted(impressions) == [
        "imp-empties",
        "imp-extreme",
        "imp-future",
        "imp-long",
        "imp-ok",
        "imp-p1",
        "imp-past",
        "imp-unknown",
    ]
    assert impressions["imp-future"]["event_time_ms"] == MAX_EPOCH_MS
    assert impressions["imp-past"]["event_time_ms"] == 0
    assert impressions["imp-extreme"]["cost_micros"] == INT64_MAX
    assert impressions["imp-unknown"]["campaign_known"] is False
    empties = impressions["imp-empties"]
    assert (empties["user_agent"], empties["country"], empties["currency"]) == (None, None, "USD")
    assert (empties["device_type"], empties["bid_request_id"]) == (None, None)
    assert sorted(r["event_id"] for r in outputs["clicks"]) == ["clk-orphan"]
    [conversion] = outputs["conversions"]
    assert conversion["conversion_value"] == 1e300
    assert sorted(r["request_id"] for r in outputs["bid_requests"]) == [
        "br-empty",
        "br-null",
        "br-ok",
    ]


def test_messages_without_a_value_are_dead_letters(run):
    _, _, outputs, _ = run
    dead = Counter((r["source"], r["reason"], r["raw_payload"]) for r in outputs["dead_letters"])
    assert dead == Counter(
        {
            ("impressions", "malformed_json", ""): 2,  # no value, and an empty one
            ("clicks_conversions", "malformed_csv", ""): 1,
            ("bid_requests", "malformed_avro", ""): 1,
        }
    )


def test_a_bid_naming_no_campaign_counts_in_dq_metrics_not_in_a_campaign_row(run):
    _, _, outputs, _ = run
    rows = {(r["campaign_id"], r["window_start_ms"]): r for r in outputs["campaign_metrics_1m"]}
    assert None not in {campaign for campaign, _ in rows}
    assert (rows[("c1", T)]["bids"], rows[("c1", T)]["wins"]) == (1, 1)  # br-ok only
    # imp-ok, imp-p1, imp-extreme, imp-empties, imp-long; only imp-extreme has a cost.
    assert rows[("c1", T)]["impressions"] == 5
    assert rows[("c1", T)]["spend_micros"] == INT64_MAX
    assert rows[("nobody", T)]["campaign_known"] is False
    assert rows[("c1", MAX_EPOCH_MS - MAX_EPOCH_MS % 60_000)]["impressions"] == 1
    unattributed = Counter()
    for row in outputs["dq_metrics"]:
        unattributed[row["source"]] += row["unattributed"]
    assert unattributed["bid_requests"] == 2
    assert unattributed["clicks_conversions"] == 2  # the orphan click and the conversion


def test_every_message_is_accounted_for(run):
    _, _, _, with_closers = run
    totals: dict[str, Counter] = {}
    for row in with_closers["dq_metrics"]:
        t = totals.setdefault(row["source"], Counter())
        for field in ("received", "valid", "invalid", "duplicates", "late"):
            t[field] += row[field]
    sent = Counter(source for source, _, _ in MESSAGES)
    invalid = Counter(source for source, _, value in MESSAGES if not value)
    for source in RAW_TOPICS:
        closers = CLOSERS_DQ[source]["received"]
        assert totals[source]["received"] == sent[source] + closers, source
        assert totals[source]["invalid"] == invalid[source], source
        assert totals[source]["valid"] == sent[source] - invalid[source] + closers, source
        assert totals[source]["duplicates"] == 0, source
    # imp-past, and the closer of partition 3, which follows year 9999 there.
    assert totals["impressions"]["late"] == 2
