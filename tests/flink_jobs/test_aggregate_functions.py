"""dq_metrics' JVM aggregate functions (adx_count_by, adx_median_delay) in a local Flink:
the same result whole (batch) and merged from partial accumulators (streaming with
mini-batch and two-phase aggregation), against Python's own count and median."""

import random
import statistics
from collections import Counter

from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment

from advertisex.stack.jars import functions_jar
from flink_jobs.udfs import JAVA_FUNCTIONS

REASONS = ("bad_json", "missing_field", "bad_timestamp", None)


def two_significant_digits(ms: int) -> int:
    """The reference of MedianDelayFunction.twoSignificantDigits: half up, in integers."""
    if abs(ms) < 100:
        return ms
    unit = 10 ** (len(str(abs(ms))) - 2)
    rounded = (abs(ms) + unit // 2) // unit * unit
    return -rounded if ms < 0 else rounded


def rows(seed: int, count: int) -> list[tuple[str, str | None, int | None]]:
    rng = random.Random(seed)
    groups = ("a", "b", "c")
    out = []
    for _ in range(count):
        delay = rng.choice([None, rng.randint(-50, 99), rng.randint(100, 10**9)])
        out.append((rng.choice(groups), rng.choice(REASONS), delay))
    return out


def expected(data) -> dict[str, tuple[dict, float | None]]:
    by_group: dict[str, list] = {}
    for group, reason, delay in data:
        by_group.setdefault(group, []).append((reason, delay))
    result = {}
    for group, items in by_group.items():
        counts = Counter(r for r, _ in items if r is not None)
        delays = [two_significant_digits(d) for _, d in items if d is not None]
        result[group] = (dict(counts), float(statistics.median(delays)) if delays else None)
    return result


def with_functions(env: TableEnvironment) -> TableEnvironment:
    env.get_config().set("pipeline.jars", functions_jar().resolve().as_uri())
    for name in ("adx_count_by", "adx_median_delay"):
        env.create_java_temporary_system_function(name, JAVA_FUNCTIONS[name])
    return env


def run(env: TableEnvironment, data) -> dict[str, tuple[dict, float | None]]:
    """Final (group -> (counts, median)) of the query on data, env with_functions."""
    table = env.from_elements(
        data,
        DataTypes.ROW(
            [
                DataTypes.FIELD("g", DataTypes.STRING()),
                DataTypes.FIELD("reason", DataTypes.STRING()),
                DataTypes.FIELD("delay_ms", DataTypes.BIGINT()),
            ]
        ),
    )
    env.create_temporary_view("signals", table)
    result = env.execute_sql(
        "SELECT g, adx_count_by(reason), adx_median_delay(delay_ms) FROM signals GROUP BY g"
    )
    final = {}
    with result.collect() as changes:
        for row in changes:
            kind = row.get_row_kind().name
            if kind in ("INSERT", "UPDATE_AFTER"):
                final[row[0]] = (dict(row[1]), row[2])
            elif kind == "DELETE":
                final.pop(row[0])
    return final


def test_one_delay_is_its_own_rounded_median():
    """Each group holds one delay, so its median is that delay rounded: the edges of the
    rounding (half up, 99 -> 99, 995 -> 1000, negative delays) against the reference."""
    rng = random.Random(3)
    delays = [0, 5, -7, 99, 100, 149, 150, 994, 995, 996, -1234, -1250, 10**12 + 5 * 10**9]
    delays += [rng.randint(-(10**12), 10**12) for _ in range(200)]
    data = [(f"g{i}", None, ms) for i, ms in enumerate(delays)]
    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    medians = {group: median for group, (_, median) in run(with_functions(env), data).items()}
    assert medians == {f"g{i}": float(two_significant_digits(ms)) for i, ms in enumerate(delays)}


def test_whole_groups_in_batch():
    data = rows(seed=1, count=3000)
    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    assert run(with_functions(env), data) == expected(data)


def test_merged_partial_accumulators_in_streaming_two_phase():
    data = rows(seed=2, count=3000)
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    for key, value in {
        "table.exec.mini-batch.enabled": "true",
        "table.exec.mini-batch.allow-latency": "100 ms",
        "table.exec.mini-batch.size": "50",
        "table.optimizer.agg-phase-strategy": "TWO_PHASE",
        "parallelism.default": "2",
    }.items():
        config.set(key, value)
    with_functions(env)
    assert "LocalGroupAggregate" in env.explain_sql(
        "SELECT g, adx_count_by(reason) FROM (VALUES ('a', 'x')) AS t(g, reason) GROUP BY g"
    ), "the plan should aggregate in two phases, so that merge() runs"
    assert run(env, data) == expected(data)


def test_a_group_without_delays_or_reasons():
    data = [("a", None, None), ("a", None, None)]
    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    assert run(with_functions(env), data) == {"a": ({}, None)}
