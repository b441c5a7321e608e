"""adx_last_click (io.advertisex.flink.LastClickFunction), the process table function that
keeps the last click per conversion with its memory bounded by event time, in PyFlink's local
execution (no cluster, no Kafka): small CSV files with a computed rowtime and a WATERMARK one
second behind, parallelism 1, as in test_first_seen.py (whose docstring says when the
watermarks reach the function). sql/correlate.sql's own views are used where the join is.

Run with PYTHONPATH set to the work tree so functions_jar() builds its flink_jobs/java.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from pyflink.table import EnvironmentSettings, TableEnvironment
from pyflink.table.explain_detail import ExplainDetail

from advertisex.stack.jars import functions_jar
from flink_jobs.pipeline import _interval
from flink_jobs.sql_files import statements

T0 = 1_795_910_400_000
WINDOW_S = 30  # the conversion window of the join tests: short, so the timers fire
OUTPUT = (
    "event_id, event_time_ms, user_id, campaign_id, conversion_type, conversion_value, "
    "currency, click_id, click_event_time_ms, click_impression_id, advertiser_id, "
    "campaign_name, campaign_status, campaign_daily_budget_micros, campaign_known"
)


@pytest.fixture(scope="module")
def jar() -> Path:
    return functions_jar()


def table_env(jar: Path, streaming: bool = True) -> TableEnvironment:
    settings = (
        EnvironmentSettings.in_streaming_mode()
        if streaming
        else EnvironmentSettings.in_batch_mode()
    )
    env = TableEnvironment.create(settings)
    config = env.get_config()
    config.set("pipeline.jars", jar.resolve().as_uri())
    config.set("parallelism.default", "1")
    # As the pipeline sets it: the function's state must not depend on it (ttl 0).
    config.set("table.exec.state.ttl", "24 h")
    config.set("table.local-time-zone", "UTC")
    env.create_java_temporary_system_function(
        "adx_last_click", "io.advertisex.flink.LastClickFunction"
    )
    return env


def csv_table(env, tmp: Path, name: str, columns: str, rows: list[tuple]) -> None:
    """A table over a CSV file: the columns (the last one ts_ms BIGINT), rowtime from ts_ms
    and a watermark one second behind."""
    path = tmp / f"{name}.csv"
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    env.execute_sql(
        f"""CREATE TEMPORARY TABLE {name} ({columns},
              rowtime AS TO_TIMESTAMP_LTZ(ts_ms, 3),
              WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND)
            WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv')"""
    )


def collect(table) -> list[tuple[str, tuple]]:
    with table.execute().collect() as results:
        return [(str(r.get_row_kind()), tuple(r)) for r in results]


# -- 1. the function alone: what leaves, and when the conversion is forgotten --------------

# (conversion, click, click time, conversion time = rowtime). The watermark trails the
# highest conversion time by one second; the timer of v1 is at T0.
CANDIDATES = [
    ("v1", "k2", T0 - 5_000, T0),  # the first: leaves
    ("v1", "k1", T0 - 6_000, T0),  # an earlier click: nothing
    ("v1", "k3", T0 - 5_000, T0),  # the same time, a greater id: leaves
    ("v1", "k0", T0 - 5_000, T0),  # the same time, a smaller id: nothing
    ("v1", "k9", T0 - 1_000, T0),  # a later click: leaves
    ("v1", "k9", T0 - 1_000, T0),  # the same click again: nothing
    ("v2", "k5", T0 + 1_000, T0 + 2_000),  # leaves; the watermark passes T0: v1 is forgotten
    ("v1", "k1", T0 - 6_000, T0),  # v1 afresh (behind the watermark): leaves, though worse
    ("v1", "k0", T0 - 7_000, T0),  # the watermark has not moved: v1 is held, k0 is worse
    ("v3", "k6", T0 + 4_000, T0 + 5_000),  # leaves; the watermark moves on: v1 forgotten
    ("v1", "k0", T0 - 7_000, T0),  # v1 afresh again: leaves
    ("v3", "k7", T0 + 3_000, T0 + 5_000),  # v3 is still held (its time is ahead): nothing
]


