"""What to do next, given the spec, the status and what Flink says: pure functions, no I/O.

One call decides one step. The handler carries it out, records the result in the status,
and the next reconcile decides the step after it, so every step is safe to repeat: an
upgrade is "stop with a savepoint" (lifecycle UPGRADING, no job), then "submit from it".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from advertisex_operator.spec import FlinkSqlJobSpec

# Flink job states in which the job holds (or is about to hold) slots.
ACTIVE_STATES = frozenset(
    {"INITIALIZING", "CREATED", "RUNNING", "RESTARTING", "RECONCILING", "FAILING", "CANCELLING"}
)
# A job that ended on its own (not by us): FAILED or CANCELED outside the operator, or gone
# from the cluster (MISSING: a restarted session cluster forgets its jobs).
LOST_STATES = frozenset({"FAILED", "CANCELED", "MISSING", "SUSPENDED"})

Lifecycle = Literal[
    "CREATED", "DEPLOYED", "STABLE", "UPGRADING", "SUSPENDED", "FAILED", "FINISHED", "DELETING"
]


@dataclass(frozen=True)
class Observation:
    """What the Flink REST API said about the job in the status (jobId)."""

    reachable: bool
    job_state: str | None = None  # None when the status names no job
    checkpoint_path: str | None = None  # the latest completed checkpoint, retained on cancel
    checkpoint_at: float | None = None  # epoch seconds
    failure: str | None = None  # the root cause of a failed job
    error: str | None = None  # why Flink could not be asked


@dataclass(frozen=True)
class SavepointEntry:
    path: str
    taken_at: str
    reason: str


@dataclass(frozen=True)
class Status:
    """The parts of .status the decisions read (status_from_dict builds it)."""

    lifecycle: str | None = None
    job_id: str | None = None
    last_applied: str | None = None  # JSON of spec.upgrade_key() the job was submitted with
    savepoints: tuple[SavepointEntry, ...] = ()
    checkpoint_path: str | None = None
    restart_count: int = 0
    last_restart_at: float | None = None
    nonce: int | None = None
    submitted_at: float | None = None


def status_from_dict(status: dict) -> Status:
    job = status.get("jobStatus") or {}
    restarts = status.get("restarts") or {}
    return Status(
        lifecycle=status.get("lifecycleState"),
        job_id=job.get("jobId") or None,
        last_applied=status.get("lastAppliedSpec"),
        savepoints=tuple(
            SavepointEntry(s["path"], s.get("takenAt", ""), s.get("reason", ""))
            for s in job.get("savepointHistory") or []
        ),
        checkpoint_path=(job.get("lastCheckpoint") or {}).get("path"),
        restart_count=int(restarts.get("count") or 0),
        last_restart_at=restarts.get("lastAtEpoch"),
        nonce=restarts.get("nonce"),
        submitted_at=job.get("submittedAtEpoch"),
    )


def applied_key(spec: FlinkSqlJobSpec) -> str:
    return json.dumps(spec.upgrade_key(), sort_keys=True)


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submit:
    from_path: str | None
    reason: str  # an Event reason: Created, Resumed, Upgraded, Restarted, Recovered
    message: str
    counts_as_restart: bool = False


@dataclass(frozen=True)
class Stop:
    """Take the job down: with a savepoint, or by cancelling it."""

    savepoint: bool
    then: Literal["resubmit", "suspend", "delete"]
    reason: str
    message: str


@dataclass(frozen=True)
class Wait:
    reason: str
    message: str
    retry_in: float


@dataclass(frozen=True)
class GiveUp:
    reason: str
    message: str


@dataclass(frozen=True)
class Nothing:
    lifecycle: str
    message: str = ""


Action = Submit | Stop | Wait | GiveUp | Nothing


def restore_point(spec: FlinkSqlJobSpec, status: Status, for_failure: bool) -> str | None:
    """Where a new submission restores from.

    After our own stop: the savepoint (savepoint mode) or the retained checkpoint
    (last-state). After a failure, the newest state we know of whatever the mode: losing
    a job's state to a crash is never what a user of a stateful job wants.
    """
    savepoint = status.savepoints[0].path if status.savepoints else None
    if for_failure:
        return status.checkpoint_path or savepoint or spec.job.initial_savepoint_path
    if spec.job.upgrade_mode == "stateless":
        return None
    if spec.job.upgrade_mode == "last-state":
        return status.checkpoint_path or savepoint or spec.job.initial_savepoint_path
    return savepoint or spec.job.initial_savepoint_path


def backoff_s(spec: FlinkSqlJobSpec, restarts_so_far: int) -> float:
    return float(spec.restart_policy.backoff_seconds * (2**restarts_so_far))


def decide(spec: FlinkSqlJobSpec, status: Status, seen: Observation, now: float) -> Action:
    """The next step towards the spec."""
    if not seen.reachable:
        return Wait("FlinkUnreachable", seen.error or "the Flink REST API does not answer", 10)
    state = seen.job_state
    active = state in ACTIVE_STATES
    if spec.job.state == "suspended":
        if active:
            stateless = spec.job.upgrade_mode == "stateless"
            return Stop(
                savepoint=not stateless,
                then="suspend",
                reason="Suspending",
                message="spec.job.state is suspended: "
                + ("cancelling the job (stateless)" if stateless else "stopping with a savepoint"),
            )
        return Nothing("SUSPENDED")
    if status.lifecycle == "FAILED" and not active:
        retry = applied_key(spec) != status.last_applied or (
            spec.restart_nonce is not None and spec.restart_nonce != status.nonce
        )
        if not retry:
            return Nothing("FAILED", "restart limit reached; change the spec or restartNonce")
        path = restore_point(spec, status, for_failure=True)
        return Submit(path, "Retried", "the spec changed after the job failed" + _from(path))
    if not active:
        return _start(spec, status, seen, now)
    if applied_key(spec) != status.last_applied:
        return _restart(spec, "Upgrading", "the spec changed")
    if spec.restart_nonce is not None and spec.restart_nonce != status.nonce:
        return _restart(spec, "Restarting", f"restartNonce changed to {spec.restart_nonce}")
    stable = (
        state == "RUNNING"
        and seen.checkpoint_at is not None
        and status.submitted_at is not None
        and seen.checkpoint_at >= status.submitted_at
    )
    return Nothing("STABLE" if stable else "DEPLOYED")


def decide_delete(spec: FlinkSqlJobSpec, seen: Observation) -> Stop | Wait | Nothing:
    """On delete: stop the job by spec.deletionPolicy, then the finalizer may go."""
    if not seen.reachable:
        return Wait("FlinkUnreachable", seen.error or "the Flink REST API does not answer", 10)
    if seen.job_state not in ACTIVE_STATES:
        return Nothing("DELETING", "no Flink job runs")
    with_savepoint = spec.deletion_policy == "savepoint"
    how = "stopping the job with a savepoint" if with_savepoint else "cancelling the job"
    return Stop(with_savepoint, "delete", "Deleting", f"the resource is being deleted: {how}")


def _restart(spec: FlinkSqlJobSpec, reason: str, why: str) -> Stop:
    mode = spec.job.upgrade_mode
    how = {
        "savepoint": "stopping with a savepoint, then resubmitting from it",
        "last-state": "cancelling, then resubmitting from the latest checkpoint",
        "stateless": "cancelling, then resubmitting without state",
    }[mode]
    return Stop(
        savepoint=mode == "savepoint", then="resubmit", reason=reason, message=f"{why}: {how}"
    )


def _start(spec: FlinkSqlJobSpec, status: Status, seen: Observation, now: float) -> Action:
    state = seen.job_state
    if state == "FINISHED" and status.lifecycle not in ("UPGRADING", "SUSPENDED"):
        # A job that finished on its own is not restarted (a bounded job is done).
        return Nothing("FINISHED", "the Flink job finished")
    if status.job_id is None or status.lifecycle in (None, "CREATED", "UPGRADING", "SUSPENDED"):
        if status.job_id is None and status.lifecycle in (None, "CREATED"):
            path = spec.job.initial_savepoint_path
            return Submit(path, "Created", "submitting the job" + _from(path))
        path = restore_point(spec, status, for_failure=False)
        reason = "Resumed" if status.lifecycle == "SUSPENDED" else "Upgraded"
        return Submit(path, reason, "resubmitting the job" + _from(path))
    # The job was ours and it is gone without our doing: FAILED, CANCELED or MISSING.
    lost = state or "MISSING"
    limit = spec.restart_policy.max_restarts
    if status.restart_count >= limit:
        return GiveUp(
            "RestartLimitReached",
            f"the Flink job is {lost} and was resubmitted {status.restart_count} times "
            f"(spec.restartPolicy.maxRestarts: {limit}); change restartNonce to try again",
        )
    if status.last_restart_at is not None:
        ready_at = status.last_restart_at + backoff_s(spec, status.restart_count - 1)
        if now < ready_at:
            return Wait(
                "BackingOff",
                f"the Flink job is {lost}; resubmitting in {ready_at - now:.0f}s",
                ready_at - now,
            )
    path = restore_point(spec, status, for_failure=True)
    cause = f": {seen.failure}" if seen.failure else ""
    return Submit(
        path,
        "Recovered",
        f"the Flink job was {lost}{cause}; resubmitting it ({status.restart_count + 1} of {limit})"
        + _from(path),
        counts_as_restart=True,
    )


def _from(path: str | None) -> str:
    return f" from {path}" if path else " without state"


# --- status ------------------------------------------------------------------------------


def savepoint_history(
    entries: tuple[SavepointEntry, ...], new: SavepointEntry, keep: int
) -> list[dict]:
    """Newest first, at most keep entries."""
    kept = [new, *[e for e in entries if e.path != new.path]][:keep]
    return [{"path": e.path, "takenAt": e.taken_at, "reason": e.reason} for e in kept]


def condition(
    existing: list[dict],
    type_: str,
    ok: bool | None,
    reason: str,
    message: str,
    now_iso: str,
    generation: int | None = None,
) -> list[dict]:
    """The conditions list with type_ set; lastTransitionTime moves only when status does."""
    value = "Unknown" if ok is None else ("True" if ok else "False")
    previous = next((c for c in existing if c.get("type") == type_), None)
    changed = previous is None or previous.get("status") != value
    entry = {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_iso if changed else previous.get("lastTransitionTime", now_iso),
    }
    if generation is not None:
        entry["observedGeneration"] = generation
    return [*(c for c in existing if c.get("type") != type_), entry]
