"""The Flink job's event-time watermark, read from the REST API, and its lag behind the clock.

Flink answers GET /jobs/{job}/vertices/{vertex}/watermarks (`FlinkRest.vertex_watermarks`)
with each subtask's input watermark, [{"id": "<subtask>.currentInputWatermark", "value":
"<epoch ms>"}], and GET /jobs/{job} (`FlinkRest.job`) with the job's vertices and its plan,
whose nodes list their `inputs`. `job_watermark` folds these into one number:

- A subtask's value of Long.MIN_VALUE (-9223372036854775808), or no value at all (the
  metric not fetched yet: Flink's metric store is refreshed every 10 s by default, and
  leaves such a subtask out of the answer), means "no watermark yet": it is ignored. So
  is Long.MAX_VALUE (9223372036854775807), what a subtask reports once its inputs have
  ended (a bounded input), which holds no event time back; and a value that is not an
  integer.
- A source vertex (a plan node without inputs) has no input watermark (it makes the
  watermark from its records' timestamps): it is skipped.
- A vertex downstream of an interval join (a vertex whose name or plan description says
  IntervalJoin, and everything it feeds, directly or not) is skipped too: Flink SQL's
  interval join emits its input watermark minus its window on purpose (the pipeline's
  click join 30 min, its conversion join 7 days), so those vertices' watermarks measure
  the window, not a lag. The join's own vertex counts: its input watermark is not held.
- A vertex's watermark is the minimum over its subtasks that have one; the job's
  watermark is the minimum over the vertices that count and have one: the slowest part
  of the job holds event time back (a join, a window, a sink's transactions wait for it).
- None when no vertex has one (a job that has read no record yet).

The lag is wall-clock time minus the watermark: `watermark_lag_s(watermark_ms, now_ms)` =
(now_ms - watermark_ms) / 1000 seconds. It includes the job's out-of-orderness allowance
(the watermark trails the highest event time by it, 10 s by default) and is negative when
event time runs ahead of the clock (simulations above real-time speed). Idle inputs keep
their last watermark, so the lag of a job that receives nothing at all grows with the
clock: a silent source is the SourceSilent alert's to report.

`WatermarkReader(rest, job_name=...)` reads a running job's watermark with `FlinkRest`:
`read(now_ms)` never raises for the REST API's failures; a `WatermarkReading` with no
lag and the `error` says why (the watch holds its state on None, as on no watermark).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from advertisex.jobs.flink_rest import FlinkError, FlinkRest, FlinkUnreachable

LONG_MIN = -(2**63)  # Long.MIN_VALUE: the subtask has no watermark yet
LONG_MAX = 2**63 - 1  # Long.MAX_VALUE: the subtask's inputs have ended
# Flink SQL's interval join operator, as vertex names ("IntervalJoin[54] -> Calc[55]") and
# plan descriptions ("IntervalJoin(joinType=[LeftOuterJoin], windowBounds=[...])") name it.
_INTERVAL_JOIN = re.compile(r"\bIntervalJoin\b")


def subtask_watermarks(metrics: Iterable[Mapping]) -> list[int]:
    """The watermarks (epoch ms) of the subtasks that have one, from one vertex's answer."""
    found = []
    for metric in metrics:
        value = metric.get("value")
        if value is None:
            continue
        try:
            ms = int(value)
        except (TypeError, ValueError):
            continue
        if LONG_MIN < ms < LONG_MAX:
            found.append(ms)
    return found


def vertex_watermark(metrics: Iterable[Mapping]) -> int | None:
    """The minimum over the vertex's subtasks that have a watermark; None if none has."""
    return min(subtask_watermarks(metrics), default=None)


def _nodes(job: Mapping) -> list[Mapping]:
    return (job.get("plan") or {}).get("nodes") or []


def source_vertices(job: Mapping) -> set[str]:
    """Ids of the job's source vertices: the plan's nodes without inputs."""
    return {node["id"] for node in _nodes(job) if not node.get("inputs")}