def test_a_better_click_leaves_a_worse_one_does_not_and_the_watermark_forgets(jar, tmp_path):
    env = table_env(jar)
    csv_table(
        env,
        tmp_path,
        "raw_candidates",
        "event_id STRING, click_id STRING, click_event_time_ms BIGINT, ts_ms BIGINT",
        CANDIDATES,
    )
    env.execute_sql(
        """CREATE TEMPORARY VIEW candidates AS
           SELECT event_id, ts_ms AS event_time_ms, 'u1' AS user_id, 'c1' AS campaign_id,
                  'purchase' AS conversion_type, CAST(1.5 AS DOUBLE) AS conversion_value,
                  'EUR' AS currency,
                  click_id, click_event_time_ms,
                  CONCAT('imp-', click_id) AS click_impression_id, 'adv-1' AS advertiser_id,
                  'Winter' AS campaign_name, 'active' AS campaign_status,
                  CAST(5 AS BIGINT) AS campaign_daily_budget_micros, TRUE AS campaign_known,
                  rowtime
           FROM raw_candidates"""
    )
    table = env.sql_query(
        "SELECT * FROM adx_last_click(input => TABLE candidates PARTITION BY event_id, "
        "uid => 'last-click')"
    )
    # The conversion id first (the PARTITION BY column), then the INSERT's columns.
    assert table.get_schema().get_field_names() == OUTPUT.split(", ")
    physical = table.explain(ExplainDetail.CHANGELOG_MODE).split("== Optimized Physical Plan ==")
    changelogs = re.findall(r"changelogMode=\[([A-Z,]+)\]", physical[1].split("== Optimized")[0])
    assert changelogs and set(changelogs) == {"I"}  # insert-only, all the way

    rows = collect(table)
    assert all(kind == "+I" for kind, _ in rows)
    assert [(r[0], r[7], r[8]) for _, r in rows] == [
        ("v1", "k2", T0 - 5_000),
        ("v1", "k3", T0 - 5_000),
        ("v1", "k9", T0 - 1_000),
        ("v2", "k5", T0 + 1_000),
        ("v1", "k1", T0 - 6_000),
        ("v3", "k6", T0 + 4_000),
        ("v1", "k0", T0 - 7_000),
    ]
    first = rows[0][1]
    assert first == (
        "v1", T0, "u1", "c1", "purchase", 1.5, "EUR", "k2", T0 - 5_000, "imp-k2",
        "adv-1", "Winter", "active", 5, True,
    )  # fmt: skip


# -- 2. behind the interval join: the same last click as ROW_NUMBER in batch ---------------

CONVERSION_COLUMNS = (
    "event_id STRING, event_time_ms BIGINT, user_id STRING, campaign_id STRING, "
    "conversion_type STRING, conversion_value DOUBLE, currency STRING, advertiser_id STRING, "
    "campaign_name STRING, campaign_status STRING, campaign_daily_budget_micros BIGINT, "
    "campaign_known BOOLEAN, late BOOLEAN, arrival_window_ms BIGINT, ts_ms BIGINT"
)
CLICK_COLUMNS = (
    "event_id STRING, event_time_ms BIGINT, user_id STRING, campaign_id STRING, "
    "impression_id STRING, ts_ms BIGINT"
)


def out_of_order(rows: list[tuple], rng: random.Random) -> list[tuple]:
    """In event-time order but each row up to 0.9 s early or late (its time is last), so no row
    is behind the watermark (one second behind the highest time so far)."""
    return [row for _, row in sorted((row[-1] + rng.uniform(0, 900), row) for row in rows)]


