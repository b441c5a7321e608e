"""One lag check of one job: poll offsets, judge the window, and announce what changed.

The judging is lag.py's (pure); this module keeps each job's window and alert book between
polls and sends the transitions to every channel: an Event and the LagHealthy condition on
the resource (by the handlers), and Prometheus metrics and Alertmanager-format webhooks
(alert_channels).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from advertisex.alerting.alert import Alert, AlertBook
from advertisex.alerting.metrics import alerting_metrics
from advertisex.kafka_auth import kafka_python_config
from advertisex_operator import alert_channels
from advertisex_operator.lag import GroupLag, LagSettings, LagTracker, lag_alert
from advertisex_operator.lag_reader import LagReadError, read_offsets
from advertisex_operator.settings import OperatorSettings
from advertisex_operator.spec import FlinkSqlJobSpec

log = logging.getLogger(__name__)
# The pipeline checkpoints (and so commits offsets) every 5 s unless its configuration says
# otherwise: the lag window must span more than that.
DEFAULT_CHECKPOINT_INTERVAL_S = 5.0
# Lag is judged only while a job of ours runs and has completed a checkpoint (so it has
# committed offsets): a suspended or failed job lags by design, and a job that starts
# reads a backlog before its first checkpoint.
JUDGED_LIFECYCLES = ("STABLE",)


@dataclass
class JobLag:
    """What one resource keeps between polls (in kopf's per-resource memo)."""

    tracker: LagTracker
    book: AlertBook = field(default_factory=lambda: AlertBook(repeat_interval=None))
    next_poll_at: float = 0.0
    job_id: str | None = None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
_UNIT_S = {
    **dict.fromkeys(("", "ms", "milli", "millis", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hour", "hours"), 3600.0),
}


def flink_duration_s(text: str) -> float | None:
    """Seconds in a Flink duration ("5 s", "2min", "500": milliseconds); None if unreadable."""
    match = _DURATION.match(text.lower())
    if not match or match.group(2) not in _UNIT_S:
        return None
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def checkpoint_interval_s(spec: FlinkSqlJobSpec) -> float:
    value = spec.job.flink_configuration.get("execution.checkpointing.interval")
    return (value and flink_duration_s(value)) or DEFAULT_CHECKPOINT_INTERVAL_S


def lag_settings(spec: FlinkSqlJobSpec) -> LagSettings:
    """spec.lagAlert, with a window that spans two checkpoints at least (see lag.py)."""
    wanted = spec.lag_alert
    fitted = LagSettings.for_flink(checkpoint_interval_s(spec), wanted.interval_seconds)
    return fitted.model_copy(
        update={
            "window": max(wanted.window, fitted.window),
            "max_lag_records": wanted.max_lag_records,
            "max_lag_seconds": wanted.max_lag_seconds,
        }
    )


@dataclass(frozen=True)
class LagOutcome:
    status: dict  # status.lag
    healthy: bool | None  # for the LagHealthy condition (None: not judged)
    reason: str
    message: str
    transitions: list[Alert]


def check(
    state: JobLag,
    spec: FlinkSqlJobSpec,
    *,
    namespace: str,
    name: str,
    bootstrap: str,
    kafka_properties: dict[str, str],
    group: str,
    topics: list[str],
    last_commit_at: float | None,
    now: float,
    settings: OperatorSettings,
) -> LagOutcome:
    """Poll once and judge; the caller posts Events and patches the status."""
    state.tracker.settings = lag_settings(spec)
    try:
        offsets = read_offsets(
            bootstrap, group, topics, admin_config=kafka_python_config(kafka_properties)
        )
    except LagReadError as exc:
        return LagOutcome({}, None, "LagReadFailed", str(exc), [])
    # The job reads from the earliest offset where its group has none (auto.offset.reset),
    # and it has completed a checkpoint (it is STABLE): a partition without a commit has
    # not been read. Left as None, the evaluator would not judge it, and a job that never
    # commits would look healthy.
    offsets = {
        tp: (0 if committed is None else committed, end) for tp, (committed, end) in offsets.items()
    }
    state.tracker.observe(offsets, now)
    judged = state.tracker.evaluate(now, last_commit_at)
    alert = lag_alert(judged, state.tracker.settings, namespace=namespace, name=name)
    transitions = announce(state, [alert] if alert else [], spec, namespace, name, now, settings)
    records, seconds = judged.by_topic()
    alerting_metrics().set_consumer_lag(namespace, name, group, records, seconds, judged.status)
    if alert:
        return LagOutcome(
            lag_status(judged, now),
            False,
            "LagAlertFiring",
            alert.annotations["description"],
            transitions,
        )
    return LagOutcome(lag_status(judged, now), True, str(judged.status), "", transitions)


def stand_down(state: JobLag, spec, namespace: str, name: str, now: float, settings) -> list[Alert]:
    """The job is not running by design: forget the window and resolve what fires."""
    state.tracker.windows.clear()
    return announce(state, [], spec, namespace, name, now, settings)


def announce(
    state: JobLag, active: list[Alert], spec, namespace, name, now: float, settings
) -> list[Alert]:
    transitions = state.book.update(active, datetime.fromtimestamp(now, UTC))
    alert_channels.publish(
        transitions,
        state.book.firing(),
        spec,
        namespace=namespace,
        name=name,
        kind="lag",
        settings=settings,
    )
    return transitions


def lag_status(judged: GroupLag, now: float) -> dict:
    return {
        "group": judged.group,
        "status": str(judged.status),
        "totalRecords": judged.total_lag,
        "maxSeconds": round(judged.max_lag_seconds or 0.0, 3),
        "evaluatedAt": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "partitions": [
            {"topic": p.topic, "partition": p.partition, "lag": p.lag or 0, "status": str(p.status)}
            for p in judged.partitions
        ],
    }
