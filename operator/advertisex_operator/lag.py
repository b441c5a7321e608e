"""Consumer lag judged over a window of samples, as Burrow judges it, and in seconds, as
kafka-lag-exporter measures it. Pure: no I/O, no clock; every time is passed in (epoch s).

Samples. The operator polls the group's committed offsets and the partitions' log ends
(`lag_reader.read_offsets`) every few seconds; each poll gives one `OffsetSample` per
partition. `lag = end - committed`. Flink's Kafka source commits only when a checkpoint
completes, and our topics are written in transactions, so a consumer that has read
everything shows a constant lag of 1 (the commit marker after the last record): lags up to
`marker_allowance` count as caught up.

Partition status, over the last `window` samples (`evaluate_partition`), in this order:
1. the latest sample has no committed offset: OK (not judged: nothing committed yet,
   e.g. before a new job's first checkpoint);
2. the latest lag is within the allowance: OK (caught up now; a quiet topic with no lag is
   never STOP);
3. STOP: the last commit (`last_commit_at`: the time of Flink's latest completed
   checkpoint) is older than `stop_after_s` (default: the span of a full window);
4. REWIND: the committed offset went back somewhere in the window (a reset, or a job
   restored from an older savepoint). Not an alert by itself;
5. a window with fewer than `window` samples gives no other verdict: OK until it is full
   (STOP with an explicit `stop_after_s`, and REWIND, are clear without a full window);
6. OK if any lag in the window was within the allowance (it caught up in the window, e.g.
   a spike that went back to zero, or records that arrived after a quiet spell and wait
   for the next checkpoint's commit);
7. STALL: the committed offset did not move across the window while every lag was above
   the allowance;
8. WARN: the lag grew: over the samples at which the committed offset changed (the commits
   seen in the window, at least `warn_commits` of them) it never went down and ended
   higher than it started. Judging the lag at commits, not at every poll, is Burrow's rule
   (its samples are commits) and keeps Flink's saw-tooth out: between checkpoints the
   committed offset stands still and the lag rises with every poll even for a healthy job;
9. otherwise OK.
The group's status is its worst partition's, in the order OK < WARN < REWIND < STALL <
STOP: STOP (nothing commits) and STALL (commits, no progress) need someone; REWIND is
worth seeing but heals by itself; WARN is a consumer falling behind.

Lag in seconds (`PartitionWindow`): each partition keeps (offset, time) points of its log
end (at most `end_history`; a run of polls with the same end keeps its first and last time).
The lag in seconds is `now - t`, where t is the last time the log end stood at
`committed + marker_allowance`, interpolated linearly between the points around it: the
age of the oldest unread record. The allowance is added so that a consumer stopped at a
transaction marker is measured from the next real record: without it, every new
transaction after an idle hour would read as an hour of lag. It is 0 when the lag is within
the allowance (an idle topic never shows a growing number). When the committed offset is
older than the oldest point kept, the lag is reported as `now - time of the oldest point`:
a lower bound (`lag_seconds_lower_bound` is set), never an extrapolation (which gives
absurd values on slow topics and for a consumer replaying from the start). Accuracy is
about one poll interval. A log end that goes back (topic recreated) resets the partition.

Alert rule (`lag_alert_level`): firing when
- a partition is STALL or STOP; or
- a partition is WARN and a threshold is exceeded (the group's total lag in records above
  `max_lag_records`, or its largest lag in seconds above `max_lag_seconds`); or
- the lag in seconds stayed above `max_lag_seconds` across a whole window (the smallest of
  a partition's last `window` values is above it); likewise the records: the sum over the
  partitions of each one's smallest lag in the window above `max_lag_records`.
One slow poll (a single high sample) never fires: statuses and the sustained rules judge
whole windows. Records are counted as `behind`: a partition's lag within the allowance
counts 0, so the markers of many caught-up partitions never add up to a threshold.

Settings for Flink: a window must span more than a checkpoint interval, or STALL and STOP
fire between checkpoints; `LagSettings.for_flink(checkpoint_interval_s, poll_interval_s)`
picks a window of at least two checkpoints and `stop_after_s` of three.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from advertisex.alerting.alert import Alert

TopicPartition = tuple[str, int]


class LagStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    REWIND = "REWIND"
    STALL = "STALL"
    STOP = "STOP"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {s: i for i, s in enumerate(LagStatus)}  # definition order = severity


@dataclass(frozen=True)
class OffsetSample:
    """One partition at one poll: the group's committed offset (None: nothing committed)
    and the partition's log end (the last stable offset for transactional topics)."""

    at: float
    committed: int | None
    end: int

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(0, self.end - self.committed)


class LagSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    window: int = Field(10, ge=2, description="samples judged per partition (Burrow: 10)")
    marker_allowance: int = Field(
        1, ge=0, description="a lag up to this many records counts as caught up (markers)"
    )
    stop_after_s: float | None = Field(
        None,
        gt=0,
        description="STOP when the last commit is older than this; None: the span of a full "
        "window (then STOP needs a full window)",
    )
    max_lag_records: int | None = Field(None, ge=0, description="records threshold; None: off")
    max_lag_seconds: float | None = Field(None, ge=0, description="seconds threshold; None: off")
    end_history: int = Field(
        60, ge=2, description="log-end points kept per partition for the lag in seconds"
    )
    warn_commits: int = Field(
        3, ge=2, description="commits in the window over which a growing lag is WARN"
    )

    @classmethod
    def for_flink(
        cls, checkpoint_interval_s: float, poll_interval_s: float, **overrides
    ) -> LagSettings:
        """A window that spans at least two checkpoints (and no fewer than 10 samples), and
        STOP after three checkpoint intervals (or the window's span if longer)."""
        if checkpoint_interval_s <= 0 or poll_interval_s <= 0:
            raise ValueError("the checkpoint and poll intervals must be positive")
        window = max(10, math.ceil(2 * checkpoint_interval_s / poll_interval_s) + 1)
        stop = max((window - 1) * poll_interval_s, 3 * checkpoint_interval_s)
        return cls(**{"window": window, "stop_after_s": stop, **overrides})


@dataclass(frozen=True)
class PartitionStatus:
    status: LagStatus
    reason: str
    committed: int | None = None
    end: int | None = None
    lag: int | None = None
    behind: int | None = None  # the lag with a lag within the allowance counted as 0
    topic: str = ""
    partition: int = -1
    samples: int = 0
    # From the window's history (see PartitionWindow); None when unknown.
    lag_seconds: float | None = None
    lag_seconds_lower_bound: bool = False
    sustained_lag: int | None = None  # smallest `behind` over a full window
    sustained_lag_seconds: float | None = None  # smallest lag in seconds over a full window


def _behind(lag: int | None, allowance: int) -> int | None:
    return None if lag is None else (0 if lag <= allowance else lag)


def _judged(samples: Sequence[OffsetSample]) -> list[OffsetSample]:
    """The trailing run of samples that have a committed offset."""
    run: list[OffsetSample] = []
    for sample in reversed(samples):
        if sample.committed is None:
            break
        run.append(sample)
    return run[::-1]