def journey(rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    """Clicks and conversions of 3 users on 2 campaigns over 4 minutes; click times in whole
    seconds so that a conversion often has two last clicks at the same time (a tie)."""
    keys = [(f"u{u}", f"c{c}") for u in range(3) for c in range(2)]
    clicks = []
    for i in range(240):
        user, campaign = rng.choice(keys)
        ms = T0 + rng.randrange(240) * 1_000
        clicks.append((f"k{i:03d}", ms, user, campaign, f"imp-{i}", ms))
    conversions = []
    for i in range(80):
        user, campaign = rng.choice(keys)
        ms = T0 + rng.randrange(240_000)
        conversions.append(
            (f"v{i:02d}", ms, user, campaign, "purchase", float(i), "EUR", "adv-1", "Winter",
             "active", 5, "true", "false", 0, ms)
        )  # fmt: skip
    return out_of_order(clicks, rng), out_of_order(conversions, rng)


def correlate_views(env, last_click: str) -> None:
    """sql/correlate.sql's conversion join and last-click views (nothing else of it)."""
    parameters = {
        "click_window": _interval(1_800),
        "conversion_window": _interval(WINDOW_S),
        "last_click": last_click,
    }
    wanted = ("conversion_candidates", "click_candidates", "last_click_timed", "last_click_ranked")
    for statement in statements("correlate", parameters):
        view = re.match(r"CREATE TEMPORARY VIEW (\w+) AS\s+(.*)", statement, re.DOTALL)
        if view and view.group(1) in wanted:
            env.create_temporary_view(view.group(1), env.sql_query(view.group(2)))


def last_clicks(jar: Path, tmp: Path, streaming: bool, clicks, conversions) -> dict:
    env = table_env(jar, streaming)
    tmp.mkdir()
    csv_table(env, tmp, "first_clicks", CLICK_COLUMNS, clicks)
    csv_table(env, tmp, "first_conversions", CONVERSION_COLUMNS, conversions)
    view = "last_click_timed" if streaming else "last_click_ranked"
    correlate_views(env, view)
    if streaming:
        # What the timer at the conversion's rowtime relies on: the join's output watermark
        # trails by the conversion window, so every candidate leaves it ahead of the watermark.
        ahead = collect(
            env.sql_query(
                "SELECT CURRENT_WATERMARK(rowtime) IS NULL OR CURRENT_WATERMARK(rowtime) < rowtime "
                "FROM click_candidates"
            )
        )
        assert ahead and {row for _, row in ahead} == {(True,)}
    rows = collect(env.sql_query(f"SELECT {OUTPUT} FROM {view}"))
    assert {kind for kind, _ in rows} == {"+I"}
    final = {}
    for _, row in rows:  # the upsert sink keeps the latest row per conversion
        final[row[0]] = row
    return final, len(rows)


def test_out_of_order_candidates_end_on_the_row_number_of_batch(jar, tmp_path):
    rng = random.Random(7)
    clicks, conversions = journey(rng)
    streamed, updates = last_clicks(jar, tmp_path / "s", True, clicks, conversions)
    batch, _ = last_clicks(jar, tmp_path / "b", False, clicks, conversions)
    print(f"\n{len(batch)} attributed conversions, {updates} rows streamed")
    assert len(batch) > 40
    assert streamed == batch
    # Some conversions were updated (the join found a better click after the first), and
    # some had two clicks at the last time (the greater id won).
    assert updates > len(batch)
    by_conversion: dict[str, list[tuple]] = {}
    conversion_keys = {c[0]: (c[2], c[3], c[-1]) for c in conversions}
    for k in clicks:
        for v, (user, campaign, ms) in conversion_keys.items():
            if (k[2], k[3]) == (user, campaign) and ms - WINDOW_S * 1_000 <= k[-1] <= ms:
                by_conversion.setdefault(v, []).append((k[1], k[0]))
    ties = [v for v, ks in by_conversion.items() if [t for t, _ in ks].count(max(ks)[0]) > 1]
    assert ties
    for v in ties:
        assert batch[v][7] == max(by_conversion[v])[1]


# -- 3. the pipeline's choice per mode ------------------------------------------------------


def test_streaming_uses_the_function_and_batch_the_ranking(tmp_path):
    from flink_jobs.tables import FileTables, KafkaOptions, KafkaTables

    kafka = KafkaTables(KafkaOptions(bootstrap="localhost:9092"))
    files = FileTables(tmp_path, tmp_path)
    assert kafka.sql_parameters("INTERVAL '10' SECOND")["last_click"] == "last_click_timed"
    assert files.sql_parameters("INTERVAL '10' SECOND")["last_click"] == "last_click_ranked"
