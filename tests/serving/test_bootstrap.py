"""`advertisex bootstrap` on the real Kafka and Pinot: idempotent, updates what changed,
refuses what Pinot cannot change in place, and the tables ingest exactly once."""

from __future__ import annotations

import json
import time
import uuid

import pinotdb
import pytest
from confluent_kafka import Producer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from pinot_sql import query  # tests/pinot_sql.py
from typer.testing import CliRunner

from advertisex.cli import app
from advertisex.contract.schemas import output_names
from advertisex.contract.topics import output_topics
from advertisex.serving import bootstrap as bootstrap_module
from advertisex.serving.bootstrap import (
    BootstrapSettings,
    bootstrap,
    pinot_table_file,
)
from advertisex.serving.pinot_admin import PinotAdmin, PinotError

pytestmark = pytest.mark.pinot
PARTITIONS = 4


def settings_for(cfg, run: str) -> BootstrapSettings:
    return BootstrapSettings(
        kafka_bootstrap=cfg.kafka_bootstrap,
        pinot_controller=cfg.pinot_controller_url,
        topic_prefix=f"{run}.",
        table_prefix=f"{run}_",
    )


def cli_args(settings: BootstrapSettings) -> list[str]:
    return [
        "bootstrap",
        "--kafka-bootstrap",
        settings.kafka_bootstrap,
        "--pinot-controller",
        settings.pinot_controller,
        "--topic-prefix",
        settings.topic_prefix,
        "--table-prefix",
        settings.table_prefix,
    ]


def drop_all(settings: BootstrapSettings) -> None:
    with PinotAdmin(settings.pinot_controller) as admin:
        for name in output_names():
            table = settings.table_prefix + name
            if admin.get_table(table) is not None:
                admin.drop_table(table)
            if admin.get_schema(table) is not None:
                admin.delete_schema(table)


@pytest.fixture(scope="module")
def stacked(pinot):
    """One bootstrap of everything under prefixes of this module's own; its outcomes."""
    settings = settings_for(pinot, f"bs{uuid.uuid4().hex[:8]}")
    try:
        yield settings, bootstrap(settings)
    finally:
        drop_all(settings)


def statuses(outcomes) -> dict[tuple[str, str], str]:
    return {(o.kind, o.name): o.status for o in outcomes}


def test_first_run_creates_every_topic_schema_and_table(stacked):
    settings, outcomes = stacked
    topics = {o.name for o in outcomes if o.kind == "topic"}
    assert len(topics) == 3 + 1 + 9
    assert {settings.topic_prefix + t for t in output_topics().values()} <= topics
    tables = {settings.table_prefix + n for n in output_names()}
    assert {o.name for o in outcomes if o.kind == "table"} == tables
    assert {o.name for o in outcomes if o.kind == "schema"} == tables
    assert {o.status for o in outcomes} == {"created"}, outcomes
    # Pinot knew every key of the files (it lists the ones it would ignore).
    assert not [o for o in outcomes if "ignores" in o.detail], outcomes
    with PinotAdmin(settings.pinot_controller) as admin:
        impressions = admin.get_table(settings.table_prefix + "impressions")
        metrics = admin.get_table(settings.table_prefix + "campaign_metrics_1m")
    assert impressions["dedupConfig"]["dedupEnabled"] is True
    assert impressions["tableIndexConfig"]["starTreeIndexConfigs"]
    assert metrics["upsertConfig"]["mode"] == "FULL"


def test_second_run_changes_nothing_and_says_so(stacked):
    settings, first = stacked
    again = bootstrap(settings)
    assert statuses(again) == {key: "unchanged" for key in statuses(first)}
    result = CliRunner().invoke(app, cli_args(settings), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert result.output.count("unchanged") >= len(first)
    assert "created" not in result.output and "updated" not in result.output


def test_a_changed_setting_is_updated(stacked, monkeypatch):
    settings, _ = stacked
    name = settings.table_prefix + "conversions"
    changed = pinot_table_file("conversions")
    changed["segmentsConfig"]["retentionTimeValue"] = "60"
    changed["tableIndexConfig"]["invertedIndexColumns"].append("user_id")
    monkeypatch.setattr(bootstrap_module, "pinot_table_file", lambda output: changed)

    outcomes = statuses(bootstrap(settings, outputs=["conversions"]))
    assert outcomes[("table", name)] == "updated"
    assert outcomes[("schema", name)] == "unchanged"
    (table,) = [o for o in bootstrap(settings, outputs=["conversions"]) if o.kind == "table"]
    assert table.status == "unchanged"
    with PinotAdmin(settings.pinot_controller) as admin:
        held = admin.get_table(name)
    assert held["segmentsConfig"]["retentionTimeValue"] == "60"
    assert "user_id" in held["tableIndexConfig"]["invertedIndexColumns"]

    monkeypatch.undo()
    (table,) = [o for o in bootstrap(settings, outputs=["conversions"]) if o.kind == "table"]
    assert table.status == "updated"
    assert "segmentsConfig.retentionTimeValue" in table.detail
    assert "tableIndexConfig.invertedIndexColumns" in table.detail


def test_a_changed_topic_config_is_set_back(stacked):
    settings, _ = stacked
    topic = settings.topic_prefix + output_topics()["dq_metrics"]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"cleanup.policy": "delete"})],
            incremental=True,
        )
    finally:
        admin.close()
    outcomes = {(o.kind, o.name): o for o in bootstrap(settings, outputs=["dq_metrics"])}
    assert outcomes[("topic", topic)].status == "updated"
    assert outcomes[("topic", topic)].detail == "cleanup.policy: delete -> compact"
    assert statuses(bootstrap(settings, outputs=["dq_metrics"]))[("topic", topic)] == "unchanged"


