"""`advertisex report` on the real Pinot: tables of the outputs' columns fed from Kafka with
known rows, the report run through the command, every number checked in each format."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from pathlib import Path

import pinotdb
import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from typer.testing import CliRunner

from advertisex.cli import app
from advertisex.ingest.ground_truth import CAMPAIGN_COUNTS
from advertisex.serving import templates
from advertisex.serving.pinot_admin import (
    JSON_DECODER,
    KAFKA_CONSUMER_FACTORY,
    PinotAdmin,
    PinotError,
)

OUTPUTS = Path(__file__).parents[2] / "schemas" / "outputs"
H9 = 1_795_942_800_000  # 2026-11-29T09:00:00Z
MIN = 60_000
RANGE = ["--from", "2026-11-29T09:00:00Z", "--to", "2026-11-29T10:00:00Z"]


def pinot_schema(output: str, name: str) -> dict:
    """A Pinot schema with the output's columns: *_ms are times, other numbers metrics."""
    properties = json.loads((OUTPUTS / f"{output}.schema.json").read_text())["properties"]
    schema = {
        "schemaName": name,
        "dimensionFieldSpecs": [],
        "metricFieldSpecs": [],
        "dateTimeFieldSpecs": [],
    }
    for column, spec in properties.items():
        kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        kind = next(k for k in kinds if k != "null")
        if kind == "integer" and column.endswith("_ms"):
            schema["dateTimeFieldSpecs"].append(
                {
                    "name": column,
                    "dataType": "LONG",
                    "format": "1:MILLISECONDS:EPOCH",
                    "granularity": "1:MILLISECONDS",
                }
            )
        elif kind in ("integer", "number"):
            data_type = "LONG" if kind == "integer" else "DOUBLE"
            schema["metricFieldSpecs"].append({"name": column, "dataType": data_type})
        else:
            data_type = {"string": "STRING", "boolean": "BOOLEAN"}[kind]
            schema["dimensionFieldSpecs"].append({"name": column, "dataType": data_type})
    return schema


def pinot_table(name: str, time_column: str, topic: str, bootstrap: str) -> dict:
    """A plain REALTIME table on a topic, read_committed as the pipeline's tables are."""
    return {
        "tableName": name,
        "tableType": "REALTIME",
        "segmentsConfig": {
            "schemaName": name,
            "timeColumnName": time_column,
            "replication": "1",
            "replicasPerPartition": "1",
        },
        "tenants": {},
        "tableIndexConfig": {
            "loadMode": "MMAP",
            "nullHandlingEnabled": True,
            "streamConfigs": {
                "streamType": "kafka",
                "stream.kafka.consumer.type": "lowlevel",
                "stream.kafka.topic.name": topic,
                "stream.kafka.broker.list": bootstrap,
                "stream.kafka.consumer.factory.class.name": KAFKA_CONSUMER_FACTORY,
                "stream.kafka.decoder.class.name": JSON_DECODER,
                "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
                "stream.kafka.isolation.level": "read_committed",
                "realtime.segment.flush.threshold.rows": "100000",
            },
        },
        "metadata": {},
    }


def metrics(campaign, minute, advertiser, name, **counts) -> dict:
    row = {
        "campaign_id": campaign,
        "window_start_ms": minute,
        "window_end_ms": minute + MIN,
        "advertiser_id": advertiser,
        "campaign_name": name,
        "campaign_status": "active" if advertiser else None,
        "campaign_daily_budget_micros": 100_000_000 if advertiser else None,
        "campaign_known": advertiser is not None,
    }
    for key in CAMPAIGN_COUNTS:
        row[key] = counts.get(key, 0)
    row["conversion_value"] = counts.get("conversion_value", 0.0)
    return row


ALPHA = "Alpha, 'winter'"
# Minutes at 08:59 and 10:00 lie outside the range 09:00 to 10:00.
METRICS = [
    metrics(
        "cmp-a",
        H9,
        "adv-1",
        ALPHA,
        impressions=3,
        clicks=2,
        attributed_clicks=2,
        conversions=1,
        conversion_value=20.0,
        spend_micros=4_500_000,
        bids=6,
        wins=3,
    ),
    metrics(
        "cmp-a", H9 + MIN, "adv-1", ALPHA, impressions=1, spend_micros=1_500_000, bids=4, wins=1
    ),
    metrics(
        "cmp-b",
        H9 + 30 * MIN,
        "adv-1",
        "Beta",
        impressions=2,
        clicks=1,
        unattributed_clicks=1,
        spend_micros=1_000_000,
        bids=2,
        wins=2,
    ),
    metrics("cmp-x", H9 + 59 * MIN, None, None, clicks=1, unattributed_clicks=1),
    metrics("cmp-a", H9 + 60 * MIN, "adv-1", "Alpha", impressions=100, spend_micros=9**9),
    metrics("cmp-b", H9 - MIN, "adv-1", "Beta", impressions=100, spend_micros=9**9),
]
# An earlier version of the cmp-a 09:01 row, sent first to the upsert table of `advertisex
# bootstrap` only: the table keeps the latest row of each campaign minute.
EARLIER = metrics("cmp-a", H9 + MIN, "adv-1", ALPHA, impressions=1, spend_micros=900_000, bids=2)


