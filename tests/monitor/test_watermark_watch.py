"""WatermarkWatch: the watermark lag over its threshold, with hysteresis, on recorded series
of readings (one every 10 s)."""

import pytest

from advertisex.monitor.settings import MonitorSettings
from advertisex.monitor.source_watch import RUNBOOKS, Finding
from advertisex.monitor.watermark_watch import WatermarkWatch

STEP_MS = 10_000


def states(watch: WatermarkWatch, lags: list) -> list[bool]:
    """Whether the alert fires after each reading."""
    return [bool(watch.observe(lag, i * STEP_MS)) for i, lag in enumerate(lags)]


def test_fires_after_fire_after_readings_over_and_resolves_after_resolve_after_under():
    watch = WatermarkWatch(MonitorSettings(fire_after=3, resolve_after=2))
    lags = [12.0, 301.0, 450.0, 620.0, 700.0, 290.0, 12.0, 11.0]
    assert states(watch, lags) == [False, False, False, True, True, True, False, False]


def test_the_finding_names_the_job_and_the_numbers():
    watch = WatermarkWatch(MonitorSettings(watermark_lag_max_s=300, fire_after=2))
    assert watch.observe(400.4, 0) == []
    [finding] = watch.observe(612.6, STEP_MS)
    assert finding == Finding(
        "WatermarkLag",
        "job",
        "the job's event-time watermark is 613 s behind the clock, over 300 s",
    )
    assert finding.severity == "warning"
    assert finding.runbook == RUNBOOKS["WatermarkLag"][1]
    assert "backpressure" in finding.runbook


def test_none_holds_the_state_and_breaks_no_run():
    watch = WatermarkWatch(MonitorSettings(fire_after=2, resolve_after=2))
    # Not firing: None between two readings over neither fires nor breaks the run.
    assert states(watch, [400.0, None, None]) == [False, False, False]
    assert watch.observe(400.0, 30_000) != []
    # Firing: None keeps it firing, with what was last read; one reading under then None
    # then another under resolves.
    [held] = watch.observe(None, 50_000)
    assert held.summary == "no watermark read; 400 s behind the clock 20 s ago, over 300 s"
    assert watch.observe(10.0, 60_000) != []
    assert watch.observe(None, 70_000) != []
    assert watch.observe(10.0, 80_000) == []
    assert not watch.firing


def test_nothing_read_ever_never_fires():
    watch = WatermarkWatch(MonitorSettings(fire_after=1))
    assert states(watch, [None] * 10) == [False] * 10


def test_noise_around_the_threshold_does_not_alert():
    watch = WatermarkWatch(MonitorSettings(watermark_lag_max_s=300, fire_after=2))
    # Over and within by turns (a lag on the threshold): never two over in a row.
    lags = [299.0, 301.0, 300.0, 305.0, 290.0, 310.0, 296.0, 300.5, 299.9, 300.1, 250.0]
    assert states(watch, lags) == [False] * len(lags)
    assert watch.detector.hysteresis.anomalous_streak == 0


def test_noise_around_the_threshold_does_not_resolve_a_firing_alert():
    watch = WatermarkWatch(MonitorSettings(watermark_lag_max_s=300, resolve_after=2))
    assert states(watch, [400.0, 400.0]) == [False, True]
    lags = [299.0, 301.0, 290.0, 310.0, 300.0, 305.0]
    assert states(watch, lags) == [True] * len(lags)
    assert states(watch, [299.0, 298.0]) == [True, False]


def test_event_time_ahead_of_the_clock_is_within():
    watch = WatermarkWatch(MonitorSettings(fire_after=1))
    assert states(watch, [-120.0, -3600.0, 0.0]) == [False, False, False]


def test_the_threshold_is_a_setting_and_must_be_positive(monkeypatch):
    assert MonitorSettings().watermark_lag_max_s == 300
    monkeypatch.setenv("ADVERTISEX_MONITOR_WATERMARK_LAG_MAX_S", "60")
    assert MonitorSettings().watermark_lag_max_s == 60
    with pytest.raises(ValueError, match="greater than 0"):
        MonitorSettings(watermark_lag_max_s=0)
