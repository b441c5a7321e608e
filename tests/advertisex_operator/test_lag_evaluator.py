"""The lag evaluator on recorded offset series: (time s, committed offset, log end)."""

import pytest
from advertisex_operator.lag import (
    LagSettings,
    LagStatus,
    LagTracker,
    OffsetSample,
    PartitionWindow,
    evaluate_partition,
    lag_alert,
    lag_alert_level,
)

from advertisex.alerting.metrics import LAG_STATUSES

SETTINGS = LagSettings()  # window 10, allowance 1


def samples(series):
    return [OffsetSample(t, c, e) for t, c, e in series]


def judge(series, last_commit_at=None, now=None, settings=SETTINGS):
    now = series[-1][0] if now is None else now
    return evaluate_partition(samples(series), last_commit_at, now, settings)


def track(series_by_partition, settings=SETTINGS, group="g"):
    """A tracker fed the series of several partitions, poll by poll."""
    tracker = LagTracker(settings, group=group)
    polls = zip(*series_by_partition.values(), strict=True)
    for rows in polls:
        at = rows[0][0]
        tracker.observe(
            {tp: (c, e) for tp, (_, c, e) in zip(series_by_partition, rows, strict=True)}, at
        )
    return tracker


def steady(n=10, step=10, rate=100, lag=1, start=1000):
    """A consumer that commits at every poll, `lag` records behind."""
    return [(i * step, start + i * rate - lag, start + i * rate) for i in range(n)]


# -- statuses ---------------------------------------------------------------------------


def test_caught_up_with_a_constant_marker_lag_of_one_is_ok():
    result = judge(steady(lag=1), last_commit_at=90, now=95)
    assert (result.status, result.lag, result.reason) == (LagStatus.OK, 1, "caught up (lag 1)")
    strict = LagSettings(max_lag_records=0, max_lag_seconds=0)
    group = track({("clicks", 0): steady(lag=1)}, strict).evaluate(95, last_commit_at=90)
    assert group.status == LagStatus.OK
    # the marker lag is reported, but counts as 0 records behind
    assert (group.partitions[0].lag, group.partitions[0].behind) == (1, 0)
    assert (group.total_lag, group.max_lag_seconds, group.sustained_lag_seconds) == (0, 0.0, 0.0)
    assert lag_alert_level(group, strict) is None


def test_without_the_allowance_a_marker_lag_is_not_caught_up():
    no_allowance = LagSettings(marker_allowance=0)
    # committed moves, lag stays at 1: not growing, never 0 → OK by the last rule, not caught up
    result = judge(steady(lag=1), last_commit_at=90, settings=no_allowance)
    assert (result.status, result.reason) == (LagStatus.OK, "consuming")


def test_a_temporary_spike_that_returns_to_zero_is_ok():
    # a burst arrives; the consumer commits 100 per poll all along and catches up
    lags = [1, 1, 1, 500, 800, 300, 1, 1, 1, 1]
    series = [(i * 10, 1000 + i * 100, 1000 + i * 100 + lag) for i, lag in enumerate(lags)]
    assert judge(series, last_commit_at=90).status == LagStatus.OK
    # a second burst at the end of the window, but the lag touched the allowance in it
    lags = [1, 1, 200, 400, 600, 50, 1, 1, 30, 60]
    series = [(i * 10, 1000 + i * 100, 1000 + i * 100 + lag) for i, lag in enumerate(lags)]
    result = judge(series, last_commit_at=90)
    assert (result.status, result.reason) == (LagStatus.OK, "caught up within the window")