def impression(i, website, at, cost) -> dict:
    return {
        "impression_id": f"imp-{i}",
        "event_time_ms": at,
        "user_id": f"u{i}",
        "creative_id": "cr-1",
        "campaign_id": "cmp-a",
        "website": website,
        "bid_request_id": None,
        "cost_micros": cost,
        "currency": "USD",
        "device_type": "mobile",
        "country": "DE",
        "user_agent": None,
        "advertiser_id": "adv-1",
        "campaign_name": "Alpha",
        "campaign_status": "active",
        "campaign_daily_budget_micros": 100_000_000,
        "campaign_known": True,
    }


IMPRESSIONS = [
    impression(1, "news.example.org", H9 + 10_000, 2_000_000),
    impression(2, "news.example.org", H9 + 10 * MIN, 1_000_000),
    impression(3, "news.example.org", H9 + 20 * MIN, None),  # no cost: spends 0
    impression(4, "shop.example.com", H9 + 30 * MIN, 500_000),
    impression(5, "shop.example.com", H9 + 60 * MIN - 1, 500_000),
    impression(6, "blog.example.net", H9 + 40 * MIN, 100_000),
    impression(7, "blog.example.net", H9 + 60 * MIN, 100_000),  # after the range
    impression(8, "blog.example.net", H9 - 1, 100_000),  # before the range
]


def click(i, website, at) -> dict:
    return {
        "event_id": f"clk-{i}",
        "event_time_ms": at,
        "user_id": f"u{i}",
        "campaign_id": "cmp-a",
        "impression_id": f"imp-{i}",
        "impression_event_time_ms": at - 1000,
        "creative_id": "cr-1",
        "website": website,
        "device_type": "mobile",
        "country": "DE",
        "cost_micros": 1,
        "currency": "USD",
        "bid_request_id": None,
        "seconds_to_click": 1.0,
        "advertiser_id": "adv-1",
        "campaign_name": "Alpha",
        "campaign_status": "active",
        "campaign_daily_budget_micros": 100_000_000,
        "campaign_known": True,
    }


CLICKS = [
    click(1, "news.example.org", H9 + 5 * MIN),
    click(2, "news.example.org", H9 + 15 * MIN),
    click(6, "blog.example.net", H9 + 45 * MIN),
    click(4, "shop.example.com", H9 + 60 * MIN),  # after the range
]

TABLES = {
    "campaign_metrics_1m": ("window_start_ms", METRICS),
    "impressions": ("event_time_ms", IMPRESSIONS),
    "attributed_clicks": ("event_time_ms", CLICKS),
}


def key_of(row: dict) -> str:
    """The message key the pipeline writes (each output schema's x-key)."""
    if "window_start_ms" in row:
        return f"{row['campaign_id']}:{row['window_start_ms']}"
    return row.get("event_id") or row["impression_id"]


def query_one(cfg, sql: str) -> tuple | None:
    conn = pinotdb.connect(
        host=cfg.host, port=cfg.pinot_broker_port, path="/query/sql", scheme="http"
    )
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
    except pinotdb.exceptions.DatabaseError:
        return None  # the consuming segments are still being created
    finally:
        conn.close()
    return tuple(rows[0]) if rows else None  # no row while no segment exists


def create_plain_tables(cfg, prefix: str) -> dict[str, str]:
    """Plain REALTIME tables of the outputs' columns; output -> topic."""
    topics = {output: f"t-{prefix}{output}" for output in TABLES}
    admin = KafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    admin.create_topics(
        [NewTopic(topic, num_partitions=2, replication_factor=1) for topic in topics.values()]
    )
    admin.close()
    pinot_admin = PinotAdmin(cfg.pinot_controller_url)
    try:
        for output, (time_column, _) in TABLES.items():
            pinot_admin.add_schema(pinot_schema(output, prefix + output))
            pinot_admin.add_table(
                pinot_table(prefix + output, time_column, topics[output], cfg.kafka_bootstrap)
            )
    finally:
        pinot_admin.close()
    return topics


