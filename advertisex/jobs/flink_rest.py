"""The calls of a Flink session cluster's REST API that list, stop, cancel and savepoint jobs.

Field names are Flink 2.2's, checked against the running cluster: /jobs/overview lists
{jid, name, state, start-time (epoch ms)}; POST /jobs/{id}/stop takes
{targetDirectory, drain} while POST /jobs/{id}/savepoints takes {target-directory,
cancel-job}; both answer {request-id}, whose status at /jobs/{id}/savepoints/{trigger} is
{status: {id: IN_PROGRESS|COMPLETED}, operation: {location} or {failure-cause}}.
GET /jobs/{id}/vertices/{vertex}/watermarks answers a list of {id:
"<subtask>.currentInputWatermark", value: "<epoch ms>"} (Flink's JobVertexWatermarksHandler).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import httpx

TERMINAL_STATES = frozenset({"FINISHED", "CANCELED", "FAILED", "SUSPENDED"})
_JOB_ID = re.compile(r"[0-9a-f]{32}")
# "org.apache.flink.runtime.rest.NotFoundException: Job ... not found" -> the message only.
_JAVA_CLASS_PREFIX = re.compile(r"^(?:Caused by: )?[\w.$]+(?:Exception|Error|Throwable): ")


class FlinkUnreachable(RuntimeError):
    """Nothing answers at the REST URL."""


class FlinkError(RuntimeError):
    """Flink answered with an error status."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class UnknownJob(FlinkError):
    """The cluster has no job with that id."""


class SavepointFailed(FlinkError):
    """A savepoint (or stop with savepoint) ended without a savepoint."""


def root_cause(stack_trace: str) -> str:
    """The innermost exception of a Java stack trace, without its frames."""
    lines = [line for line in stack_trace.splitlines() if line and not line[0].isspace()]
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by:")]
    return (causes or lines or [stack_trace.strip()])[-1]