def test_a_growing_lag_is_warn_and_fires_only_over_a_threshold():
    # commits 80 of every 100 new records: lag 10, 30, 50, ... 190
    series = [(i * 10, 1000 + i * 80 - 10, 1000 + i * 100) for i in range(10)]
    result = judge(series, last_commit_at=90)
    assert result.status == LagStatus.WARN
    assert result.reason == "lag grew from 30 to 190 records over 9 commits"
    group = track({("clicks", 0): series}).evaluate(90, last_commit_at=90)
    assert (group.status, group.over_threshold) == (LagStatus.WARN, False)
    assert lag_alert_level(group, SETTINGS) is None
    limited = LagSettings(max_lag_records=100)
    group = track({("clicks", 0): series}, limited).evaluate(90, last_commit_at=90)
    assert (group.total_lag, group.over_records) == (190, True)
    assert lag_alert_level(group, limited) == "firing"


def test_a_committed_offset_that_does_not_move_with_lag_is_stall():
    series = [(i * 10, 1000, 1100 + i * 100) for i in range(10)]
    result = judge(series, last_commit_at=88)  # checkpoints complete, offsets do not move
    assert result.status == LagStatus.STALL
    assert (
        result.reason
        == "committed offset stayed at 1000 over the window while 100 to 1000 records behind"
    )
    group = track({("clicks", 0): series}).evaluate(90, last_commit_at=88)
    assert lag_alert_level(group, SETTINGS) == "firing"


def test_records_that_arrive_within_the_window_are_not_stall_before_a_commit():
    # CI saw this: a running job with nothing to read (committed 0, end 0), then traffic
    # starts; the next checkpoint has not committed yet when the window is full.
    series = [(i, 0, 0 if i < 4 else (i - 3) * 10) for i in range(10)]
    result = judge(series, last_commit_at=None, now=9)
    assert (result.status, result.reason) == (LagStatus.OK, "caught up within the window")
    # one more poll without a commit: every lag in the window is above the allowance now
    longer = series + [(i, 0, (i - 3) * 10) for i in range(10, 14)]
    assert judge(longer, last_commit_at=None, now=13).status == LagStatus.STALL


def test_commits_that_stop_while_records_wait_are_stop():
    # commits until t=40, then none; the end keeps growing
    series = [(i * 10, 1000 + min(i, 4) * 100 - 1, 1000 + i * 100) for i in range(10)]
    result = judge(series, last_commit_at=40, now=200)  # 160 s > the window's 90 s
    assert result.status == LagStatus.STOP
    assert result.reason == "no commit for 160 s (over 90 s) with 501 records behind"
    # 80 s without a commit is within the 90 s span: not STOP; the lag was 1 in the window
    assert judge(series, last_commit_at=40, now=120).status == LagStatus.OK
    group = track({("clicks", 0): series}).evaluate(200, last_commit_at=40)
    assert lag_alert_level(group, SETTINGS) == "firing"


def test_stop_with_an_explicit_limit_needs_no_full_window():
    series = [(0, 99, 100), (10, 99, 300), (20, 99, 600)]
    explicit = LagSettings(stop_after_s=60)
    assert judge(series, last_commit_at=0, now=61, settings=explicit).status == LagStatus.STOP
    assert judge(series, last_commit_at=0, now=61).status == LagStatus.OK  # window not full
    assert judge(series, last_commit_at=None, now=10_000, settings=explicit).status == (
        LagStatus.OK
    )  # unknown commit time: STOP is never inferred


def test_a_committed_offset_that_goes_back_is_rewind_and_does_not_fire():
    committed = [1000, 1100, 1200, 1300, 500, 600, 700, 800, 900, 1000]
    series = [(i * 10, c, 1400 + i * 10) for i, c in enumerate(committed)]
    result = judge(series, last_commit_at=90)
    assert (result.status, result.reason) == (
        LagStatus.REWIND,
        "committed offset went back from 1300 to 500",
    )
    group = track({("clicks", 0): series}).evaluate(90, last_commit_at=90)
    assert lag_alert_level(group, SETTINGS) is None
    # clear without a full window too
    assert judge(series[2:6], last_commit_at=50).status == LagStatus.REWIND


