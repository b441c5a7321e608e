"""adx_first_seen (io.advertisex.flink.FirstSeenFunction), a process table function that
deduplicates by id with its memory bounded by event time, in PyFlink's local execution (no
cluster, no Kafka): small CSV files with a computed rowtime and a WATERMARK stand in for the
raw topics, parallelism 1 so the order of records and watermarks is the file's.

The source's watermark trails by one second and its assigner emits one as soon as the event
time has moved more than pipeline.auto-watermark-interval (200 ms) since the last: in these
files the watermark a record brings reaches the function before the next record does. Each
bounded file ends with the final watermark, which fires whatever timers are left.

Run with PYTHONPATH set to the work tree so functions_jar() builds its flink_jobs/java.
`-s` shows the EXPLAIN excerpts and the timings.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pyflink.table import EnvironmentSettings, TableEnvironment
from pyflink.table.explain_detail import ExplainDetail

from advertisex.stack.jars import functions_jar

HOUR = 3_600_000
T0 = 1_795_910_400_000  # any time will do; a real one reads better in a failure
CALL = "adx_first_seen(input => TABLE {table} PARTITION BY {key}, horizon => {horizon}{extra})"


@pytest.fixture(scope="module")
def jar() -> Path:
    return functions_jar()


def table_env(jar: Path, streaming: bool = True) -> TableEnvironment:
    settings = (
        EnvironmentSettings.in_streaming_mode()
        if streaming
        else (EnvironmentSettings.in_batch_mode())
    )
    env = TableEnvironment.create(settings)
    config = env.get_config()
    config.set("pipeline.jars", jar.resolve().as_uri())
    config.set("parallelism.default", "1")
    # As the pipeline sets it: the function's state must not depend on it (ttl 0).
    config.set("table.exec.state.ttl", "24 h")
    env.create_java_temporary_system_function(
        "adx_first_seen", "io.advertisex.flink.FirstSeenFunction"
    )
    return env


def csv_table(env, tmp: Path, name: str, columns: str, rows: list[tuple]) -> None:
    """A table `name` over a CSV file: the given columns (the last one ts_ms BIGINT), a rowtime
    read from ts_ms with a watermark one second behind, and a proc_time, as raw_<source> has."""
    path = tmp / f"{name}.csv"
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    env.execute_sql(
        f"""CREATE TEMPORARY TABLE {name} ({columns},
              rowtime AS TO_TIMESTAMP_LTZ(ts_ms, 3),
              proc_time AS PROCTIME(),
              WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND)
            WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv')"""
    )


def collect(table) -> list[tuple[str, tuple]]:
    with table.execute().collect() as results:
        return [(str(r.get_row_kind()), tuple(r)) for r in results]


def columns(table) -> list[tuple[str, str]]:
    """The table's columns as the planner resolved them, time attributes included."""
    resolved = table._j_table.getResolvedSchema()
    return [(c.getName(), c.getDataType().toString()) for c in resolved.getColumns()]


def explain(table, *details) -> str:
    text = table.explain(*details)
    print("\n" + text)
    return text


def optimized_plan(text: str) -> str:
    return text.split("== Optimized Execution Plan ==")[0].split("== Optimized Physical Plan ==")[1]


# -- 1. the whole row, once per id, on arrival, insert-only -----------------------------------


