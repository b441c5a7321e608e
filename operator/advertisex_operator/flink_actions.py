"""The operator's dealings with Flink: observe a job, stop it, submit it. Only I/O, no choices.

Submission runs the PyFlink client (`flink run -d -py flink_jobs/pipeline.py`), which plans
the statement set and submits it through the session cluster's REST API: a Python job's
plan is made where its Python code runs, so the REST API alone cannot submit it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from advertisex.contract.topics import RAW_TOPICS
from advertisex.jobs.flink_rest import (
    FlinkError,
    FlinkRest,
    FlinkUnreachable,
    UnknownJob,
    root_cause,
)
from advertisex.jobs.submit import submit_python_job
from advertisex.kafka_auth import PROPERTIES_ENV
from advertisex.stack.jars import resolve
from advertisex_operator.decisions import Observation
from advertisex_operator.spec import FlinkSqlJobSpec

# The module's file, found without importing it (PyFlink). Not from the package's
# __file__: under pytest, tests/flink_jobs/ can make `flink_jobs` a namespace without one,
# while its modules still resolve to the installed files.
PIPELINES = {"advertisex-pipeline": Path(find_spec("flink_jobs.pipeline").origin)}
# The topics each pipeline consumes with its group (before spec.job.topicPrefix): the lag
# check's partitions.
SOURCE_TOPICS = {"advertisex-pipeline": tuple(RAW_TOPICS.values())}
# Set on every job: a cancelled job keeps its last checkpoint, so last-state upgrades and
# recovery after a cancel outside the operator have a state to restore.
OPERATOR_CONFIGURATION = {
    "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
}


@dataclass(frozen=True)
class JobTarget:
    """Where and as what the job runs, after the operator's defaults are applied."""

    rest_url: str
    bootstrap: str
    kafka_properties: dict[str, str]  # Java client properties (security, SASL)
    job_name: str  # also the consumer group and the transactional-id prefix
    group_id: str


def observe(rest_url: str, job_id: str | None) -> Observation:
    try:
        with FlinkRest(rest_url) as rest:
            rest.overview()
            if job_id is None:
                return Observation(reachable=True)
            try:
                state = rest.state(job_id)
            except UnknownJob:
                return Observation(reachable=True, job_state="MISSING")
            latest = (rest.checkpoints(job_id).get("latest") or {}).get("completed") or {}
            failure = None
            if state in ("FAILED", "FAILING", "RESTARTING"):
                entries = rest.exceptions(job_id)
                failure = root_cause(entries[0]["stacktrace"]) if entries else None
            return Observation(
                reachable=True,
                job_state=state,
                checkpoint_path=latest.get("external_path"),
                checkpoint_at=(latest["latest_ack_timestamp"] / 1000) if latest else None,
                failure=failure,
            )
    except FlinkUnreachable as exc:
        return Observation(reachable=False, error=str(exc))


def stop(
    rest_url: str, job_id: str, savepoint: bool, directory: str | None, timeout: float
) -> str | None:
    """Stop the job with a savepoint (its location) or cancel it (None)."""
    with FlinkRest(rest_url) as rest:
        if not savepoint:
            rest.cancel(job_id)
            rest.wait_for_state(job_id, {"CANCELED"}, timeout)
            return None
        # A savepoint fails while tasks still deploy; wait for them first.
        rest.wait_for_tasks_running(job_id, timeout)
        trigger = rest.stop_with_savepoint(job_id, directory)
        location = rest.wait_for_savepoint(job_id, trigger, timeout)
        rest.wait_for_state(job_id, {"FINISHED"}, timeout)
        return location


def submit(spec: FlinkSqlJobSpec, target: JobTarget, from_path: str | None, timeout: float) -> str:
    """Submit the spec's pipeline; returns the Flink job id."""
    args = [
        "--bootstrap",
        target.bootstrap,
        "--job-name",
        target.job_name,
        "--group-id",
        target.group_id,
        "--topic-prefix",
        spec.job.topic_prefix,
        "--dq-window-s",
        str(spec.job.dq_window_seconds),
    ]
    interval = spec.job.flink_configuration.get("execution.checkpointing.interval")
    if interval:  # the pipeline sets its own interval, which -D alone would not override
        args += ["--checkpoint-interval", interval]
    return submit_python_job(
        target.rest_url,
        PIPELINES[spec.job.pipeline],
        args,
        jars=list(resolve("flink").glob("*.jar")),
        parallelism=spec.job.parallelism,
        savepoint_path=from_path,
        allow_non_restored_state=spec.job.allow_non_restored_state,
        timeout=timeout,
        configuration={**spec.job.flink_configuration, **OPERATOR_CONFIGURATION},
        # Credentials travel in the client's environment, not on its command line.
        env={PROPERTIES_ENV: json.dumps(target.kafka_properties)}
        if target.kafka_properties
        else {},
    )


__all__ = ["FlinkError", "JobTarget", "observe", "stop", "submit"]
