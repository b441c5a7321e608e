"""kopf handlers for FlinkSqlJob: thin. Each observes, asks decisions.py, and carries out one step.

Run: `kopf run --standalone -m advertisex_operator.handlers --all-namespaces` (the chart's
Deployment does; the tests run the same as a process). Progress and the last handled spec
are kept in annotations, so the status holds only named fields.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime

import kopf

from advertisex.jobs.flink_rest import FlinkError, FlinkUnreachable
from advertisex.jobs.submit import SubmitFailed
from advertisex.monitor.dq_reader import DqTopicUnavailable
from advertisex_operator import (
    alert_channels,
    decisions,
    dq_watch,
    flink_actions,
    kube_api,
    lag_alerts,
)
from advertisex_operator.decisions import GiveUp, Nothing, Stop, Submit, Wait
from advertisex_operator.flink_actions import JobTarget
from advertisex_operator.kafka_access import KafkaAccessError, client_properties, effective_kafka
from advertisex_operator.lag import LagTracker
from advertisex_operator.settings import OperatorSettings
from advertisex_operator.spec import FlinkSqlJobSpec, validate_spec

GROUP, VERSION, PLURAL = "advertisex.io", "v1alpha1", "flinksqljobs"
SETTINGS = OperatorSettings()
TARGET_REFRESH_S = 60.0
# One step at a time per resource: the reconcile timer and the delete handler run in threads.
_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    # kafka-python logs every connection of each lag poll at INFO, httpx every request.
    for noisy in ("kafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Submissions block a thread for a minute; several jobs may upgrade at once.
    settings.execution.max_workers = 8
    alert_channels.start_metrics(SETTINGS.metrics_port)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_spec(spec: dict) -> FlinkSqlJobSpec:
    return FlinkSqlJobSpec.model_validate(dict(spec))


def job_target(parsed: FlinkSqlJobSpec, name: str, namespace: str) -> JobTarget:
    kafka = effective_kafka(parsed.kafka, SETTINGS)
    rest_url = parsed.flink.rest_url if parsed.flink else SETTINGS.default_flink_rest_url
    group = parsed.job.group_id or f"{namespace}.{name}"
    return JobTarget(
        rest_url=rest_url.rstrip("/"),
        bootstrap=kafka.bootstrap_servers,
        kafka_properties=client_properties(kafka, namespace, kube_api.read_secret),
        job_name=group,
        group_id=group,
    )


def refused(body, patch, status: dict, reason: str, message: str, generation: int) -> None:
    """The operator refuses the spec: a condition and (once per message) a Warning Event."""
    previous = next((c for c in status.get("conditions") or [] if c.get("type") == "SpecValid"), {})
    if previous.get("message") != message:
        kopf.warn(body, reason=reason, message=message)
    patch.status["conditions"] = decisions.condition(
        status.get("conditions") or [], "SpecValid", False, reason, message, _now_iso(), generation
    )
    patch.status["error"] = message
    patch.status["observedGeneration"] = generation


@kopf.timer(GROUP, VERSION, PLURAL, id="reconcile", interval=SETTINGS.reconcile_interval_s)
def reconcile(body, spec, status, meta, name, namespace, patch, logger, **_) -> None:
    generation = meta.get("generation")
    with _locks[meta["uid"]]:
        try:
            parsed = parse_spec(spec)
        except ValueError as exc:  # the schema passed it, so this is a bug of ours or a skew
            refused(body, patch, status, "InvalidSpec", f"spec: {exc}", generation)
            return
        problem = validate_spec(
            parsed, bool(SETTINGS.default_kafka_bootstrap), bool(SETTINGS.default_flink_rest_url)
        )
        if problem:
            refused(body, patch, status, "InvalidSpec", problem, generation)
            return
        try:
            target = job_target(parsed, name, namespace)
        except (KafkaAccessError, ValueError) as exc:
            refused(body, patch, status, "KafkaCredentials", str(exc), generation)
            return
        conditions = decisions.condition(
            status.get("conditions") or [],
            "SpecValid",
            True,
            "Accepted",
            "",
            _now_iso(),
            generation,
        )
        current = decisions.status_from_dict(status)
        seen = flink_actions.observe(target.rest_url, current.job_id)
        job_status = dict(status.get("jobStatus") or {})
        if seen.job_state:
            job_status["state"] = seen.job_state
        if seen.checkpoint_path:
            job_status["lastCheckpoint"] = {
                "path": seen.checkpoint_path,
                "completedAt": datetime.fromtimestamp(seen.checkpoint_at or 0, UTC).isoformat(),
                "completedAtEpoch": seen.checkpoint_at,
            }
        patch.status["observedGeneration"] = generation
        action = decisions.decide(parsed, current, seen, time.time())
        logger.debug(f"decided {action}")
        lifecycle, ready, why = carry_out(action, body, parsed, target, current, job_status, patch)
        patch.status["jobStatus"] = job_status
        patch.status["lifecycleState"] = lifecycle
        conditions = decisions.condition(
            conditions, "Ready", ready, lifecycle.capitalize(), why, _now_iso(), generation
        )
        # The checks' verdicts as conditions: this timer is the one writer of the list,
        # which a merge patch replaces whole.
        for kind, check in (("LagHealthy", "lag"), ("DataQualityHealthy", "dataQuality")):
            verdict = (status.get(check) or {}).get("verdict") or {}
            conditions = decisions.condition(
                conditions,
                kind,
                verdict.get("healthy"),
                verdict.get("reason", "NotJudged"),
                verdict.get("message", ""),
                _now_iso(),
            )
        patch.status["conditions"] = conditions


def carry_out(action, body, parsed, target, current, job_status: dict, patch):
    """Do the one step; returns (lifecycleState, Ready, message)."""
    now = time.time()
    if isinstance(action, Nothing):
        if action.lifecycle == "STABLE" and current.restart_count:
            patch.status["restarts"] = {"count": 0}
        if action.lifecycle in ("STABLE", "SUSPENDED"):
            patch.status["error"] = None
        ready = action.lifecycle in ("STABLE", "SUSPENDED")
        return action.lifecycle, ready, action.message
    if isinstance(action, Wait):
        patch.status["error"] = action.message
        return current.lifecycle or "CREATED", False, action.message
    if isinstance(action, GiveUp):
        if current.lifecycle != "FAILED":
            kopf.warn(body, reason=action.reason, message=action.message)
        patch.status["error"] = action.message
        return "FAILED", False, action.message
    kopf.info(body, reason=action.reason, message=action.message)
    if isinstance(action, Stop):
        return _stop(action, body, parsed, target, current, job_status, patch)
    return _submit(action, body, parsed, target, current, job_status, patch, now)


def stop_flink_job(body, parsed, target, job_id: str, savepoint: bool) -> str | None:
    """Stop with a savepoint (its location) or cancel; a failure is retried by kopf."""
    directory = parsed.savepoints.directory if parsed.savepoints else None
    try:
        return flink_actions.stop(
            target.rest_url, job_id, savepoint, directory, SETTINGS.savepoint_timeout_s
        )
    except (FlinkError, FlinkUnreachable, TimeoutError) as exc:
        kopf.warn(body, reason="StopFailed", message=str(exc))
        raise kopf.TemporaryError(f"stopping job {job_id} failed: {exc}", delay=10) from exc


def _stop(action: Stop, body, parsed, target, current, job_status, patch):
    location = stop_flink_job(body, parsed, target, current.job_id, action.savepoint)
    if location:
        entry = decisions.SavepointEntry(location, _now_iso(), action.reason)
        keep = parsed.savepoints.history_max_count if parsed.savepoints else 5
        job_status["savepointHistory"] = decisions.savepoint_history(
            current.savepoints, entry, keep
        )
        kopf.info(body, reason="SavepointTaken", message=f"savepoint {location}")
    job_status["jobId"] = None
    job_status["state"] = "FINISHED" if location else "CANCELED"
    if action.then == "suspend":
        return "SUSPENDED", True, "suspended as the spec asks"
    return "UPGRADING", False, action.message


def _submit(action: Submit, body, parsed, target, current, job_status, patch, now):
    try:
        job_id = flink_actions.submit(parsed, target, action.from_path, SETTINGS.submit_timeout_s)
    except (SubmitFailed, FlinkError, FlinkUnreachable) as exc:
        kopf.warn(body, reason="SubmitFailed", message=str(exc)[:1000])
        patch.status["error"] = str(exc)[:2000]
        raise kopf.TemporaryError(f"submitting the job failed: {exc}", delay=15) from exc
    kopf.info(body, reason="Submitted", message=f"Flink job {job_id} submitted{_from(action)}")
    job_status.update(
        {
            "jobId": job_id,
            "jobName": target.job_name,
            "state": "CREATED",
            "startTime": _now_iso(),
            "submittedAtEpoch": now,
        }
    )
    restarts = {"nonce": parsed.restart_nonce}
    if action.counts_as_restart:
        restarts |= {
            "count": current.restart_count + 1,
            "lastAt": _now_iso(),
            "lastAtEpoch": now,
            "lastReason": action.message[:500],
        }
    elif action.reason == "Retried":
        restarts |= {"count": 0}
    patch.status["restarts"] = restarts
    patch.status["lastAppliedSpec"] = decisions.applied_key(parsed)
    return "DEPLOYED", False, f"job {job_id} submitted; stable after its first checkpoint"


def _from(action: Submit) -> str:
    return f" from {action.from_path}" if action.from_path else ""


@kopf.on.delete(GROUP, VERSION, PLURAL, id="stop-job")
def stop_job(body, spec, status, meta, name, namespace, logger, **_) -> None:
    with _locks[meta["uid"]]:
        try:
            parsed = parse_spec(spec)
            target = job_target(parsed, name, namespace)
        except (ValueError, KafkaAccessError) as exc:
            logger.warning(f"deleting without stopping: the spec is not usable ({exc})")
            return
        current = decisions.status_from_dict(status)
        seen = flink_actions.observe(target.rest_url, current.job_id)
        action = decisions.decide_delete(parsed, seen)
        if isinstance(action, Wait):
            raise kopf.TemporaryError(action.message, delay=action.retry_in)
        if isinstance(action, Stop):
            kopf.info(body, reason=action.reason, message=action.message)
            location = stop_flink_job(body, parsed, target, current.job_id, action.savepoint)
            what = f"with savepoint {location}" if location else "by cancelling it"
            logger.info(f"stopped Flink job {current.job_id} {what}")
    _locks.pop(meta["uid"], None)


@kopf.timer(GROUP, VERSION, PLURAL, id="lag-check", interval=1.0)
def check_lag(body, spec, status, meta, name, namespace, patch, memo, **_) -> None:
    """Poll the job's consumer lag every spec.lagAlert.intervalSeconds (the timer ticks each
    second so that each job keeps its own interval)."""
    now = time.time()
    state = memo.get("lag")
    if state is not None and now < state.next_poll_at:
        return
    try:
        parsed = parse_spec(spec)
        target = job_target(parsed, name, namespace)
    except (ValueError, KafkaAccessError):
        return  # the reconcile timer reports why
    if state is None:
        state = memo["lag"] = lag_alerts.JobLag(LagTracker(group=target.group_id))
    state.next_poll_at = now + parsed.lag_alert.interval_seconds
    if _locks[meta["uid"]].locked():
        # A reconcile step is under way (a submission takes seconds): the status may name a
        # job that is gone. Judge again once it has written what it did.
        return
    job = status.get("jobStatus") or {}
    judged = status.get("lifecycleState") in lag_alerts.JUDGED_LIFECYCLES
    if not judged or not job.get("jobId") or job.get("state") != "RUNNING":
        for alert in lag_alerts.stand_down(state, parsed, namespace, name, now, SETTINGS):
            _lag_event(body, alert)
        # healthy: None removes a verdict's old value (a merge patch keeps what it omits).
        verdict = {
            "healthy": None,
            "reason": "NotJudged",
            "message": "judged once the job is STABLE",
        }
        patch.status["lag"] = {"verdict": verdict}
        return
    if state.job_id != job["jobId"]:  # a new job: its first commits come at its checkpoints
        state.tracker.windows.clear()
        state.job_id = job["jobId"]
    outcome = lag_alerts.check(
        state,
        parsed,
        namespace=namespace,
        name=name,
        bootstrap=target.bootstrap,
        kafka_properties=target.kafka_properties,
        group=target.group_id,
        topics=[
            parsed.job.topic_prefix + t for t in flink_actions.SOURCE_TOPICS[parsed.job.pipeline]
        ],
        last_commit_at=(job.get("lastCheckpoint") or {}).get("completedAtEpoch"),
        now=now,
        settings=SETTINGS,
    )
    for alert in outcome.transitions:
        _lag_event(body, alert)
    # The reconcile timer turns the verdict into the LagHealthy condition: one writer of
    # the conditions list, which a merge patch replaces whole.
    verdict = {"healthy": outcome.healthy, "reason": outcome.reason, "message": outcome.message}
    patch.status["lag"] = {**outcome.status, "verdict": verdict}


def _lag_event(body, alert) -> None:
    if alert.firing:
        kopf.warn(body, reason="LagAlertFiring", message=alert.annotations["summary"])
    else:
        kopf.info(body, reason="LagAlertResolved", message=alert.annotations["summary"])


@kopf.timer(GROUP, VERSION, PLURAL, id="data-quality", interval=1.0)
def check_data_quality(body, spec, status, meta, name, namespace, patch, memo, **_) -> None:
    """Run the job's data-quality monitor: read what dq_metrics got, judge closed windows."""
    now = time.time()
    try:
        parsed = parse_spec(spec)
        # The target (with the Kafka login, read from a Secret) once per spec generation and
        # every TARGET_REFRESH_S (a rotated password), not at every tick.
        cached = memo.get("dq_target")
        if cached is None or cached[0] != meta.get("generation") or now > cached[1]:
            target = job_target(parsed, name, namespace)
            memo["dq_target"] = (meta.get("generation"), now + TARGET_REFRESH_S, target)
        config = dq_watch.watch_config(parsed, memo["dq_target"][2])
    except (ValueError, KafkaAccessError):
        return  # the reconcile timer reports why
    state = memo.get("dq")
    watched = parsed.data_quality.enabled and (
        status.get("lifecycleState") not in (None, *dq_watch.STANDING_DOWN)
    )
    if state is not None and (not watched or state.config != config):
        for alert in dq_watch.stand_down(
            state, parsed, namespace=namespace, name=name, now=now, settings=SETTINGS
        ):
            _dq_event(body, alert)
        state = memo["dq"] = None
    if not watched:
        why = "monitoring is disabled" if not parsed.data_quality.enabled else "no job to watch"
        _set_data_quality(status, patch, dq_watch.not_judged(why))
        return
    if state is None:
        if now < memo.get("dq_retry_at", 0):
            return
        try:
            state = memo["dq"] = dq_watch.open_watch(config, namespace, name, now)
        except DqTopicUnavailable as exc:  # the job has not created its outputs yet
            memo["dq_retry_at"] = now + dq_watch.RETRY_OPEN_S
            _set_data_quality(status, patch, dq_watch.not_judged(str(exc)))
            return
    outcome = dq_watch.check(
        state, parsed, namespace=namespace, name=name, now=now, settings=SETTINGS
    )
    for alert in outcome.transitions:
        _dq_event(body, alert)
    _set_data_quality(status, patch, outcome.status)


def _set_data_quality(status, patch, wanted: dict) -> None:
    """Patch status.dataQuality when what it says changed: the timer ticks every second."""
    current = status.get("dataQuality") or {}

    def said(d: dict) -> dict:
        return {k: v for k, v in d.items() if k != "evaluatedAt"}

    if said(current) != said(wanted):
        patch.status["dataQuality"] = wanted


def _dq_event(body, alert) -> None:
    message = f"{alert.alertname}: {alert.annotations['summary']}"
    if alert.firing:
        kopf.warn(body, reason="DataQualityAlertFiring", message=message)
    else:
        kopf.info(body, reason="DataQualityAlertResolved", message=message)


@kopf.on.delete(GROUP, VERSION, PLURAL, id="forget-alerts", optional=True)
def forget_alerts(name, namespace, memo, **_) -> None:
    state = memo.get("dq")
    if state is not None:
        state.close()
        memo["dq"] = None
    alert_channels.forget(namespace, name)