def test_the_first_row_of_each_id_leaves_whole_at_once_and_insert_only(jar, tmp_path):
    env = table_env(jar)
    # A schema the function knows nothing about: the output must follow it.
    csv_table(
        env,
        tmp_path,
        "events",
        "label STRING, id STRING, amount DECIMAL(10, 2), ok BOOLEAN, ts_ms BIGINT",
        [
            ("x", "a", "1.50", "true", T0),
            ("y", "b", "2.00", "false", T0 + 1_000),
            ("z", "a", "9.99", "true", T0 + 2_000),  # a duplicate of a
            ("w", "c", "3.25", "true", T0 + 3_000),
        ],
    )
    table = env.sql_query(
        "SELECT * FROM "
        + CALL.format(table="events", key="id", horizon="INTERVAL '1' DAY", extra="")
    )
    # The PARTITION BY column leads (the framework puts it there), then the input's others in
    # their order, rowtime still a rowtime attribute, proc_time still a proctime attribute.
    assert columns(table) == [
        ("id", "STRING"),
        ("label", "STRING"),
        ("amount", "DECIMAL(10, 2)"),
        ("ok", "BOOLEAN"),
        ("ts_ms", "BIGINT"),
        ("rowtime", "TIMESTAMP_LTZ(3) *ROWTIME*"),
        ("proc_time", "TIMESTAMP_LTZ(3) NOT NULL *PROCTIME*"),
    ]
    plan = explain(table, ExplainDetail.CHANGELOG_MODE)
    physical = optimized_plan(plan)
    assert "TIMESTAMP_LTZ(3) *ROWTIME* rowtime" in physical
    assert "changelogMode=[I]" in physical and "changelogMode=[I,UB,UA]" not in physical
    assert all(
        "changelogMode=[I]" in line for line in physical.splitlines() if "changelogMode" in line
    )

    # CURRENT_WATERMARK downstream of the function: each row left before the watermark passed
    # it, so the function held nothing back until the watermark.
    rows = collect(
        env.sql_query(
            "SELECT id, label, CAST(amount AS STRING), ok, ts_ms, "
            "CURRENT_WATERMARK(rowtime) IS NULL OR CURRENT_WATERMARK(rowtime) < rowtime, "
            "proc_time IS NOT NULL "
            "FROM " + CALL.format(table="events", key="id", horizon="INTERVAL '1' DAY", extra="")
        )
    )
    assert rows == [
        ("+I", ("a", "x", "1.50", True, T0, True, True)),
        ("+I", ("b", "y", "2.00", False, T0 + 1_000, True, True)),
        ("+I", ("c", "w", "3.25", True, T0 + 3_000, True, True)),
    ]


# -- 2. rowtime stays a time attribute: an interval join downstream ---------------------------


def test_an_interval_left_join_accepts_the_deduplicated_rowtime(jar, tmp_path):
    env = table_env(jar)
    minute = 60_000
    csv_table(
        env,
        tmp_path,
        "impressions",
        "impression_id STRING, ts_ms BIGINT",
        [("i1", T0), ("i1", T0 + 1_000), ("i2", T0 + minute)],
    )
    csv_table(
        env,
        tmp_path,
        "clicks",
        "event_id STRING, impression_id STRING, ts_ms BIGINT",
        [
            ("k1", "i1", T0 + 10 * minute),
            ("k1", "i1", T0 + 11 * minute),  # a duplicate click
            ("k3", "i9", T0 + 20 * minute),  # no impression
            ("k2", "i2", T0 + 45 * minute),  # 44 minutes after i2: outside the window
        ],
    )
    env.execute_sql(
        "CREATE TEMPORARY VIEW first_impressions AS SELECT * FROM "
        + CALL.format(
            table="impressions",
            key="impression_id",
            horizon="INTERVAL '1' DAY",
            extra=", uid => 'first-impressions'",
        )
    )
    env.execute_sql(
        "CREATE TEMPORARY VIEW first_clicks AS SELECT * FROM "
        + CALL.format(
            table="clicks",
            key="event_id",
            horizon="INTERVAL '1' DAY",
            extra=", uid => 'first-clicks'",
        )
    )
    table = env.sql_query(
        """SELECT c.event_id, i.impression_id, c.ts_ms - i.ts_ms
           FROM first_clicks AS c
           LEFT JOIN first_impressions AS i
             ON c.impression_id = i.impression_id
            AND c.rowtime BETWEEN i.rowtime AND i.rowtime + INTERVAL '30' MINUTE"""
    )
    physical = optimized_plan(explain(table, ExplainDetail.CHANGELOG_MODE))
    assert "IntervalJoin(joinType=[LeftOuterJoin]" in physical
    assert "windowBounds=[isRowTime=true" in physical
    assert physical.count("ProcessTableFunction(") == 2
    rows = collect(table)
    assert sorted(rows) == [
        ("+I", ("k1", "i1", 10 * minute)),
        ("+I", ("k2", None, None)),
        ("+I", ("k3", None, None)),
    ]