def create_bootstrap_tables(cfg, prefix: str) -> dict[str, str]:
    """The tables `advertisex bootstrap` makes from schemas/pinot/ (upsert, dedup and all)."""
    from advertisex.contract.topics import output_topics
    from advertisex.serving.bootstrap import BootstrapSettings, bootstrap

    settings = BootstrapSettings(
        kafka_bootstrap=cfg.kafka_bootstrap,
        pinot_controller=cfg.pinot_controller_url,
        topic_prefix=f"t-{prefix}",
        table_prefix=prefix,
        partitions=2,
    )
    outcomes = bootstrap(settings, outputs=list(TABLES))
    assert not [o for o in outcomes if o.status == "refused"], outcomes
    return {output: f"t-{prefix}{output_topics()[output]}" for output in TABLES}


@pytest.fixture(scope="module", params=["plain", "bootstrap"])
def report_tables(request, pinot):
    """The three tables under names of this test's own, filled and queryable: plain tables
    of the outputs' columns, then the tables of `advertisex bootstrap`."""
    cfg = pinot
    prefix = f"report_{uuid.uuid4().hex[:8]}_"
    try:
        if request.param == "plain":
            topics = create_plain_tables(cfg, prefix)
            extra = []
        else:
            pytest.importorskip("advertisex.serving.bootstrap")
            topics = create_bootstrap_tables(cfg, prefix)
            extra = [EARLIER]
        producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap)
        for output, (_, rows) in TABLES.items():
            for row in extra + rows if output == "campaign_metrics_1m" else rows:
                producer.send(topics[output], json.dumps(row).encode(), key_of(row).encode())
        producer.flush()
        producer.close()
        deadline = time.monotonic() + 120
        for output, (time_column, rows) in TABLES.items():
            # Every row, and the latest version of each: their time and count add up.
            want = (len(rows), sum(row[time_column] for row in rows))
            sql = f"SELECT COUNT(*), SUM({time_column}) FROM {prefix}{output}"
            if output == "campaign_metrics_1m":
                want += (sum(row["bids"] for row in rows),)
                sql = sql.replace(" FROM", ", SUM(bids) FROM")
            while (seen := query_one(cfg, sql)) is None or tuple(map(int, seen)) != want:
                assert time.monotonic() < deadline, f"{prefix}{output}: {seen}, not {want}"
                time.sleep(0.5)
        yield cfg, prefix, {output: prefix + output for output in TABLES}
    finally:
        pinot_admin = PinotAdmin(cfg.pinot_controller_url)
        try:
            for output in TABLES:
                if prefix + output in pinot_admin.table_names():
                    pinot_admin.delete_table(prefix + output)
                try:
                    pinot_admin.delete_schema(prefix + output)
                except PinotError:
                    pass  # never created
        finally:
            pinot_admin.close()