def _error_text(response: httpx.Response) -> str:
    """Flink's {"errors": [...]} as one line per error, without the Java stack frames."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return response.text.strip()
    first_lines = [_JAVA_CLASS_PREFIX.sub("", str(e).splitlines()[0]) for e in errors if e]
    return "; ".join(first_lines) or response.reason_phrase


class FlinkRest:
    def __init__(self, base_url: str, timeout: float = 10):
        self.url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise FlinkUnreachable(
                f"the Flink REST API at {self.url} is not reachable ({exc}): start it with "
                "`advertisex stack up flink`, or pass --rest URL"
            ) from None
        if response.status_code >= 400:
            raise FlinkError(
                f"{method} {path} -> {response.status_code}: {_error_text(response)}",
                response.status_code,
            )
        return response.json() if response.content else {}

    def _job_call(self, job_id: str, method: str, path: str, **kwargs) -> dict:
        """A call about one job: an id Flink does not know gives UnknownJob, not a 404."""
        if not _JOB_ID.fullmatch(job_id):
            raise UnknownJob(f"{job_id!r} is not a Flink job id (32 hexadecimal digits)")
        try:
            return self._call(method, path, **kwargs)
        except FlinkError as exc:
            if exc.status_code == 404:
                raise UnknownJob(
                    f"the Flink cluster at {self.url} has no job {job_id} "
                    "(`advertisex job list` shows its jobs)",
                    404,
                ) from None
            raise

    def overview(self) -> dict:
        """Cluster totals: taskmanagers, slots-total, slots-available, jobs-running, ..."""
        return self._call("GET", "/overview")

    def jobs(self) -> list[dict]:
        """Every job the cluster knows, newest first: {id, name, state, start_time (UTC)}."""
        listed = self._call("GET", "/jobs/overview")["jobs"]
        jobs = [
            {
                "id": job["jid"],
                "name": job["name"],
                "state": job["state"],
                "start_time": datetime.fromtimestamp(job["start-time"] / 1000, UTC),
            }
            for job in listed
        ]
        return sorted(jobs, key=lambda job: job["start_time"], reverse=True)

    def job(self, job_id: str) -> dict:
        """Flink's job details: jid, name, state, start-time, vertices, timestamps, ..."""
        return self._job_call(job_id, "GET", f"/jobs/{job_id}")

    def state(self, job_id: str) -> str:
        return self.job(job_id)["state"]

    def checkpoints(self, job_id: str) -> dict:
        """Checkpoint statistics; latest.restored names the savepoint the job started from."""
        return self._job_call(job_id, "GET", f"/jobs/{job_id}/checkpoints")

    def exceptions(self, job_id: str) -> list[dict]:
        """The job's failures, newest first: exceptionName, stacktrace, timestamp, ..."""
        found = self._job_call(job_id, "GET", f"/jobs/{job_id}/exceptions")
        return found["exceptionHistory"]["entries"]

    def vertex_watermarks(self, job_id: str, vertex_id: str) -> list[dict]:
        """A vertex's input watermark per subtask, as Flink's metric store has it:
        [{"id": "<subtask>.currentInputWatermark", "value": "<epoch ms>"}]. A subtask whose
        metric was not fetched yet is left out, one with no watermark yet reports
        Long.MIN_VALUE (advertisex/monitor/watermarks.py reads these)."""
        path = f"/jobs/{job_id}/vertices/{vertex_id}/watermarks"
        found = self._job_call(job_id, "GET", path)
        return found if isinstance(found, list) else []

    def cancel(self, job_id: str) -> None:
        self._job_call(job_id, "PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    def stop_with_savepoint(
        self, job_id: str, target_directory: str | None = None, drain: bool = False
    ) -> str:
        """Start a savepoint that ends the job (FINISHED); returns its trigger id.

        Without target_directory the cluster's execution.checkpointing.savepoint-dir is used.
        """
        body: dict[str, object] = {"drain": drain}
        if target_directory:
            body["targetDirectory"] = str(target_directory)
        return self._job_call(job_id, "POST", f"/jobs/{job_id}/stop", json=body)["request-id"]

    def trigger_savepoint(
        self, job_id: str, target_directory: str | None = None, cancel_job: bool = False
    ) -> str:
        """Start a savepoint of a running job; returns its trigger id."""
        body: dict[str, object] = {"cancel-job": cancel_job}
        if target_directory:
            body["target-directory"] = str(target_directory)
        found = self._job_call(job_id, "POST", f"/jobs/{job_id}/savepoints", json=body)
        return found["request-id"]

    def savepoint_status(self, job_id: str, trigger_id: str) -> dict:
        """{status: {id: IN_PROGRESS|COMPLETED}, operation: {location} or {failure-cause}}."""
        return self._job_call(job_id, "GET", f"/jobs/{job_id}/savepoints/{trigger_id}")

    def wait_for_savepoint(self, job_id: str, trigger_id: str, timeout: float = 120) -> str:
        """The savepoint's location (a file: URI here) once it completes."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.savepoint_status(job_id, trigger_id)
            if status["status"]["id"] == "COMPLETED":
                operation = status.get("operation") or {}
                if operation.get("location"):
                    return operation["location"]
                cause = (operation.get("failure-cause") or {}).get("stack-trace", "")
                raise SavepointFailed(
                    f"the savepoint of job {job_id} failed: {root_cause(cause) or 'no cause given'}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"the savepoint of job {job_id} is not done after {timeout}s")
            time.sleep(0.2)

    def wait_for_state(self, job_id: str, states: Iterable[str], timeout: float = 60) -> str:
        """Wait until the job is in one of states; fail early if it ends in another."""
        wanted = {states} if isinstance(states, str) else set(states)
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(job_id)
            if state in wanted:
                return state
            if state in TERMINAL_STATES:
                failures = self.exceptions(job_id) if state == "FAILED" else []
                why = f": {root_cause(failures[0]['stacktrace'])}" if failures else ""
                raise FlinkError(f"job {job_id} ended {state}, not {'/'.join(wanted)}{why}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"job {job_id} is {state}, not {'/'.join(wanted)}, after {timeout}s"
                )
            time.sleep(0.25)

    def wait_for_tasks_running(self, job_id: str, timeout: float = 120) -> None:
        """Wait until the job and every one of its tasks run.

        A job is RUNNING while its tasks still deploy (Python workers take seconds to
        start), and a savepoint triggered then fails: "Not all required tasks are
        currently running".
        """
        deadline = time.monotonic() + timeout
        self.wait_for_state(job_id, {"RUNNING"}, timeout)
        while True:
            vertices = self.job(job_id)["vertices"]
            waiting = [v["name"] for v in vertices if v["status"] not in ("RUNNING", "FINISHED")]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"tasks of job {job_id} not running after {timeout}s: {waiting}")
            self.wait_for_state(job_id, {"RUNNING"}, max(deadline - time.monotonic(), 0))
            time.sleep(0.25)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FlinkRest:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