# -- 3. forgetting at first rowtime + horizon, by the watermark -------------------------------

# The watermark trails the highest rowtime by one second; a is first seen at T0, so it is
# remembered until the watermark passes T0 + 1 h.
HORIZON_ROWS = [
    ("a", 1, T0),  # first a: leaves; forgotten when the watermark passes T0 + 1 h
    ("a", 2, T0 + HOUR + 500),  # after T0 + 1 h, but the watermark is at T0 + 1 h - 0.5 s: dropped
    ("b", 3, T0 + HOUR + 2_000),  # first b; the watermark passes T0 + 1 h: a is forgotten
    ("a", 4, T0 + HOUR + 2_100),  # a is first again
    ("a", 5, T0 + 10),  # late (behind the watermark), and a is remembered: dropped
    ("e", 6, T0 + 2_000),  # late, first e, e + 1 h is ahead of the watermark: remembered
    ("e", 7, T0 + 2_500),  # late duplicate of a remembered e: dropped
    ("c", 8, T0 + 20),  # late, c + 1 h is already behind the watermark: leaves, not remembered
    ("c", 9, T0 + 30),  # so this c leaves too (beyond the horizon, first-wins again)
]


def test_an_id_is_forgotten_once_the_watermark_passes_its_first_rowtime_plus_horizon(jar, tmp_path):
    env = table_env(jar)
    csv_table(env, tmp_path, "events", "id STRING, v INT, ts_ms BIGINT", HORIZON_ROWS)
    rows = collect(
        env.sql_query(
            "SELECT id, v FROM "
            + CALL.format(table="events", key="id", horizon="INTERVAL '1' HOUR", extra="")
        )
    )
    assert rows == [("+I", r) for r in [("a", 1), ("b", 3), ("a", 4), ("e", 6), ("c", 8), ("c", 9)]]


def test_with_on_time_the_framework_drops_every_late_row(jar, tmp_path):
    """on_time => DESCRIPTOR(rowtime) hands time to the framework, which drops a row that is
    behind the watermark before the function sees it (ProcessTableRunner.processEval): the
    late e and c rows vanish, which the pipeline's contract does not allow (late records
    are output, flagged). The time column then moves to the end."""
    env = table_env(jar)
    csv_table(env, tmp_path, "events", "id STRING, v INT, ts_ms BIGINT", HORIZON_ROWS)
    table = env.sql_query(
        "SELECT * FROM "
        + CALL.format(
            table="events",
            key="id",
            horizon="INTERVAL '1' HOUR",
            extra=", on_time => DESCRIPTOR(rowtime)",
        )
    )
    assert columns(table) == [
        ("id", "STRING"),
        ("v", "INT"),
        ("ts_ms", "BIGINT"),
        ("proc_time", "TIMESTAMP_LTZ(3) NOT NULL *PROCTIME*"),
        ("rowtime", "TIMESTAMP_LTZ(3) NOT NULL *ROWTIME*"),  # the framework's column
    ]
    assert "*ROWTIME* rowtime" in optimized_plan(explain(table))
    rows = collect(
        env.sql_query(
            "SELECT id, v FROM "
            + CALL.format(
                table="events",
                key="id",
                horizon="INTERVAL '1' HOUR",
                extra=", on_time => DESCRIPTOR(rowtime)",
            )
        )
    )
    assert rows == [("+I", r) for r in [("a", 1), ("b", 3), ("a", 4)]]