def run_report(tables, *args) -> str:
    cfg, prefix, _ = tables
    result = CliRunner().invoke(
        app,
        ["report", *RANGE, "--broker", cfg.pinot_broker_url, "--table-prefix", prefix, *args],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_per_campaign_with_websites_and_time_series(report_tables):
    data = json.loads(
        run_report(report_tables, "--format", "json", "--top", "2", "--campaign", "cmp-a")
    )
    assert (data["from"], data["to"]) == ("2026-11-29T09:00:00.000Z", "2026-11-29T10:00:00.000Z")
    a, b, x = data["campaigns"]
    assert a == {
        "campaign_id": "cmp-a",
        "advertiser_id": "adv-1",
        "campaign_name": ALPHA,
        "impressions": 4,
        "clicks": 2,
        "attributed_clicks": 2,
        "unattributed_clicks": 0,
        "conversions": 1,
        "conversion_value": 20.0,
        "spend_micros": 6_000_000,
        "spend": 6.0,
        "bids": 10,
        "wins": 4,
        "ctr": 0.5,
        "cvr": 0.5,
        "cpm": 1500.0,
        "cpc": 3.0,
        "cpa": 6.0,
        "win_rate": 0.4,
    }
    assert (b["campaign_id"], b["impressions"], b["clicks"], b["spend"]) == ("cmp-b", 2, 1, 1.0)
    assert (b["ctr"], b["cvr"], b["cpm"], b["cpc"], b["cpa"], b["win_rate"]) == (
        0.5,
        0.0,
        500.0,
        1.0,
        None,
        1.0,
    )
    assert (x["campaign_id"], x["advertiser_id"], x["campaign_name"]) == ("cmp-x", None, None)
    assert (x["impressions"], x["clicks"], x["unattributed_clicks"], x["spend"]) == (0, 1, 1, 0)
    assert (x["ctr"], x["cvr"], x["cpm"], x["cpc"], x["cpa"], x["win_rate"]) == (
        None,
        0.0,
        None,
        0.0,
        None,
        None,
    )

    news, shop = data["top_websites"]
    assert news == {
        "website": "news.example.org",
        "impressions": 3,
        "clicks": 2,
        "spend_micros": 3_000_000,
        "spend": 3.0,
        "ctr": pytest.approx(2 / 3),
        "cpm": 1000.0,
        "cpc": 1.5,
    }
    assert (shop["website"], shop["impressions"], shop["clicks"], shop["spend"]) == (
        "shop.example.com",
        2,
        0,
        1.0,
    )
    assert (shop["ctr"], shop["cpm"], shop["cpc"]) == (0.0, 500.0, None)

    series = data["campaign"]["time_series"]
    assert data["campaign"]["campaign_id"] == "cmp-a"
    assert [(m["minute"], m["impressions"], m["spend"], m["bids"], m["wins"]) for m in series] == [
        ("2026-11-29T09:00:00.000Z", 3, 4.5, 6, 3),
        ("2026-11-29T09:01:00.000Z", 1, 1.5, 4, 1),
    ]
    assert series[0]["win_rate"] == 0.5 and series[1]["win_rate"] == 0.25
    assert series[1]["ctr"] == 0.0 and series[1]["cvr"] is None


def test_json_per_advertiser(report_tables):
    data = json.loads(run_report(report_tables, "--by", "advertiser", "--format", "json"))
    adv, unknown = data["advertisers"]
    assert (adv["advertiser_id"], adv["campaigns"], adv["impressions"], adv["clicks"]) == (
        "adv-1",
        2,
        6,
        3,
    )
    assert (adv["conversions"], adv["spend"], adv["bids"], adv["wins"]) == (1, 7.0, 12, 6)
    assert adv["ctr"] == 0.5
    assert adv["cvr"] == pytest.approx(1 / 3)
    assert adv["cpm"] == pytest.approx(7 / 6 * 1000)
    assert adv["cpc"] == pytest.approx(7 / 3)
    assert (adv["cpa"], adv["win_rate"]) == (7.0, 0.5)
    assert (unknown["advertiser_id"], unknown["campaigns"], unknown["clicks"]) == (None, 1, 1)
    assert unknown["ctr"] is None and unknown["win_rate"] is None


def test_csv(report_tables):
    rows = list(csv.DictReader(io.StringIO(run_report(report_tables, "--format", "csv"))))
    assert [(r["campaign_id"], r["impressions"], r["spend"], r["ctr"], r["cpa"]) for r in rows] == [
        ("cmp-a", "4", "6.0", "0.5", "6.0"),
        ("cmp-b", "2", "1.0", "0.5", ""),
        ("cmp-x", "0", "0.0", "", ""),
    ]
    assert rows[0]["campaign_name"] == "Alpha, 'winter'"

    text = run_report(report_tables, "--format", "csv", "--top", "1")
    campaigns, websites = text.split("\n\n")
    assert campaigns.startswith("# campaigns\n")
    assert websites.splitlines() == [
        "# top_websites",
        "website,impressions,clicks,spend_micros,spend,ctr,cpm,cpc",
        f"news.example.org,3,2,3000000,3.0,{2 / 3!r},1000.0,1.5",
    ]


def test_table(report_tables):
    out = run_report(report_tables, "--top", "2", "--campaign", "cmp-b")
    lines = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    assert "cmp-a adv-1 Alpha, 'winter' 4 2 1 6.00 50.00% 50.00% 1,500.00 3.00 6.00 40.00%" in (
        lines
    )
    assert "cmp-b adv-1 Beta 2 1 0 1.00 50.00% 0.00% 500.00 1.00 100.00%" in lines
    assert "cmp-x 0 1 0 0.00 0.00% 0.00" in lines
    assert "news.example.org 3 2 3.00 66.67% 1,000.00 1.50" in lines
    assert "shop.example.com 2 0 1.00 0.00% 500.00" in lines
    assert "2026-11-29 09:30 2 1 0 1.00 50.00% 0.00% 500.00 1.00 100.00%" in lines
    assert "Campaign cmp-b per minute, 2026-11-29 09:00 to 2026-11-29 10:00 UTC" in out


def test_a_missing_table_says_to_bootstrap(report_tables):
    cfg, _, _ = report_tables
    prefix = f"missing_{uuid.uuid4().hex[:8]}_"
    result = CliRunner().invoke(
        app,
        ["report", "--broker", cfg.pinot_broker_url, "--table-prefix", prefix],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 1
    assert f"{prefix}campaign_metrics_1m" in result.output
    assert f"advertisex bootstrap --table-prefix {prefix}" in result.output


@pytest.mark.parametrize("name", templates.query_names())
def test_query_files_run_as_they_are(report_tables, name):
    """What docs/queries/ holds, comments and example values included, is valid Pinot SQL."""
    cfg, _, names = report_tables
    query = templates.load(name)
    text = query.text.replace(f"FROM {query.table}\n", f"FROM {names[query.table]}\n")
    conn = pinotdb.connect(
        host=cfg.host, port=cfg.pinot_broker_port, path="/query/sql", scheme="http"
    )
    try:
        cursor = conn.cursor()
        cursor.execute(text)
        assert cursor.description, text
    finally:
        conn.close()
