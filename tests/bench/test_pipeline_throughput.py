"""bench/pipeline_throughput.py's pure parts: when a run's nine outputs are complete against
the ground truth, how repeated runs become one row, the ratios, sizing a backlog by
simulated minutes, and the plot (the bench itself needs the running stack)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))  # the bench is a script, no package
import pipeline_throughput as bench  # noqa: E402

CLOSERS_DQ = {"impressions": {"received": 4, "valid": 4}}


def truth() -> dict:
    """A small truth as GroundTruth.to_dict() shapes it."""
    metric = dict.fromkeys(bench.METRIC_COUNTS, 0) | {"impressions": 2, "spend_micros": 30}
    return {
        "ids": {"impressions": ["i1", "i2"], "clicks": ["c1"], "conversions": ["v1"]}
        | {"bid_requests": ["b1"]},
        "dead_letters": [{"source": "impressions", "reason": "malformed", "payload": "x"}],
        "attributed_clicks": {"c1": "i1"},
        "attributed_conversions": {"v1": "c1"},
        "campaign_metrics_1m": [{"campaign_id": "k", "window_start_ms": 0, **metric}],
        "sources": {
            "impressions": {
                "received": 3,
                "valid": 2,
                "invalid": {"malformed": 1},
                "duplicates": 0,
                "late": 0,
                "unattributed": 0,
            }
        },
    }


def metric_row(**counts) -> bytes:
    row = {"campaign_id": "k", "window_start_ms": 0} | dict.fromkeys(bench.METRIC_COUNTS, 0)
    return json.dumps(row | counts).encode()


def dq_row(received: int, valid: int, malformed: int) -> bytes:
    row = {"source": "impressions", "received": received, "valid": valid, "duplicates": 0}
    row |= {"late": 0, "unattributed": 0, "invalid_by_reason": {"malformed": malformed}}
    return json.dumps(row).encode()


def feed_all_but_upserts(tally: bench.OutputTally) -> None:
    for name, key in [
        ("impressions", b"i1"),
        ("impressions", b"i2"),
        ("clicks", b"c1"),
        ("conversions", b"v1"),
        ("bid_requests", b"b1"),
        ("attributed_clicks", b"c1"),
        ("dead_letters", b"t:0:7"),
        # The closers' rows count in no output.
        ("impressions", b"closing-imp-0"),
        ("attributed_clicks", b"closing-clk-0"),
    ]:
        tally.add(name, key, b"{}")


def test_outputs_complete_only_when_the_joins_and_aggregates_are():
    tally = bench.OutputTally(truth(), CLOSERS_DQ)
    feed_all_but_upserts(tally)
    assert not tally.complete()
    assert "attributed_conversions 0/1" in tally.missing()

    # An attribution to an earlier click, then the last click's row replaces it (an upsert).
    tally.add("attributed_conversions", b"v1", json.dumps({"click_id": "c0"}).encode())
    tally.add("campaign_metrics_1m", b"k:0", metric_row(impressions=1, spend_micros=10))
    tally.add("campaign_metrics_1m", b"closing-campaign:9", metric_row(impressions=4))
    tally.add("dq_metrics", b"impressions:0", dq_row(received=3, valid=2, malformed=1))
    assert not tally.complete()
    missing = tally.missing()
    assert "attributed_conversions 0/1" in missing
    assert "campaign_metrics_1m 1 of 1 rows differ" in missing
    # dq_metrics totals include what the closers add.
    assert "dq_metrics impressions received 3/7" in missing

    tally.add("attributed_conversions", b"v1", json.dumps({"click_id": "c1"}).encode())
    tally.add("campaign_metrics_1m", b"k:0", metric_row(impressions=2, spend_micros=30))
    tally.add("dq_metrics", b"impressions:60000", dq_row(received=4, valid=4, malformed=0))
    assert tally.complete()
    assert tally.missing() == []
    assert tally.differences() == []
    assert tally.records == 16


def test_outputs_that_reach_the_count_with_wrong_ids_are_reported():
    tally = bench.OutputTally(truth(), {})
    feed_all_but_upserts(tally)
    tally.add("bid_requests", b"b1", b"{}")  # written twice
    tally.add("clicks", b"c9", b"{}")  # not in the truth
    assert "bid_requests: 1 written twice" in tally.differences()
    assert "clicks: 1 unexpected, 0 missing" in tally.differences()


def test_a_tombstone_removes_an_upsert_row():
    tally = bench.OutputTally(truth(), {})
    tally.add("attributed_conversions", b"v1", json.dumps({"click_id": "c1"}).encode())
    tally.add("attributed_conversions", b"v1", None)
    assert "attributed_conversions 0/1" in tally.missing()


def run(seconds: float, messages: int = 1000, error: str | None = None) -> bench.Row:
    row = bench.Row("run", messages=messages, seconds=seconds, error=error)
    row.cpu_client_s = seconds / 10
    row.notes = [f"took {seconds}"]
    row.details = {"tasks": [{"task": "a", "busy_s": seconds}]}
    return row


def test_median_row_takes_the_median_run_and_shows_the_spread():
    row = bench.median_row("job", [run(4.0), run(2.0), run(5.0)], "job", 1)
    assert row.seconds == 4.0
    assert row.rate == 250.0
    assert row.cpu_client_s == 0.4  # of the median run
    assert row.details["tasks"] == [{"task": "a", "busy_s": 4.0}]
    assert row.notes[0] == "median of 3: 200-500/s (runs 250, 500, 200)"
    assert row.notes[1] == "took 4.0"
    assert [r["seconds"] for r in row.details["runs"]] == [4.0, 2.0, 5.0]
    assert all("tasks" not in r for r in row.details["runs"])


def test_median_row_of_an_even_count_and_of_failures():
    row = bench.median_row("job", [run(2.0), run(4.0), bench.Row("x", error="boom")], "job", 2)
    assert row.seconds == 3.0  # the median of the two that ran
    assert row.cpu_client_s == 0.2  # the lower middle run's
    assert row.notes[-1] == "[red]1 of 3 runs failed:[/] boom"
    failed = bench.median_row("job", [bench.Row("x", error="boom")], "job", 2)
    assert failed.error == "boom" and failed.rate is None


def test_ratios_divide_by_the_pass_through_at_the_same_parallelism():
    rows = [
        bench.Row("pt1", 1000, 0.01, kind="passthrough", parallelism=1),  # 100,000/s
        bench.Row("pt2", 1000, 0.005, kind="passthrough", parallelism=2),  # 200,000/s
        bench.Row("raw", 1000, 0.02, kind="raw read"),  # 50,000/s
        bench.Row("plain", 1000, 0.5, kind="plain"),  # 2,000/s
        bench.Row("job1", 1000, 0.1, kind="job", parallelism=1),  # 10,000/s
        bench.Row("job2", 1000, 0.1, kind="job", parallelism=2),
    ]
    assert bench.ratios(rows[4], rows) == pytest.approx(
        {"vs_pass_through": 0.1, "vs_raw_read": 0.2, "vs_plain_python": 5.0}
    )
    assert bench.ratios(rows[5], rows)["vs_pass_through"] == pytest.approx(0.05)
    assert bench.ratios(rows[3], rows)["vs_pass_through"] is None

    backlog = [
        bench.Row("10 min", 1000, 0.2, kind="backlog", parallelism=1),
        bench.Row("60 min", 6000, 1.5, kind="backlog", parallelism=1),
    ]
    assert bench.backlog_ratios(backlog[1], backlog, rows) == pytest.approx(
        {"vs_first_backlog": 0.8, "vs_job_row": 0.4}
    )


def test_cpu_window_takes_the_samples_around_the_interval():
    samples = [(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d")]
    assert bench.cpu_window(samples, 2.5, 3.5) == ("b", "d")
    assert bench.cpu_window(samples, 0.5, 9.0) == ("a", "d")  # beyond the samples: the ends


def test_a_backlog_is_sized_by_simulated_minutes():
    config = bench.simulation(0, bid_rate=5, seed=1, duration_s=600)
    assert config.duration_s == 600
    assert config.bid_rate == 5
    assert config.anomalies.rate_changes[0].start_s == 400  # every anomaly, over the duration


def test_plot_draws_both_panels(tmp_path):
    pytest.importorskip("matplotlib")
    job = bench.median_row("Flink job, parallelism 1", [run(2.0), run(3.0), run(4.0)], "job", 1)
    rows = [
        bench.Row("pass-through", 1000, 0.01, kind="passthrough", parallelism=1),
        bench.Row("plain", 1000, 0.5, kind="plain"),
        job,
    ]
    rows[0].details["tasks"] = [{"task": "Source: raw", "busy_s": 0.005}]
    backlog = [bench.Row("1 min backlog", 1000, 2.0, kind="backlog", parallelism=1)]
    path = tmp_path / "plot.png"
    assert bench.plot(rows, backlog, path, "a title") is True
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_plot_without_a_rate(tmp_path):
    pytest.importorskip("matplotlib")
    failed = bench.Row("Flink job, parallelism 1", error="boom")
    assert bench.plot([failed], [], tmp_path / "plot.png", "a title") is False
    assert not (tmp_path / "plot.png").exists()