# -- 4. batch ---------------------------------------------------------------------------------


def test_batch_mode_cannot_run_it(jar, tmp_path):
    """Batch has no time attributes (so this function refuses the input), and Flink 2.2 has no
    batch rule for any PTF (a trivial PTF fails with 'Cannot generate a valid execution plan
    ... convention=BATCH_PHYSICAL'): batch keeps ROW_NUMBER."""
    env = table_env(jar, streaming=False)
    csv_table(env, tmp_path, "events", "id STRING, v INT, ts_ms BIGINT", HORIZON_ROWS)
    with pytest.raises(Exception, match="no rowtime attribute"):
        env.sql_query(
            "SELECT * FROM "
            + CALL.format(table="events", key="id", horizon="INTERVAL '1' HOUR", extra="")
        )


# -- 5. how it is called ------------------------------------------------------------------------


def test_call_forms(jar, tmp_path):
    env = table_env(jar)
    csv_table(env, tmp_path, "events", "id STRING, v INT, ts_ms BIGINT", HORIZON_ROWS)
    # Positional: the table, then the horizon (then on_time, uid, or DEFAULT).
    positional = env.sql_query(
        "SELECT id, v FROM adx_first_seen(TABLE events PARTITION BY id, INTERVAL '1' HOUR)"
    )
    assert len(collect(positional)) == 6
    # A query as input: `input => (SELECT ...) PARTITION BY id` (not `TABLE (SELECT ...)`).
    subquery = env.sql_query(
        "SELECT id, v FROM adx_first_seen(input => (SELECT * FROM events WHERE v > 1) "
        "PARTITION BY id, horizon => INTERVAL '1' HOUR)"
    )
    assert len(collect(subquery)) == 5
    # A view as input (a filter before the function, as records.sql has) works.
    env.execute_sql("CREATE TEMPORARY VIEW valid AS SELECT * FROM events WHERE v > 1")
    # Without a 1, a 2 is the first a (at T0 + 1 h + 0.5 s), so a 4 is its duplicate.
    filtered = env.sql_query(
        "SELECT id, v FROM "
        + CALL.format(table="valid", key="id", horizon="INTERVAL '1' HOUR", extra="")
    )
    assert [row for _, row in collect(filtered)] == [
        ("a", 2),
        ("b", 3),
        ("e", 6),
        ("c", 8),
        ("c", 9),
    ]
    # Two different calls in one job need their own uid (the function name is the default);
    # identical calls with the same uid are one operator whose output is shared.
    twice = "SELECT id FROM {0} UNION ALL SELECT id FROM {1}"
    hour = CALL.format(table="events", key="id", horizon="INTERVAL '1' HOUR", extra="{uid}")
    day = CALL.format(table="events", key="id", horizon="INTERVAL '1' DAY", extra="{uid}")
    with pytest.raises(Exception, match="Duplicate unique identifier 'adx_first_seen'"):
        env.sql_query(twice.format(hour.format(uid=""), day.format(uid=""))).explain()
    plan = env.sql_query(
        twice.format(hour.format(uid=", uid => 'x'"), day.format(uid=", uid => 'y'"))
    ).explain()
    assert "uid=[x]" in plan and "uid=[y]" in plan
    same = env.sql_query(twice.format(hour.format(uid=""), hour.format(uid=""))).explain()
    execution = same.split("== Optimized Execution Plan ==")[1]
    assert execution.count("ProcessTableFunction(") == 1 and "Reused" in execution
    # The horizon is an INTERVAL: a BIGINT is refused.
    with pytest.raises(Exception, match="No match found for function signature"):
        env.sql_query(
            "SELECT id FROM " + CALL.format(table="events", key="id", horizon="3600000", extra="")
        )
    # PARTITION BY is required.
    with pytest.raises(Exception, match="'input' requires a PARTITION BY clause"):
        env.sql_query(
            "SELECT id FROM adx_first_seen(input => TABLE events, horizon => INTERVAL '1' HOUR)"
        )
    # An updating input is refused (the function declares no SUPPORT_UPDATES).
    env.execute_sql(
        "CREATE TEMPORARY VIEW counted AS "
        "SELECT id, COUNT(*) AS n, MAX(rowtime) AS rowtime FROM events GROUP BY id"
    )
    with pytest.raises(Exception, match="doesn't support consuming update changes"):
        env.sql_query(
            "SELECT * FROM "
            + CALL.format(table="counted", key="id", horizon="INTERVAL '1' HOUR", extra="")
        ).explain()