def held_back_vertices(job: Mapping) -> set[str]:
    """Ids of the vertices fed, directly or not, by an interval join's vertex."""
    names = {vertex["id"]: vertex.get("name", "") for vertex in job.get("vertices") or []}
    consumers: dict[str, set[str]] = {}
    joins = []
    for node in _nodes(job):
        for edge in node.get("inputs") or []:
            consumers.setdefault(edge["id"], set()).add(node["id"])
        text = f"{names.get(node['id'], '')} {node.get('description', '')}"
        if _INTERVAL_JOIN.search(text):
            joins.append(node["id"])
    held: set[str] = set()
    waiting = [c for join in joins for c in consumers.get(join, ())]
    while waiting:
        vertex = waiting.pop()
        if vertex not in held:
            held.add(vertex)
            waiting.extend(consumers.get(vertex, ()))
    return held


def counted_vertices(job: Mapping) -> list[str]:
    """Ids of the vertices whose watermark counts: neither sources nor held back."""
    skipped = source_vertices(job) | held_back_vertices(job)
    return [v["id"] for v in job.get("vertices") or [] if v["id"] not in skipped]


def job_watermark(job: Mapping, watermarks: Mapping[str, Iterable[Mapping]]) -> int | None:
    """The job's watermark (epoch ms): the minimum over its vertices that count (neither
    sources nor downstream of an interval join) and have one of each vertex's minimum over
    its subtasks; None when no vertex has one.

    job: GET /jobs/{job} (its `vertices` and `plan`); watermarks: vertex id -> that
    vertex's GET .../watermarks answer (a vertex not in it has no watermark)."""
    found = [vertex_watermark(watermarks.get(v, ())) for v in counted_vertices(job)]
    return min((ms for ms in found if ms is not None), default=None)


def watermark_lag_s(watermark_ms: int | None, now_ms: int) -> float | None:
    """How far event time is behind the clock, in seconds (negative: ahead); None: no
    watermark."""
    return None if watermark_ms is None else (now_ms - watermark_ms) / 1000


def running_job_id(jobs: Iterable[Mapping], name: str) -> str | None:
    """The id of the newest RUNNING job called name, from `FlinkRest.jobs()` ({id, name,
    state, start_time}, newest first); None if no such job runs."""
    running = [job for job in jobs if job["name"] == name and job["state"] == "RUNNING"]
    if not running:
        return None
    return max(running, key=lambda job: job["start_time"])["id"]


@dataclass(frozen=True)
class WatermarkReading:
    """One read: the job read (None: none found), its watermark (None: none yet, or not
    read), the clock it is judged against, and why nothing was read (`error`)."""

    job_id: str | None
    watermark_ms: int | None
    now_ms: int
    error: str | None = None

    @property
    def lag_s(self) -> float | None:
        return watermark_lag_s(self.watermark_ms, self.now_ms)


class WatermarkReader:
    """Reads the watermark of one job: the RUNNING job called job_name, looked up at every
    read (an upgrade or a restart from a savepoint gives the job a new id), or a fixed
    job_id. The plan (which vertices count) is asked once per job id, once it has one."""

    def __init__(self, rest: FlinkRest, job_name: str | None = None, job_id: str | None = None):
        if (job_name is None) == (job_id is None):
            raise ValueError("give the job's name or its id, not both or neither")
        self.rest = rest
        self.job_name = job_name
        self.job_id = job_id
        self._jobs: dict[str, dict] = {}  # job id -> its details (vertices, plan)

    def find_job(self) -> str | None:
        if self.job_id is not None:
            return self.job_id
        return running_job_id(self.rest.jobs(), self.job_name)

    def watermark_ms(self, job_id: str) -> int | None:
        """The job's watermark now (raises FlinkRest's errors)."""
        job = self._jobs.get(job_id)
        if job is None:
            job = self.rest.job(job_id)
            if job.get("vertices"):  # kept once the job is planned, one job at a time
                self._jobs = {job_id: job}
        watermarks = {v: self.rest.vertex_watermarks(job_id, v) for v in counted_vertices(job)}
        return job_watermark(job, watermarks)

    def read(self, now_ms: int) -> WatermarkReading:
        """The job's watermark and its lag at now_ms; REST failures in `error`."""
        job_id = None
        try:
            job_id = self.find_job()
            if job_id is None:
                return WatermarkReading(None, None, now_ms, f"no RUNNING job {self.job_name!r}")
            return WatermarkReading(job_id, self.watermark_ms(job_id), now_ms)
        except (FlinkUnreachable, FlinkError) as exc:  # UnknownJob too: it ended meanwhile
            return WatermarkReading(job_id, None, now_ms, str(exc))