def evaluate_partition(
    samples: Sequence[OffsetSample],
    last_commit_at: float | None,
    now: float,
    settings: LagSettings,
) -> PartitionStatus:
    """One partition's status from its last `settings.window` samples (oldest first); the
    rules are in the module's docstring. `last_commit_at` None: STOP is never inferred."""
    window = list(samples)[-settings.window :]
    if not window:
        return PartitionStatus(LagStatus.OK, "no samples yet")
    latest = window[-1]
    allowance = settings.marker_allowance
    base = PartitionStatus(
        LagStatus.OK,
        "",
        latest.committed,
        latest.end,
        latest.lag,
        behind=_behind(latest.lag, allowance),
        samples=len(window),
    )
    run = _judged(window)
    if not run:
        return replace(base, reason="no committed offset yet")
    full = len(run) == settings.window
    lags = [s.lag for s in run]
    if latest.lag <= allowance:
        return replace(base, reason=f"caught up (lag {latest.lag})")

    stop_after = settings.stop_after_s
    if stop_after is None and full:
        stop_after = run[-1].at - run[0].at
    if last_commit_at is not None and stop_after is not None:
        idle = now - last_commit_at
        if idle > stop_after:
            return replace(
                base,
                status=LagStatus.STOP,
                reason=f"no commit for {idle:.0f} s (over {stop_after:.0f} s) "
                f"with {latest.lag} records behind",
            )

    for before, after in zip(run, run[1:], strict=False):
        if after.committed < before.committed:
            return replace(
                base,
                status=LagStatus.REWIND,
                reason=f"committed offset went back from {before.committed} to {after.committed}",
            )

    if not full:
        return replace(base, reason=f"window not full ({len(run)} of {settings.window} samples)")

    # Before STALL: records that arrived within the window have not waited a whole window
    # (a first checkpoint after a quiet spell commits them up to an interval later).
    if min(lags) <= allowance:
        return replace(base, reason="caught up within the window")

    if len({s.committed for s in run}) == 1:
        return replace(
            base,
            status=LagStatus.STALL,
            reason=f"committed offset stayed at {latest.committed} over the window "
            f"while {min(lags)} to {max(lags)} records behind",
        )

    at_commits = [
        after.lag
        for before, after in zip(run, run[1:], strict=False)
        if after.committed != before.committed
    ]
    if (
        len(at_commits) >= settings.warn_commits
        and all(b >= a for a, b in zip(at_commits, at_commits[1:], strict=False))
        and at_commits[-1] > at_commits[0]
    ):
        return replace(
            base,
            status=LagStatus.WARN,
            reason=f"lag grew from {at_commits[0]} to {at_commits[-1]} records "
            f"over {len(at_commits)} commits",
        )
    return replace(base, reason="consuming")


