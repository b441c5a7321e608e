"""The data-quality monitor of one FlinkSqlJob, run by the operator (the `data-quality`
timer): the same Monitor as `advertisex monitor`, configured from the resource.

The job's spec gives everything: the topic prefix and Kafka login (where dq_metrics and
campaign_metrics_1m are), the Flink cluster and job name (its watermark, read from the REST
API every `watermarkPollS`), the window (`job.dqWindowSeconds`, which the job was submitted
with), the thresholds (`dataQuality.thresholds`) and the receivers. Each resource keeps a
`JobDataQuality` in kopf's memo: the MonitorLoop (readers and Monitor), rebuilt when that
configuration changes; at start the readers go `historyMinutes` back, so the baselines are
learnt again after an operator restart without announcing old news.

The monitor runs while the job is meant to run, through upgrades and recoveries (a window
with nothing processed is news: the job is not consuming); it stands down (its alerts
resolve, its state goes) when monitoring is disabled or the job is suspended or FAILED,
which are decisions, not data problems. The transitions go to every channel: Events and the
DataQualityHealthy condition (by the handler), webhooks and metrics (alert_channels).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from advertisex.alerting.alert import Alert
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.kafka_auth import kafka_python_config
from advertisex.monitor.dq_reader import DqReader, DqTopicUnavailable
from advertisex.monitor.monitor import Monitor
from advertisex.monitor.monitor_loop import MonitorLoop
from advertisex.monitor.settings import MonitorSettings
from advertisex.monitor.watermarks import WatermarkReader
from advertisex_operator import alert_channels
from advertisex_operator.flink_actions import JobTarget
from advertisex_operator.settings import OperatorSettings
from advertisex_operator.spec import FlinkSqlJobSpec

log = logging.getLogger(__name__)
KIND = "data-quality"
# Lifecycles in which the job is not meant to run: nothing to watch.
STANDING_DOWN = ("SUSPENDED", "FAILED")
# After Kafka or the job's output topics were not there, try again this much later.
RETRY_OPEN_S = 10.0
# Reading is done on the timer's thread once a second: short polls keep it free.
POLL_MS = 100
REST_TIMEOUT_S = 5.0
FIRING_SHOWN = 20  # status.dataQuality.firing keeps this many


@dataclass
class JobDataQuality:
    """What one resource keeps between ticks (kopf's per-resource memo)."""

    config: WatchConfig  # what the readers and the monitor were built from
    loop: MonitorLoop

    @property
    def monitor(self) -> Monitor:
        return self.loop.monitor

    def close(self) -> None:
        self.loop.close()


@dataclass(frozen=True)
class DqOutcome:
    status: dict  # status.dataQuality, its verdict the DataQualityHealthy condition
    transitions: list[Alert]

    @property
    def verdict(self) -> dict:
        return self.status["verdict"]


def not_judged(why: str) -> dict:
    """status.dataQuality when nothing is watched. Each key is given (None, []) so that a
    merge patch clears what an earlier verdict said."""
    return {
        "firing": [],
        "evaluatedAt": None,
        "verdict": {"healthy": None, "reason": "NotJudged", "message": why},
    }


@dataclass(frozen=True)
class WatchConfig:
    """The part of the resource the readers and the monitor are built from."""

    bootstrap: str
    topic_prefix: str
    kafka_properties: tuple[tuple[str, str], ...]
    settings: MonitorSettings
    history_minutes: float
    flink_rest_url: str
    job_name: str


def watch_config(spec: FlinkSqlJobSpec, target: JobTarget) -> WatchConfig:
    return WatchConfig(
        bootstrap=target.bootstrap,
        topic_prefix=spec.job.topic_prefix,
        kafka_properties=tuple(sorted(target.kafka_properties.items())),
        settings=spec.data_quality.monitor_settings(spec.job.dq_window_seconds),
        history_minutes=spec.data_quality.history_minutes,
        flink_rest_url=target.rest_url,
        job_name=target.job_name,
    )


def open_watch(config: WatchConfig, namespace: str, name: str, now: float) -> JobDataQuality:
    """Readers positioned `historyMinutes` back and a fresh Monitor; DqTopicUnavailable
    when Kafka or the job's output topics are not there (yet)."""
    client = kafka_python_config(dict(config.kafka_properties))
    metrics = DqReader(config.bootstrap, config.topic_prefix, client_config=client)
    try:
        campaigns = DqReader(
            config.bootstrap,
            config.topic_prefix,
            client_config=client,
            output="campaign_metrics_1m",
        )
    except DqTopicUnavailable:
        metrics.close()
        raise
    since_ms = int((now - config.history_minutes * 60) * 1000)
    for reader in (metrics, campaigns):
        reader.seek_to_time(since_ms)
    monitor = Monitor(config.settings, {"namespace": namespace, "name": name})
    # By name: an upgrade or a recovery gives the job a new id.
    watermarks = WatermarkReader(
        FlinkRest(config.flink_rest_url, timeout=REST_TIMEOUT_S), job_name=config.job_name
    )
    return JobDataQuality(
        config, MonitorLoop(monitor, metrics, campaigns, watermarks, poll_ms=POLL_MS)
    )


def check(
    state: JobDataQuality,
    spec: FlinkSqlJobSpec,
    *,
    namespace: str,
    name: str,
    now: float,
    settings: OperatorSettings,
) -> DqOutcome:
    """Read what arrived, judge the windows that closed, and publish what changed; the
    caller posts Events and patches the status."""
    step = state.loop.step(int(now * 1000))
    if step.unreadable:  # judged on what was read; read again next tick
        log.warning(f"{namespace}/{name}: {step.unreadable}")
    if step.watermark is not None and step.watermark.error:
        log.info(f"{namespace}/{name}: no watermark read: {step.watermark.error}")
    if not step.judged:  # still reading the history
        return outcome(state.monitor.firing(), [], now)
    transitions = step.transitions
    firing = state.monitor.firing()
    alert_channels.publish(
        transitions, firing, spec, namespace=namespace, name=name, kind=KIND, settings=settings
    )
    return outcome(firing, transitions, now)


def outcome(firing: list[Alert], transitions: list[Alert], now: float) -> DqOutcome:
    shown = sorted(firing, key=lambda a: (a.alertname, a.labels.get("source", "")))
    status = {
        "firing": [
            {
                "alertname": a.alertname,
                "source": a.labels.get("source", ""),
                "summary": a.annotations["summary"],
                "startsAt": a.starts_at.isoformat(timespec="seconds"),
            }
            for a in shown[:FIRING_SHOWN]
        ],
        "evaluatedAt": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
    }
    if not shown:
        status["verdict"] = {"healthy": True, "reason": "Healthy", "message": ""}
        return DqOutcome(status, transitions)
    names = sorted({a.alertname for a in shown})
    message = "; ".join(a.annotations["summary"] for a in shown)[:1000]
    status["verdict"] = {"healthy": False, "reason": "+".join(names)[:120], "message": message}
    return DqOutcome(status, transitions)


def stand_down(
    state: JobDataQuality | None,
    spec: FlinkSqlJobSpec,
    *,
    namespace: str,
    name: str,
    now: float,
    settings: OperatorSettings,
) -> list[Alert]:
    """Not watched by design: resolve what fires and let the readers go."""
    if state is None:
        return []
    transitions = state.monitor.book.update([], datetime.fromtimestamp(now, UTC))
    alert_channels.publish(
        transitions, [], spec, namespace=namespace, name=name, kind=KIND, settings=settings
    )
    state.close()
    return transitions