@pytest.mark.parametrize("lag", [0, 1])
def test_a_quiet_topic_is_ok_and_never_stop(lag):
    series = [(i * 60, 5000 - lag, 5000) for i in range(10)]
    tight = LagSettings(stop_after_s=1, max_lag_records=0, max_lag_seconds=0)
    for settings in (SETTINGS, tight):
        # the last commit long ago: a quiet topic gives Flink nothing new to commit
        result = judge(series, last_commit_at=-100_000, now=10_000, settings=settings)
        assert result.status == LagStatus.OK
        group = track({("clicks", 0): series}, settings).evaluate(10_000, last_commit_at=-100_000)
        assert (group.status, group.max_lag_seconds) == (LagStatus.OK, 0.0)
        assert lag_alert_level(group, settings) is None


def test_a_partition_without_committed_offsets_is_not_judged():
    series = [(i * 10, None, 700) for i in range(10)]
    result = judge(series, last_commit_at=None, now=10_000)
    assert (result.status, result.lag, result.reason) == (
        LagStatus.OK,
        None,
        "no committed offset yet",
    )
    group = track({("clicks", 0): series}).evaluate(10_000)
    assert (group.total_lag, group.max_lag_seconds, group.partitions[0].lag_seconds) == (
        0,
        None,
        None,
    )


def test_one_slow_poll_in_a_caught_up_window_does_not_fire():
    series = steady(lag=1)[:-1] + [(90, 1799, 6900)]  # the last poll sees a burst, 5101 behind
    settings = LagSettings(max_lag_records=100, max_lag_seconds=5)
    assert judge(series, last_commit_at=88, settings=settings).status == LagStatus.OK
    group = track({("clicks", 0): series}, settings).evaluate(90, last_commit_at=88)
    assert group.over_records  # the latest poll is over the threshold...
    assert group.sustained_lag_records == 0 and group.sustained_lag_seconds == 0.0
    assert lag_alert_level(group, settings) is None  # ...but one poll never fires


def test_lag_sustained_above_max_seconds_over_the_whole_window_fires():
    # the end grows 100 per 10 s; the consumer commits 100 per 10 s, 300 records (30 s) behind
    behind = [(i * 10, 1000 + i * 100 - 300, 1000 + i * 100) for i in range(13)]
    settings = LagSettings(max_lag_seconds=20)
    tracker = track({("clicks", 0): behind}, settings)
    group = tracker.evaluate(120, last_commit_at=120)
    assert group.status == LagStatus.OK  # keeping pace: not WARN
    assert group.sustained_lag_seconds == pytest.approx(29.9)  # (300 - 1 marker) / 10 per s
    assert lag_alert_level(group, settings) == "firing"
    # the consumer caught up once inside the window (t=80), then fell behind again
    committed = [c for _, c, _ in behind[:8]] + [1800 + k * 50 for k in range(5)]
    dip = [(t, c, e) for (t, _, e), c in zip(behind, committed, strict=True)]
    assert [e - c for _, c, e in dip][7:] == [300, 0, 50, 100, 150, 200]
    group = track({("clicks", 0): dip}, settings).evaluate(120, last_commit_at=120)
    assert (group.status, group.sustained_lag_seconds) == (LagStatus.OK, 0.0)
    assert lag_alert_level(group, settings) is None


def test_sustained_records_fire_on_the_sum_of_each_partitions_smallest_lag():
    settings = LagSettings(max_lag_records=500)
    p0 = [(i * 10, 1000 + i * 100 - 300, 1000 + i * 100) for i in range(10)]
    p1 = [(i * 10, 1000 + i * 100 - 250, 1000 + i * 100) for i in range(10)]
    group = track({("clicks", 0): p0, ("clicks", 1): p1}, settings).evaluate(90, 90)
    assert (group.sustained_lag_records, lag_alert_level(group, settings)) == (550, "firing")


def test_an_unfull_window_is_ok_except_rewind_and_stop():
    growing = [(i * 10, 1000 + i * 80, 1100 + i * 100) for i in range(5)]
    assert judge(growing, last_commit_at=40).reason == "window not full (5 of 10 samples)"
    stalled = [(i * 10, 1000, 1100 + i * 100) for i in range(5)]
    assert judge(stalled, last_commit_at=40).status == LagStatus.OK