class PartitionWindow:
    """One partition's last samples, their lag in seconds, and its log-end history."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.samples: deque[OffsetSample] = deque()
        self.lag_seconds: deque[float | None] = deque()
        self.lower_bound: deque[bool] = deque()
        self.end_points: list[tuple[int, float]] = []  # (offset, time), offsets rising

    def add(self, sample: OffsetSample, settings: LagSettings) -> None:
        if self.samples and sample.at <= self.samples[-1].at:
            raise ValueError(
                f"samples must come in time order: {sample.at} after {self.samples[-1].at}"
            )
        if self.end_points and sample.end < self.end_points[-1][0]:
            self._reset()  # the log end went back: the topic was recreated or truncated
        points = self.end_points
        if len(points) >= 2 and points[-1][0] == points[-2][0] == sample.end:
            points[-1] = (sample.end, sample.at)  # a flat run keeps its first and last time
        else:
            points.append((sample.end, sample.at))
        del points[: max(0, len(points) - settings.end_history)]
        seconds, lower = self.seconds_behind(sample.committed, sample.end, sample.at, settings)
        self.samples.append(sample)
        self.lag_seconds.append(seconds)
        self.lower_bound.append(lower)
        while len(self.samples) > settings.window:
            self.samples.popleft()
            self.lag_seconds.popleft()
            self.lower_bound.popleft()

    def seconds_behind(
        self, committed: int | None, end: int, now: float, settings: LagSettings
    ) -> tuple[float | None, bool]:
        """(lag in seconds, whether it is a lower bound) at `now`, for a consumer at
        `committed` on a log that ends at `end`, from the log-end history."""
        if committed is None:
            return None, False
        if end - committed <= settings.marker_allowance:
            return 0.0, False
        target = committed + settings.marker_allowance
        points = self.end_points
        if not points or points[-1][0] < end:  # an end not recorded yet: the end now
            points = [*points, (end, now)]
        below = [i for i, (offset, _) in enumerate(points) if offset <= target]
        if not below:
            return max(0.0, now - points[0][1]), True
        i = below[-1]  # not the last point: its offset is the end, above the target
        (o1, t1), (o2, t2) = points[i], points[i + 1]
        produced = t1 + (target - o1) / (o2 - o1) * (t2 - t1)
        return max(0.0, now - produced), False

    def evaluate(
        self,
        last_commit_at: float | None,
        now: float,
        settings: LagSettings,
        topic: str = "",
        partition: int = -1,
    ) -> PartitionStatus:
        status = evaluate_partition(self.samples, last_commit_at, now, settings)
        full = len(self.samples) >= settings.window
        window = list(self.samples)[-settings.window :]
        seconds = list(self.lag_seconds)[-settings.window :]
        behind = [_behind(s.lag, settings.marker_allowance) for s in window]
        sustained = min(behind) if full and None not in behind else None
        sustained_s = min(seconds) if full and None not in seconds else None
        return replace(
            status,
            topic=topic,
            partition=partition,
            lag_seconds=seconds[-1] if seconds else None,
            lag_seconds_lower_bound=bool(self.lower_bound and self.lower_bound[-1]),
            sustained_lag=sustained,
            sustained_lag_seconds=sustained_s,
        )


@dataclass(frozen=True)
class GroupLag:
    group: str
    status: LagStatus
    partitions: tuple[PartitionStatus, ...]
    total_lag: int  # records behind (`behind`: marker lags count 0), over the partitions
    max_lag_seconds: float | None
    sustained_lag_records: int | None  # sum of each partition's smallest lag over its window
    sustained_lag_seconds: float | None  # largest of the partitions' smallest lag-seconds
    over_records: bool  # total_lag above max_lag_records
    over_seconds: bool  # max_lag_seconds above the max_lag_seconds setting
    at: float = 0.0

    @property
    def over_threshold(self) -> bool:
        return self.over_records or self.over_seconds

    def by_topic(self) -> tuple[dict[str, int], dict[str, float | None]]:
        """(records behind per topic: the sum of its partitions' `behind`; lag in seconds per
        topic: its worst partition, None if unknown) — what the metrics take."""
        records: dict[str, int] = {}
        seconds: dict[str, float | None] = {}
        for p in self.partitions:
            records[p.topic] = records.get(p.topic, 0) + (p.behind or 0)
            known = [v for v in (seconds.get(p.topic), p.lag_seconds) if v is not None]
            seconds[p.topic] = max(known) if known else None
        return records, seconds


def evaluate_group(
    windows: Mapping[TopicPartition, PartitionWindow],
    last_commit_at: float | None,
    now: float,
    settings: LagSettings,
    group: str = "",
) -> GroupLag:
    """The group's lag: every partition judged, the worst status, totals and thresholds."""
    partitions = tuple(
        windows[tp].evaluate(last_commit_at, now, settings, topic=tp[0], partition=tp[1])
        for tp in sorted(windows)
    )
    status = max((p.status for p in partitions), key=lambda s: s.rank, default=LagStatus.OK)
    total = sum(p.behind for p in partitions if p.behind is not None)
    seconds = [p.lag_seconds for p in partitions if p.lag_seconds is not None]
    max_seconds = max(seconds) if seconds else None
    sustained = [p.sustained_lag for p in partitions if p.sustained_lag is not None]
    sustained_s = [p.sustained_lag_seconds for p in partitions]
    sustained_s = [v for v in sustained_s if v is not None]
    return GroupLag(
        group=group,
        status=status,
        partitions=partitions,
        total_lag=total,
        max_lag_seconds=max_seconds,
        sustained_lag_records=sum(sustained) if sustained else None,
        sustained_lag_seconds=max(sustained_s) if sustained_s else None,
        over_records=settings.max_lag_records is not None and total > settings.max_lag_records,
        over_seconds=settings.max_lag_seconds is not None
        and max_seconds is not None
        and max_seconds > settings.max_lag_seconds,
        at=now,
    )