# -- 6. rough cost -------------------------------------------------------------------------------

ROWS, IDS = 200_000, 100_000


def jvm_cpu_seconds() -> float:
    """CPU time of the JVM that runs the local jobs (planning and all), less shaken by the
    other processes of a shared machine than wall time."""
    from pyflink.java_gateway import get_gateway

    handle = get_gateway().jvm.ProcessHandle.current()
    return handle.info().totalCpuDuration().get().toMillis() / 1000


def test_rough_cost_against_row_number(jar, tmp_path):
    """200,000 rows (100,000 ids, each twice, in event-time order) through a pass-through, the
    ROW_NUMBER deduplication of records.sql and adx_first_seen, into a blackhole sink, three
    rounds interleaved (a local job's start-up is most of a run, and the machine is shared).
    Times are printed, not asserted. Then both deduplications write CSV: the same rows."""
    env = table_env(jar)
    csv_table(
        env,
        tmp_path,
        "events",
        "id STRING, v INT, ts_ms BIGINT",
        [(f"id{i % IDS}", i, T0 + i * 10) for i in range(ROWS)],
    )
    queries = {
        "pass-through": "SELECT id, v, ts_ms FROM events",
        "row_number": """SELECT id, v, ts_ms FROM (
              SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY proc_time) AS arrival
              FROM events) WHERE arrival = 1""",
        "adx_first_seen": "SELECT id, v, ts_ms FROM "
        + CALL.format(table="events", key="id", horizon="INTERVAL '24' HOUR", extra=""),
    }
    env.execute_sql(
        "CREATE TEMPORARY TABLE blackhole (id STRING, v INT, ts_ms BIGINT) "
        "WITH ('connector' = 'blackhole')"
    )
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for _ in range(3):
        for name, query in queries.items():
            started, cpu_started = time.monotonic(), jvm_cpu_seconds()
            env.execute_sql(f"INSERT INTO blackhole {query}").wait()
            wall.setdefault(name, []).append(time.monotonic() - started)
            cpu.setdefault(name, []).append(jvm_cpu_seconds() - cpu_started)
    print(f"\n{ROWS:,} rows, {IDS:,} ids, local execution, parallelism 1, 3 runs each:")
    for name in queries:
        print(
            f"  {name:15s} wall {min(wall[name]):5.2f} s min ("
            + ", ".join(f"{s:.2f}" for s in wall[name])
            + f"), JVM CPU {min(cpu[name]):5.2f} s min ("
            + ", ".join(f"{s:.2f}" for s in cpu[name])
            + ")"
        )

    written = {}
    for name in ("row_number", "adx_first_seen"):
        out = tmp_path / f"out-{name}"
        sink = "sink_" + name
        env.execute_sql(
            f"CREATE TEMPORARY TABLE {sink} (id STRING, v INT, ts_ms BIGINT) "
            f"WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'csv')"
        )
        env.execute_sql(f"INSERT INTO {sink} {queries[name]}").wait()
        written[name] = sorted(
            line
            for f in out.rglob("*")
            if f.is_file() and not f.name.startswith(".")
            for line in f.read_text().splitlines()
        )
    assert len(written["row_number"]) == IDS
    assert written["adx_first_seen"] == written["row_number"]