def test_a_change_pinot_cannot_make_is_refused_with_a_way_out(stacked, monkeypatch):
    settings, _ = stacked
    name = settings.table_prefix + "bid_requests"
    upsert = pinot_table_file("bid_requests")
    del upsert["dedupConfig"]
    upsert["upsertConfig"] = {"mode": "FULL"}
    monkeypatch.setattr(bootstrap_module, "pinot_table_file", lambda output: upsert)

    (refused,) = [o for o in bootstrap(settings, outputs=["bid_requests"]) if o.kind == "table"]
    assert refused.status == "refused"
    assert refused.name == name
    assert f"table {name} cannot be changed in place" in refused.detail
    assert "dedupConfig" in refused.detail and "upsertConfig" in refused.detail
    assert (
        f"advertisex bootstrap --topic-prefix {settings.topic_prefix} "
        f"--table-prefix {settings.table_prefix} --recreate bid_requests" in refused.detail
    )
    assert "rows are lost" in refused.detail
    with PinotAdmin(settings.pinot_controller) as admin:
        held = admin.get_table(name)
    assert held["dedupConfig"]["dedupEnabled"] is True and "upsertConfig" not in held

    result = CliRunner().invoke(app, cli_args(settings), env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert f"refused: table {name}" in " ".join(result.output.split())


@pytest.mark.parametrize(
    "output, change, message",
    [
        (
            "campaign_metrics_1m",
            lambda t: t["tableIndexConfig"].update(
                starTreeIndexConfigs=[
                    {
                        "dimensionsSplitOrder": ["campaign_id"],
                        "functionColumnPairs": ["SUM__impressions"],
                        "maxLeafRecords": 10000,
                    }
                ]
            ),
            "The upsert table cannot have star-tree index",
        ),
        (
            "clicks",
            lambda t: t.pop("routing"),
            "must use strict replica-group",
        ),
        (
            "dq_metrics",
            lambda t: t.update(dedupConfig={"dedupEnabled": True, "hashFunction": "NONE"}),
            "either Upsert or Dedup enabled, but not both",
        ),
    ],
)
def test_what_pinot_itself_refuses(stacked, output, change, message):
    """Pinot 0.11's own checks, which the files stay within (docs/pinot.md)."""
    settings, _ = stacked
    table = bootstrap_module.pinot_table(output, settings)
    change(table)
    with PinotAdmin(settings.pinot_controller) as admin:
        with pytest.raises(PinotError, match=message):
            admin.validate_table(table)


def test_recreate_drops_the_table_and_creates_it_anew(pinot, monkeypatch):
    settings = settings_for(pinot, f"rc{uuid.uuid4().hex[:8]}")
    name = settings.table_prefix + "dead_letters"
    try:
        assert {o.status for o in bootstrap(settings, outputs=["dead_letters"])} == {"created"}
        upsert = pinot_table_file("dead_letters")
        del upsert["dedupConfig"]
        upsert["upsertConfig"] = {"mode": "FULL"}
        monkeypatch.setattr(bootstrap_module, "pinot_table_file", lambda output: upsert)
        outcomes = bootstrap(settings, outputs=["dead_letters"], recreate=["dead_letters"])
        assert statuses(outcomes)[("table", name)] == "recreated"
        with PinotAdmin(settings.pinot_controller) as admin:
            assert admin.get_table(name)["upsertConfig"]["mode"] == "FULL"
        monkeypatch.undo()
        outcomes = bootstrap(settings, outputs=["dead_letters"], recreate=["dead_letters"])
        assert statuses(outcomes)[("table", name)] == "recreated"
        outcomes = bootstrap(settings, outputs=["dead_letters"], recreate=["dead_letters"])
        assert {o.status for o in outcomes} == {"unchanged"}
    finally:
        drop_all(settings)


def test_an_output_topic_with_another_partition_count_is_left_alone(pinot):
    settings = settings_for(pinot, f"pc{uuid.uuid4().hex[:8]}")
    topic = settings.topic_prefix + output_topics()["clicks"]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        admin.close()
    outcomes = {(o.kind, o.name): o for o in bootstrap(settings, outputs=["clicks"])}
    refused = outcomes[("topic", topic)]
    assert refused.status == "refused"
    assert refused.detail.startswith("has 2 partitions, the spec says 4")
    table = outcomes[("table", settings.table_prefix + "clicks")]
    assert table.status == "refused" and topic in table.detail
    with PinotAdmin(settings.pinot_controller) as pinot_admin:
        assert pinot_admin.get_table(settings.table_prefix + "clicks") is None


def test_missing_servers_are_named(kafka):
    closed = "127.0.0.1:1"
    result = CliRunner().invoke(app, ["bootstrap", "--kafka-bootstrap", closed])
    assert result.exit_code == 1
    assert f"Kafka at {closed} is not reachable" in result.output
    assert "advertisex stack up kafka" in result.output
    result = CliRunner().invoke(
        app,
        [
            "bootstrap",
            "--kafka-bootstrap",
            kafka.kafka_bootstrap,
            "--pinot-controller",
            f"http://{closed}",
            "--topic-prefix",
            f"np{uuid.uuid4().hex[:8]}.",
        ],
    )
    assert result.exit_code == 1
    assert "advertisex stack up pinot" in result.output


# Ingestion: exactly once into Pinot


def produce(bootstrap_servers: str, topic: str, transactions: list) -> None:
    """Each transaction is (commit?, [(key, row, partition or None)]). Keys are spread by
    murmur2, as the pipeline's Java producer does; aborted rows reach the log first."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "transactional.id": f"test-{topic}-{uuid.uuid4().hex[:6]}",
            "partitioner": "murmur2_random",
        }
    )
    producer.init_transactions(30)
    for commit, messages in transactions:
        producer.begin_transaction()
        for key, row, partition in messages:
            where = {} if partition is None else {"partition": partition}
            producer.produce(topic, key=key.encode(), value=json.dumps(row).encode(), **where)
        assert producer.flush(30) == 0
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)


def rows_once(cfg, sql: str, sentinel_sql: str, timeout: float = 120) -> list[tuple]:
    """The rows of sql once every partition's sentinel (the last message) is in: all that
    came before it has been consumed. Polls until the deadline."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        try:
            seen = query(cfg, sentinel_sql)[0][0]
        except pinotdb.exceptions.DatabaseError:
            seen = None  # the consuming segments are still being set up
        if seen == PARTITIONS:
            return query(cfg, sql)
        time.sleep(0.5)
    raise AssertionError(f"sentinels seen after {timeout:.0f} s: {seen} of {PARTITIONS}")


def click(event_id: str, marker: str) -> dict:
    return {
        "event_id": event_id,
        "event_time_ms": 1_767_225_600_000,
        "event_type": "click",
        "user_id": marker,
        "campaign_id": "camp-1",
        "impression_id": f"imp-{event_id}",
        "advertiser_id": "adv-1",
        "campaign_name": "Campaign 1",
        "campaign_status": "active",
        "campaign_daily_budget_micros": 5_000_000,
        "campaign_known": True,
    }


def test_dedup_table_keeps_the_first_row_per_id_and_nothing_aborted(stacked, pinot):
    settings, _ = stacked
    topic = settings.topic_prefix + output_topics()["clicks"]
    table = settings.table_prefix + "clicks"

    def sent(event_id: str, marker: str, partition: int | None = None):
        return (event_id, click(event_id, marker), partition)

    produce(
        settings.kafka_bootstrap,
        topic,
        [
            (True, [sent("c1", "first"), sent("c2", "first")]),
            (True, [sent("c1", "second"), sent("c3", "first"), sent("c3", "second")]),
            (False, [sent("c4", "aborted"), sent("c2", "aborted")]),
            (True, [sent("c2", "third")]),
            (True, [sent(f"sentinel-{p}", "first", p) for p in range(PARTITIONS)]),
        ],
    )
    rows = rows_once(
        pinot,
        f"SELECT event_id, user_id FROM {table} ORDER BY event_id LIMIT 100",
        f"SELECT COUNT(*) FROM {table} WHERE event_id LIKE 'sentinel-%'",
    )
    assert [tuple(r) for r in rows] == [
        ("c1", "first"),
        ("c2", "first"),
        ("c3", "first"),
        *[(f"sentinel-{p}", "first") for p in range(PARTITIONS)],
    ]


def metrics_row(campaign: str, window_start_ms: int, impressions: int) -> tuple:
    key = f"{campaign}:{window_start_ms}"
    row = {
        "campaign_id": campaign,
        "window_start_ms": window_start_ms,
        "window_end_ms": window_start_ms + 60_000,
        "impressions": impressions,
        "clicks": 0,
        "attributed_clicks": 0,
        "unattributed_clicks": 0,
        "conversions": 0,
        "unattributed_conversions": 0,
        "conversion_value": 0.0,
        "spend_micros": 1000 * impressions,
        "bids": 0,
        "wins": 0,
        "ctr": 0.0,
        "cvr": None,
        "win_rate": None,
        "advertiser_id": "adv-1",
        "campaign_name": "Campaign",
        "campaign_status": "active",
        "campaign_daily_budget_micros": 5_000_000,
        "campaign_known": True,
    }
    return key, row


def test_upsert_table_keeps_the_latest_row_per_key_and_nothing_aborted(stacked, pinot):
    settings, _ = stacked
    topic = settings.topic_prefix + output_topics()["campaign_metrics_1m"]
    table = settings.table_prefix + "campaign_metrics_1m"
    minute = 1_767_225_600_000

    def sent(campaign: str, window: int, impressions: int, partition: int | None = None):
        return (*metrics_row(campaign, window, impressions), partition)

    produce(
        settings.kafka_bootstrap,
        topic,
        [
            (True, [sent("A", minute, 1), sent("B", minute, 1)]),
            (True, [sent("A", minute, 2), sent("A", minute + 60_000, 1)]),
            (False, [sent("A", minute, 99), sent("C", minute, 1)]),
            (True, [sent("B", minute, 2), sent("B", minute, 3)]),
            (True, [sent(f"sentinel-{p}", minute, 1, p) for p in range(PARTITIONS)]),
        ],
    )
    rows = rows_once(
        pinot,
        f"SELECT campaign_id, window_start_ms, impressions, spend_micros FROM {table} "
        "ORDER BY campaign_id, window_start_ms LIMIT 100",
        f"SELECT COUNT(*) FROM {table} WHERE campaign_id LIKE 'sentinel-%'",
    )
    assert [tuple(r) for r in rows] == [
        ("A", minute, 2, 2000),
        ("A", minute + 60_000, 1, 1000),
        ("B", minute, 3, 3000),
        *[(f"sentinel-{p}", minute, 1, 1000) for p in range(PARTITIONS)],
    ]


def test_dq_metrics_keeps_invalid_by_reason_as_json(stacked, pinot):
    settings, _ = stacked
    topic = settings.topic_prefix + output_topics()["dq_metrics"]
    table = settings.table_prefix + "dq_metrics"
    minute = 1_767_225_600_000

    def sent(source: str, invalid: dict, partition: int | None = None):
        row = {
            "source": source,
            "window_start_ms": minute,
            "window_end_ms": minute + 60_000,
            "received": 10,
            "valid": 10 - sum(invalid.values()),
            "invalid": sum(invalid.values()),
            "invalid_by_reason": invalid,
            "duplicates": 0,
            "late": 0,
            "unattributed": 0,
            "event_time_delay_p50_ms": 120.0,
            "event_time_delay_max_ms": 900,
        }
        return (f"{source}:{minute}", row, partition)

    produce(
        settings.kafka_bootstrap,
        topic,
        [
            (True, [sent("impressions", {"bad_timestamp": 1})]),
            (True, [sent("impressions", {"bad_timestamp": 2, "missing_field:user_id": 1})]),
            (True, [sent("bid_requests", {})]),
            (True, [sent(f"sentinel-{p}", {}, p) for p in range(PARTITIONS)]),
        ],
    )
    rows = rows_once(
        pinot,
        "SELECT source, invalid, "
        "JSON_EXTRACT_SCALAR(invalid_by_reason, '$.bad_timestamp', 'INT', 0) "
        f"FROM {table} WHERE source NOT LIKE 'sentinel-%' ORDER BY source LIMIT 10",
        f"SELECT COUNT(*) FROM {table} WHERE source LIKE 'sentinel-%'",
    )
    assert [tuple(r) for r in rows] == [("bid_requests", 0, 0), ("impressions", 3, 2)]
    matched = query(
        pinot,
        f"SELECT source FROM {table} "
        "WHERE JSON_MATCH(invalid_by_reason, '\"$.missing_field:user_id\" = 1')",
    )
    assert [tuple(r) for r in matched] == [("impressions",)]