def test_flink_saw_tooth_healthy_is_ok_and_falling_behind_is_warn():
    # polls every 10 s, checkpoints (commits) every 30 s; 100 records per 10 s arrive
    def flink(read_per_checkpoint):
        series, committed = [], 950
        for i in range(12):
            end = 1001 + i * 100
            if i % 3 == 0 and i:  # a checkpoint just completed: commit what was read
                committed += read_per_checkpoint
            series.append((i * 10, committed, end))
        return series

    healthy = flink(300)
    assert [e - c for _, c, e in healthy] == [51, 151, 251] * 4  # rises at every poll
    result = judge(healthy, last_commit_at=90, now=110)
    assert (result.status, result.reason) == (LagStatus.OK, "consuming")
    behind = flink(210)  # reads 70 % of what arrives
    assert [e - c for _, c, e in behind][3:10:3] == [141, 231, 321]  # the lag at commits
    result = judge(behind, last_commit_at=90, now=110)
    assert (result.status, result.reason) == (
        LagStatus.WARN,
        "lag grew from 141 to 321 records over 3 commits",
    )


# -- lag in seconds ---------------------------------------------------------------------


def window_of(series, settings):
    window = PartitionWindow()
    for t, c, e in series:
        window.add(OffsetSample(t, c, e), settings)
    return window


def test_lag_seconds_interpolates_the_time_the_end_was_at_the_committed_offset():
    exact = LagSettings(marker_allowance=0)
    # the end stood at 100 from t=0 to t=10, was 200 at t=20 and 400 at t=30
    series = [(0, 100, 100), (10, 100, 100), (20, 150, 200), (30, 150, 400)]
    window = window_of(series, exact)
    assert window.end_points == [(100, 0), (100, 10), (200, 20), (400, 30)]
    # offset 150 was the end halfway between (100, 10 s) and (200, 20 s): at 15 s
    assert list(window.lag_seconds) == [0.0, 0.0, 5.0, 15.0]
    assert window.seconds_behind(300, 400, 40, exact) == (15.0, False)  # 300 at 25 s
    assert window.seconds_behind(100, 400, 40, exact) == (30.0, False)  # last time at 100: 10 s
    # an end beyond the history counts as the end now: 450 between (400, 30 s) and (500, 40 s)
    assert window.seconds_behind(450, 500, 40, exact) == (5.0, False)


def test_lag_seconds_start_after_a_transaction_marker():
    # one transaction per burst: records 0..9, marker 10, end 11; then records 11..20,
    # marker 21, end 22. The consumer committed 10 (after its last record) and waits.
    series = [(0, 10, 11), (10, 10, 11), (20, 10, 11), (30, 10, 22), (40, 10, 22)]
    window = window_of(series, SETTINGS)
    # caught up (lag 1) while the topic idles: 0, not the time since the marker
    assert list(window.lag_seconds)[:3] == [0.0, 0.0, 0.0]
    # offset 11 (the first record after the marker) was the end last at t=20
    assert list(window.lag_seconds)[3:] == [10.0, 20.0]
    assert not window.lower_bound[-1]


def test_lag_seconds_older_than_the_history_is_a_lower_bound():
    settings = LagSettings(marker_allowance=0, end_history=3)
    series = [(i * 10, 0, 100 * (i + 1)) for i in range(6)]  # a consumer replaying from 0
    window = window_of(series, settings)
    assert window.end_points == [(400, 30), (500, 40), (600, 50)]
    # offset 0 is older than every point kept: at least now - 30 s
    assert (window.lag_seconds[-1], window.lower_bound[-1]) == (20.0, True)
    status = window.evaluate(None, 50, settings)
    assert (status.lag_seconds, status.lag_seconds_lower_bound) == (20.0, True)


