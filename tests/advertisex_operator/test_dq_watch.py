"""The operator's data-quality monitor: its configuration from the resource, and what it
writes to the status. The monitor itself runs on the real stack in the end-to-end test."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from advertisex_operator import dq_watch
from advertisex_operator.settings import OperatorSettings
from advertisex_operator.spec import FlinkSqlJobSpec, validate_spec

from advertisex.alerting.alert import Alert
from advertisex.monitor.monitor import Monitor
from advertisex.monitor.monitor_loop import MonitorLoop
from advertisex.monitor.settings import MonitorSettings


def spec(data_quality: dict | None = None, **job) -> FlinkSqlJobSpec:
    body = {
        "job": {"pipeline": "advertisex-pipeline", **job},
        "flink": {"restUrl": "http://127.0.0.1:8081"},
        "kafka": {"bootstrapServers": "127.0.0.1:9092"},
        "savepoints": {"directory": "file:///sp"},
    }
    if data_quality is not None:
        body["dataQuality"] = data_quality
    return FlinkSqlJobSpec.model_validate(body)


def test_the_monitor_takes_the_jobs_window_and_the_resources_thresholds():
    parsed = spec({"thresholds": {"invalidRateMax": 0.02, "fireAfter": 3}}, dqWindowSeconds=30)
    settings = parsed.data_quality.monitor_settings(parsed.job.dq_window_seconds)
    assert (settings.window_s, settings.invalid_rate_max, settings.fire_after) == (30, 0.02, 3)
    assert settings.duplicate_rate_max == MonitorSettings().duplicate_rate_max
    defaults = spec()
    assert defaults.data_quality.enabled is True
    assert defaults.data_quality.monitor_settings(defaults.job.dq_window_seconds).window_s == 60


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        (
            {"invalid_rate_max": 0.02},
            "spec.dataQuality.thresholds.invalid_rate_max is not a monitor setting: use one of ",
        ),
        (
            {"windowS": 10},
            "spec.dataQuality.thresholds.windowS is not a monitor setting",
        ),
        (
            {"invalidRateMax": 2},
            "spec.dataQuality.thresholds.invalidRateMax: Input should be less than or equal to 1",
        ),
    ],
)
def test_a_threshold_that_is_not_one_is_refused_by_name(thresholds, message):
    problem = validate_spec(spec({"thresholds": thresholds}), True, True)
    assert problem is not None and problem.startswith(message), problem


def test_the_window_is_the_jobs_and_its_change_is_an_upgrade():
    before, after = spec(dqWindowSeconds=60), spec(dqWindowSeconds=30)
    assert before.upgrade_key() != after.upgrade_key()
    quiet, loud = spec({"enabled": False}), spec({"thresholds": {"invalidRateMax": 0.5}})
    assert quiet.upgrade_key() == loud.upgrade_key() == spec().upgrade_key()


def alert(name: str, source: str, summary: str) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": "warning", "source": source},
        annotations={"summary": summary, "description": summary, "runbook": "r"},
        starts_at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
    )


def test_the_status_lists_what_fires_and_the_verdict_names_it():
    healthy = dq_watch.outcome([], [], now=1_800_000_000)
    assert healthy.status == {
        "firing": [],
        "evaluatedAt": "2027-01-15T08:00:00+00:00",
        "verdict": {"healthy": True, "reason": "Healthy", "message": ""},
    }
    firing = [
        alert("InvalidRecordRate", "impressions", "impressions: 20 % invalid"),
        alert("DuplicateRate", "bid_requests", "bid_requests: 9 % duplicates"),
        alert("InvalidRecordRate", "bid_requests", "bid_requests: 21 % invalid"),
    ]
    result = dq_watch.outcome(firing, firing, now=1_800_000_000)
    assert result.verdict["healthy"] is False
    assert result.verdict["reason"] == "DuplicateRate+InvalidRecordRate"
    assert result.verdict["message"] == (
        "bid_requests: 9 % duplicates; bid_requests: 21 % invalid; impressions: 20 % invalid"
    )
    assert [(f["alertname"], f["source"]) for f in result.status["firing"]] == [
        ("DuplicateRate", "bid_requests"),
        ("InvalidRecordRate", "bid_requests"),
        ("InvalidRecordRate", "impressions"),
    ]
    assert result.status["firing"][0]["startsAt"] == "2026-11-29T12:00:00+00:00"


class ClosedReader:
    closed = False

    def close(self):
        self.closed = True


def test_standing_down_resolves_what_fires_and_lets_the_readers_go():
    monitor = Monitor(MonitorSettings(), {"namespace": "ads", "name": "pipeline"})
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    started = monitor.book.update([alert("InvalidRecordRate", "impressions", "s")], now)
    assert [a.status for a in started] == ["firing"]
    readers = (ClosedReader(), ClosedReader())
    state = dq_watch.JobDataQuality(config=(), loop=MonitorLoop(monitor, *readers))
    resolved = dq_watch.stand_down(
        state,
        spec(),
        namespace="ads",
        name="pipeline",
        now=now.timestamp() + 60,
        settings=OperatorSettings(),
    )
    assert [(a.alertname, a.status) for a in resolved] == [("InvalidRecordRate", "resolved")]
    assert monitor.firing() == []
    assert all(r.closed for r in readers)
    assert (
        dq_watch.stand_down(
            None, spec(), namespace="ads", name="pipeline", now=0, settings=OperatorSettings()
        )
        == []
    )


def test_not_judged_clears_what_a_verdict_said():
    # status.dataQuality is written by merge patches: every key is given, so none is left
    # over from a verdict before.
    assert dq_watch.not_judged("monitoring is disabled") == {
        "firing": [],
        "evaluatedAt": None,
        "verdict": {"healthy": None, "reason": "NotJudged", "message": "monitoring is disabled"},
    }