class LagTracker:
    """The windows of one consumer group's partitions, fed one poll at a time.

    `settings` may be replaced between polls (e.g. a threshold edited): the history stays.
    """

    def __init__(self, settings: LagSettings | None = None, group: str = ""):
        self.settings = settings or LagSettings()
        self.group = group
        self.windows: dict[TopicPartition, PartitionWindow] = {}

    def observe(self, offsets: Mapping[TopicPartition, tuple[int | None, int]], at: float) -> None:
        """One poll: (committed, end) per partition, as `lag_reader.read_offsets` returns.
        Partitions missing from the poll are forgotten."""
        for tp in [tp for tp in self.windows if tp not in offsets]:
            del self.windows[tp]
        for tp, (committed, end) in offsets.items():
            window = self.windows.setdefault(tp, PartitionWindow())
            window.add(OffsetSample(at, committed, end), self.settings)

    def evaluate(self, now: float, last_commit_at: float | None = None) -> GroupLag:
        return evaluate_group(self.windows, last_commit_at, now, self.settings, self.group)


def lag_alert_reasons(group_lag: GroupLag, settings: LagSettings) -> list[str]:
    """Why the lag alert fires (empty: it does not); the rule is in the module docstring."""
    reasons = []
    for p in group_lag.partitions:
        if p.status in (LagStatus.STALL, LagStatus.STOP):
            reasons.append(f"{p.topic}[{p.partition}] {p.status}: {p.reason}")
    warn = [p for p in group_lag.partitions if p.status == LagStatus.WARN]
    if warn and group_lag.over_threshold:
        over = []
        if group_lag.over_records:
            over.append(f"{group_lag.total_lag} records > {settings.max_lag_records}")
        if group_lag.over_seconds:
            over.append(f"{group_lag.max_lag_seconds:.0f} s > {settings.max_lag_seconds:.0f} s")
        names = ", ".join(f"{p.topic}[{p.partition}]" for p in warn)
        reasons.append(f"lag growing on {names} and over the threshold ({'; '.join(over)})")
    limit_s, sustained_s = settings.max_lag_seconds, group_lag.sustained_lag_seconds
    if limit_s is not None and sustained_s is not None and sustained_s > limit_s:
        reasons.append(
            f"lag stayed above {limit_s:.0f} s for the whole window (at least {sustained_s:.0f} s)"
        )
    limit_r, sustained_r = settings.max_lag_records, group_lag.sustained_lag_records
    if limit_r is not None and sustained_r is not None and sustained_r > limit_r:
        reasons.append(
            f"lag stayed above {limit_r} records for the whole window (at least {sustained_r})"
        )
    return reasons


def lag_alert_level(group_lag: GroupLag, settings: LagSettings) -> Literal["firing"] | None:
    return "firing" if lag_alert_reasons(group_lag, settings) else None


LAG_ALERT_NAME = "ConsumerLag"
LAG_RUNBOOK = (
    "Open the job's Flink UI: failing or slow checkpoints mean no commits (see the job's "
    "exceptions), backpressure means too little parallelism; lag clears once checkpoints "
    "complete and the job keeps up."
)


def lag_alert(
    group_lag: GroupLag,
    settings: LagSettings,
    *,
    namespace: str,
    name: str,
    extra_labels: Mapping[str, str] | None = None,
) -> Alert | None:
    """The alert to hand to an AlertBook while the rule fires, else None. Severity is
    critical for STOP and STALL (nothing progresses), warning otherwise."""
    reasons = lag_alert_reasons(group_lag, settings)
    if not reasons:
        return None
    critical = any(p.status in (LagStatus.STALL, LagStatus.STOP) for p in group_lag.partitions)
    seconds = group_lag.max_lag_seconds
    age = "" if seconds is None else f", oldest unread record {seconds:.0f} s old"
    return Alert(
        labels={
            "alertname": LAG_ALERT_NAME,
            "severity": "critical" if critical else "warning",
            "namespace": namespace,
            "name": name,
            "group": group_lag.group,
            **(extra_labels or {}),
        },
        annotations={
            "summary": f"Consumer group {group_lag.group} of {namespace}/{name} is "
            f"{group_lag.status}: {group_lag.total_lag} records behind{age}",
            "description": "; ".join(reasons),
            "runbook": LAG_RUNBOOK,
        },
        starts_at=datetime.fromtimestamp(group_lag.at, UTC),
    )