def test_idle_topic_keeps_two_points_and_reports_no_growing_lag():
    series = [(i * 60, 4999, 5000) for i in range(100)]
    window = window_of(series, SETTINGS)
    assert window.end_points == [(5000, 0), (5000, 5940)]
    assert set(window.lag_seconds) == {0.0}


def test_an_end_that_goes_back_resets_the_partition():
    window = window_of([(0, 90, 100), (10, 95, 200), (20, 0, 5)], SETTINGS)
    assert window.end_points == [(5, 20)]
    assert [s.end for s in window.samples] == [5]


def test_samples_must_come_in_time_order():
    window = window_of([(10, 0, 5)], SETTINGS)
    with pytest.raises(ValueError, match="time order"):
        window.add(OffsetSample(10, 0, 6), SETTINGS)


# -- the group ------------------------------------------------------------------------


def test_group_takes_its_worst_partition_and_sums_the_lag():
    ok = steady(lag=1)
    warn = [(i * 10, 1000 + i * 80 - 10, 1000 + i * 100) for i in range(10)]
    stall = [(i * 10, 1000, 1100 + i * 100) for i in range(10)]
    tracker = track({("clicks", 0): ok, ("clicks", 1): warn, ("impressions", 0): stall})
    group = tracker.evaluate(90, last_commit_at=88)
    assert group.group == "g"
    assert group.status == LagStatus.STALL
    assert [(p.topic, p.partition, p.status) for p in group.partitions] == [
        ("clicks", 0, LagStatus.OK),
        ("clicks", 1, LagStatus.WARN),
        ("impressions", 0, LagStatus.STALL),
    ]
    assert group.total_lag == 0 + 190 + 1000  # the marker lag of clicks[0] counts 0
    records, seconds = group.by_topic()
    assert records == {"clicks": 190, "impressions": 1000}
    assert seconds["clicks"] == group.partitions[1].lag_seconds
    assert lag_alert_level(group, SETTINGS) == "firing"
    alert = lag_alert(group, SETTINGS, namespace="ads", name="pipeline")
    assert alert.labels == {
        "alertname": "ConsumerLag",
        "severity": "critical",
        "namespace": "ads",
        "name": "pipeline",
        "group": "g",
    }
    assert alert.annotations["description"].startswith("impressions[0] STALL: ")
    assert alert.annotations["summary"].startswith(
        "Consumer group g of ads/pipeline is STALL: 1190 records behind"
    )


def test_status_order_and_the_metrics_statuses_agree():
    assert [s.value for s in sorted(LagStatus, key=lambda s: s.rank)] == [
        "OK",
        "WARN",
        "REWIND",
        "STALL",
        "STOP",
    ]
    assert tuple(s.value for s in LagStatus) == LAG_STATUSES


def test_no_alert_when_all_is_well():
    group = track({("clicks", 0): steady()}).evaluate(90, 90)
    assert lag_alert(group, SETTINGS, namespace="ads", name="p") is None


def test_tracker_forgets_partitions_that_are_gone_and_keeps_history_on_new_settings():
    tracker = LagTracker(SETTINGS)
    tracker.observe({("a", 0): (1, 2), ("a", 1): (1, 2)}, 0)
    tracker.observe({("a", 0): (1, 3)}, 10)
    assert list(tracker.windows) == [("a", 0)]
    tracker.settings = LagSettings(window=2)
    tracker.observe({("a", 0): (1, 4)}, 20)
    assert [s.end for s in tracker.windows[("a", 0)].samples] == [3, 4]


def test_settings_for_flink_span_two_checkpoints():
    settings = LagSettings.for_flink(checkpoint_interval_s=60, poll_interval_s=10)
    assert (settings.window, settings.stop_after_s) == (13, 180)
    short = LagSettings.for_flink(checkpoint_interval_s=5, poll_interval_s=10, max_lag_seconds=30)
    assert (short.window, short.stop_after_s, short.max_lag_seconds) == (10, 90, 30)
