"""Reconcile the raw topics with Pinot: per source and arrival interval, the messages that
reached the source's raw topic against the records the job counted (`received` in Pinot's
dq_metrics table: valid + invalid + duplicates, every record it read).

**Raw side.** Raw messages carry their event time as the Kafka timestamp (CreateTime, set
by our producers), so timestamps cannot say when a message arrived. The reconciler takes
snapshots of the raw topics' end offsets (summed over partitions, per source) around each
interval boundary while it runs: the raw count of an interval is the end offsets at its
end minus at its start. Our producers (KafkaSink: the simulator, replay) are idempotent and
not transactional, so every offset is one message and a retried send takes no second
offset: the count is exact. A transactional producer would not be counted exactly: each
commit or abort marker takes an offset of every partition it wrote, and aborted messages
keep theirs though the job (read_committed) never reads them; both would show here as
records missing from Pinot. Nothing corrects for that: such a topic would need a
read_committed consumer counting records, not offsets.

**Pinot side.** SUM(received) per source over the dq_metrics windows whose window_start_ms
lies in the interval. dq_metrics windows are per processing time (when the job checked the
record), and the interval must be a whole number of them.

**The rule.** Boundaries are wall-clock multiples of the interval (UTC hours by default).
Around each boundary b the reconciler takes two snapshots: *before* at the first tick from
b - 2 edge on (valid only if it finished by b - edge) and *after* at the first tick from
b + edge on. The raw count of [b, b') is after(b') - after(b); the records that arrived
between the two snapshots of b are its *edge* count (at least 3 edge seconds of traffic).
If every record is checked within edge seconds of its arrival (the job's processing
latency, and the clocks of the monitor and the job agreeing within it), a record that
arrived before before(b) is counted by Pinot before b and one that arrived after after(b)
is counted after b; only the edge's records can be on the other side of b in Pinot than in
the offsets. Writing D(b) for those that are (0 <= D(b) <= edge(b)), raw - Pinot over any
run of consecutive intervals from b0 to bn is exactly lost records + D(bn) - D(b0): the
inner boundaries cancel. So, with nothing lost, raw - Pinot lies in
[-edge(b0), +edge(bn)]; the reconciler checks this band for each interval alone and for
the run of intervals since the last mismatch (a small steady loss that no interval shows
alone grows in the run while the band does not). A difference outside it is a mismatch:
above, at least difference - edge(bn) records that reached the raw topic are not in Pinot;
below, Pinot counted at least edge(b0) - difference records more than arrived (a job
restarted from an older savepoint, a second job writing the same table). A loss of L
records in an interval is certain to be caught when L exceeds edge(b0) + edge(bn), and in
practice when it exceeds edge(bn) (D is usually a few records in flight).

An interval is judged once it is over by `reconcile_settle_s` (the job's checkpoint commits
its dq_metrics rows, Pinot ingests them). A job stopped or lagging more than edge behind at
a boundary breaks the assumption and is reported: Pinot lacks that interval's records when
it is judged (and, if the job catches up, counts them in a later interval, reported as
extra); the runbook sends the reader to the job's consumer lag. An interval whose
boundaries lack a valid snapshot (the reconciler started late, a tick came too late, Kafka
did not answer, offsets went back because a topic was recreated) is not judged, and a run
starts again after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import httpx
import pinotdb
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from advertisex.contract.topics import RAW_TOPICS
from advertisex.monitor.source_watch import Finding
from advertisex.monitor.windows import SOURCES
from advertisex.serving.pinot_broker import broker_connection
from advertisex.serving.templates import is_identifier

ALERTNAME = "ReconciliationMismatch"


class ReconcileSettings(BaseSettings):
    """The reconciliation's settings; ADVERTISEX_MONITOR_<FIELD> in the environment, as the
    monitor's own settings."""

    model_config = SettingsConfigDict(env_prefix="ADVERTISEX_MONITOR_", frozen=True)

    reconcile_interval_s: float = Field(
        3600,
        gt=0,
        description="the arrival interval compared (an hour); a whole number of dq_metrics "
        "windows, boundaries at multiples of it since the epoch",
    )
    reconcile_settle_s: float = Field(
        600,
        ge=0,
        description="an interval is judged this long after it ends (the job's checkpoint "
        "commits its counts, Pinot ingests them)",
    )
    reconcile_edge_s: float = Field(
        15,
        gt=0,
        description="the job checks every record within this long of its arrival (and the "
        "clocks agree within it): records arriving this close to a boundary may be counted "
        "on its other side, and are the tolerance",
    )

    @model_validator(mode="after")
    def _edges_fit(self) -> ReconcileSettings:
        if 3 * self.reconcile_edge_s >= self.reconcile_interval_s:
            raise ValueError(
                "reconcile_edge_s must be under a third of reconcile_interval_s (the "
                "snapshots around one boundary must end before those of the next begin)"
            )
        return self

    @property
    def interval_ms(self) -> int:
        return round(self.reconcile_interval_s * 1000)

    @property
    def settle_ms(self) -> int:
        return round(self.reconcile_settle_s * 1000)

    @property
    def edge_ms(self) -> int:
        return round(self.reconcile_edge_s * 1000)


class ReconcileUnavailable(RuntimeError):
    """Kafka, Pinot, a topic or the table is not there; the message says which."""


# --- I/O: Kafka and Pinot ------------------------------------------------------------------

_KAFKA_DEFAULTS = KafkaConsumer.DEFAULT_CONFIG


def raw_end_offsets(
    bootstrap: str,
    topic_prefix: str = "",
    client_config: Mapping | None = None,
    sources: Iterable[str] = SOURCES,
) -> dict[str, int]:
    """Per source: the sum of its raw topic's end offsets (high watermarks) over partitions."""
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id="advertisex-reconcile",
            **({"bootstrap_timeout_ms": 5000} if "bootstrap_timeout_ms" in _KAFKA_DEFAULTS else {}),
            **dict(client_config or {}),
        )
    except KafkaError as exc:
        raise ReconcileUnavailable(
            f"no Kafka broker answers at {bootstrap} ({type(exc).__name__}): start the local "
            "stack with `advertisex stack up` or give the pipeline's brokers"
        ) from None
    try:
        sums = {}
        for source in sources:
            topic = topic_prefix + RAW_TOPICS[source]
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise ReconcileUnavailable(
                    f"raw topic {topic} does not exist on {bootstrap}: is the topic prefix "
                    f"({topic_prefix!r}) the pipeline's?"
                )
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            sums[source] = sum(ends.values())
        return sums
    except KafkaError as exc:
        raise ReconcileUnavailable(f"reading the raw topics' end offsets failed: {exc}") from exc
    finally:
        consumer.close()


def pinot_received(
    broker_url: str, table: str, from_ms: int, to_ms: int, timeout: float = 30.0
) -> dict[str, int]:
    """Per source: SUM(received) of the dq_metrics windows starting in [from_ms, to_ms)."""
    if not is_identifier(table):
        raise ValueError(f"{table!r} is not a Pinot table name")
    sql = (
        f"SELECT source, SUM(received) FROM {table} "
        f"WHERE window_start_ms >= {int(from_ms)} AND window_start_ms < {int(to_ms)} "
        "GROUP BY source LIMIT 1000"
    )
    _, connection = broker_connection(broker_url, timeout)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return {str(source): int(total) for source, total in cursor.fetchall()}
    except httpx.HTTPError as exc:
        raise ReconcileUnavailable(
            f"the Pinot broker at {broker_url} did not answer ({type(exc).__name__}): start it "
            "with `advertisex stack up pinot`"
        ) from None
    except pinotdb.exceptions.Error as exc:
        raise ReconcileUnavailable(
            f"Pinot at {broker_url} could not count {table}: {exc} (are the tables created, "
            "`advertisex bootstrap`, with this table prefix?)"
        ) from None
    finally:
        connection.close()


# --- the judgement (pure) -----------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The raw topics' end offsets per source, read between started_ms and ended_ms."""

    started_ms: int
    ended_ms: int
    offsets: Mapping[str, int]


@dataclass
class Boundary:
    at_ms: int
    before: Snapshot
    after: Snapshot | None = None


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Reconciliation:
    """One source over one arrival interval [start_ms, end_ms), and over the run of
    consecutive intervals since run_start_ms (this one included)."""

    source: str
    start_ms: int
    end_ms: int
    raw: int  # messages that reached the raw topic
    pinot: int  # records Pinot's dq_metrics counted (received)
    edge_start: int  # raw messages that arrived within the edge of start_ms
    edge_end: int  # ... of end_ms
    run_start_ms: int
    run_raw: int
    run_pinot: int
    run_edge_start: int  # the edge count of run_start_ms
    edge_s: float = 0.0  # for the summary
    topic: str = ""

    @property
    def difference(self) -> int:
        """raw - pinot: positive when Pinot lacks records."""
        return self.raw - self.pinot

    @property
    def run_difference(self) -> int:
        return self.run_raw - self.run_pinot

    @property
    def missing(self) -> int:
        """Records certainly not in Pinot: what the edges cannot explain (interval or run)."""
        return max(0, self.difference - self.edge_end, self.run_difference - self.edge_end)

    @property
    def extra(self) -> int:
        """Records Pinot certainly counted more than arrived."""
        return max(
            0, -self.difference - self.edge_start, -self.run_difference - self.run_edge_start
        )

    @property
    def matched(self) -> bool:
        return self.missing == 0 and self.extra == 0

    @property
    def run_intervals(self) -> int:
        return (self.end_ms - self.run_start_ms) // (self.end_ms - self.start_ms)

    def summary(self) -> str:
        span = f"{_utc(self.start_ms)} to {_utc(self.end_ms)[11:]} UTC"
        topic = self.topic or self.source
        text = (
            f"{span}: {self.raw} message(s) reached {topic}, Pinot counted {self.pinot} "
            f"(difference {self.difference:+d}; {self.edge_start} and {self.edge_end} arrived "
            f"within {self.edge_s:g} s of the start and the end)"
        )
        run = ""
        if self.run_start_ms != self.start_ms:
            run = (
                f"; over the {self.run_intervals} intervals since {_utc(self.run_start_ms)} "
                f"UTC {self.run_raw} against {self.run_pinot} ({self.run_difference:+d})"
            )
        if self.missing:
            verdict = f"at least {self.missing} record(s) missing from Pinot"
        elif self.extra:
            verdict = f"Pinot counted at least {self.extra} record(s) more than arrived"
        else:
            verdict = "matched within the edges"
        return f"{verdict}: {text}{run}"

    def finding(self) -> Finding | None:
        """A ReconciliationMismatch finding for the monitor, or None when it matched."""
        if self.matched:
            return None
        return Finding(ALERTNAME, self.source, self.summary())


@dataclass(frozen=True)
class Run:
    """One source's consecutive judged intervals since its last mismatch: [start_ms,
    end_ms), the raw and Pinot counts over it, and the edge count of start_ms."""

    start_ms: int
    end_ms: int
    edge_start: int
    raw: int = 0
    pinot: int = 0


def reconcile(
    source: str,
    start: Boundary,
    end: Boundary,
    pinot: int,
    run: Run | None = None,
    edge_s: float = 0.0,
    topic: str = "",
) -> Reconciliation | None:
    """The reconciliation of one source over [start, end) from the two boundaries'
    snapshots, with the run that ended at start (a new one if None or not ending there);
    None if the snapshots cannot say (one after is missing, offsets went back)."""
    if start.after is None or end.after is None:
        return None
    at = {
        "before_start": start.before.offsets.get(source, 0),
        "after_start": start.after.offsets.get(source, 0),
        "before_end": end.before.offsets.get(source, 0),
        "after_end": end.after.offsets.get(source, 0),
    }
    order = list(at.values())
    if order != sorted(order):  # a topic recreated: its offsets went back
        return None
    edge_start = at["after_start"] - at["before_start"]
    edge_end = at["after_end"] - at["before_end"]
    raw = at["after_end"] - at["after_start"]
    if run is None or run.end_ms != start.at_ms:
        run = Run(start.at_ms, start.at_ms, edge_start)
    return Reconciliation(
        source=source,
        start_ms=start.at_ms,
        end_ms=end.at_ms,
        raw=raw,
        pinot=pinot,
        edge_start=edge_start,
        edge_end=edge_end,
        run_start_ms=run.start_ms,
        run_raw=run.raw + raw,
        run_pinot=run.pinot + pinot,
        run_edge_start=run.edge_start,
        edge_s=edge_s,
        topic=topic,
    )


# --- the reconciler -----------------------------------------------------------------------


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Reconciler:
    """Call `tick(now_ms)` on every loop of the monitor (at least every few seconds, more
    often than reconcile_edge_s): it takes the snapshots that are due and judges the
    intervals that settled, returning their Reconciliations. `findings()` is what fires:
    the mismatches of each source's latest judged interval.

    read_offsets() -> {source: summed end offsets}; read_received(from_ms, to_ms) ->
    {source: SUM(received)}. `connect` binds them to Kafka and Pinot; tests give numbers.
    """

    read_offsets: Callable[[], Mapping[str, int]]
    read_received: Callable[[int, int], Mapping[str, int]]
    settings: ReconcileSettings = field(default_factory=ReconcileSettings)
    window_s: float = 60.0  # the job's --dq-window-s
    sources: tuple[str, ...] = SOURCES
    topic_prefix: str = ""
    clock: Callable[[], int] = _now_ms  # stamps the snapshots (ms)
    boundaries: dict[int, Boundary] = field(default_factory=dict, init=False)
    latest: dict[str, Reconciliation] = field(default_factory=dict, init=False)
    skipped: list[tuple[int, int]] = field(default_factory=list, init=False)  # not judged
    _next_before: int | None = field(default=None, init=False)
    _next_judged: int | None = field(default=None, init=False)
    runs: dict[str, Run] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        window_ms = round(self.window_s * 1000)
        if window_ms <= 0 or self.settings.interval_ms % window_ms:
            raise ValueError(
                f"reconcile_interval_s ({self.settings.reconcile_interval_s:g}) must be a whole "
                f"number of dq_metrics windows ({self.window_s:g} s, the job's --dq-window-s)"
            )

    @classmethod
    def connect(
        cls,
        bootstrap: str,
        broker_url: str,
        topic_prefix: str = "",
        table_prefix: str = "",
        client_config: Mapping | None = None,
        settings: ReconcileSettings | None = None,
        window_s: float = 60.0,
        sources: tuple[str, ...] = SOURCES,
    ) -> Reconciler:
        """A reconciler of the pipeline's raw topics (under topic_prefix, on the brokers at
        bootstrap) with its dq_metrics table (table_prefix + dq_metrics on the broker)."""
        return cls(
            read_offsets=partial(raw_end_offsets, bootstrap, topic_prefix, client_config, sources),
            read_received=partial(pinot_received, broker_url, table_prefix + "dq_metrics"),
            settings=settings or ReconcileSettings(),
            window_s=window_s,
            sources=sources,
            topic_prefix=topic_prefix,
        )

    def _snapshot(self) -> Snapshot:
        started = self.clock()
        offsets = dict(self.read_offsets())
        return Snapshot(started, self.clock(), offsets)

    def tick(self, now_ms: int) -> list[Reconciliation]:
        """Take the snapshots due at now_ms; judge the intervals settled by now_ms.

        Raises ReconcileUnavailable when Kafka or Pinot did not answer (after doing what it
        could: a snapshot missed is a boundary lost, a Pinot count is asked again next tick).
        """
        s = self.settings
        interval, edge = s.interval_ms, s.edge_ms
        if self._next_before is None:
            # The first boundary whose snapshot before can still be taken.
            self._next_before = -(-(now_ms + edge) // interval) * interval
            self._next_judged = self._next_before
        problem: ReconcileUnavailable | None = None
        # Snapshots after: the boundaries that have one before.
        for boundary in sorted(self.boundaries.values(), key=lambda b: b.at_ms):
            if boundary.after is None and now_ms >= boundary.at_ms + edge:
                try:
                    boundary.after = self._snapshot()
                except ReconcileUnavailable as exc:
                    problem = problem or exc
        # The snapshot before the next boundary, once due (b - 2 edge) and while still in
        # time (by b - edge); a boundary whose time passed gets none and is lost.
        while now_ms >= self._next_before - 2 * edge:
            at = self._next_before
            if now_ms <= at - edge:
                try:
                    before = self._snapshot()
                except ReconcileUnavailable as exc:
                    problem = problem or exc
                    break
                if before.ended_ms <= at - edge:
                    self.boundaries[at] = Boundary(at, before)
                self._next_before += interval
            else:
                self._next_before = -(-(now_ms + edge) // interval) * interval
        judged: list[Reconciliation] = []
        while self._next_judged + interval + s.settle_ms <= now_ms:
            start_ms = self._next_judged
            end_ms = start_ms + interval
            if end_ms >= self._next_before:
                break  # its end boundary is still to come (a tick with a clock gone back)
            start, end = self.boundaries.get(start_ms), self.boundaries.get(end_ms)
            if start is not None and end is not None and end.after is None:
                break  # its snapshot after is still to be taken
            if start is None or end is None or start.after is None:
                self._skip(start_ms, end_ms)
                continue
            try:
                received = self.read_received(start_ms, end_ms)
            except ReconcileUnavailable as exc:
                problem = problem or exc
                break
            results = self.judge(start, end, received)
            if results is None:
                self._skip(start_ms, end_ms)
                continue
            judged += results
            self._next_judged = end_ms
            self.boundaries.pop(start_ms, None)
        if problem is not None:
            raise problem
        return judged

    def judge(
        self, start: Boundary, end: Boundary, received: Mapping[str, int]
    ) -> list[Reconciliation] | None:
        """Every source over [start, end): updates the runs and the latest results."""
        results = []
        for source in self.sources:
            result = reconcile(
                source,
                start,
                end,
                int(received.get(source, 0)),
                self.runs.get(source),
                self.settings.reconcile_edge_s,
                self.topic_prefix + RAW_TOPICS.get(source, source),
            )
            if result is None:
                return None
            results.append(result)
        for result in results:
            if result.matched:
                self.runs[result.source] = Run(
                    result.run_start_ms,
                    result.end_ms,
                    result.run_edge_start,
                    result.run_raw,
                    result.run_pinot,
                )
            else:  # reported: the next run starts at its end
                self.runs.pop(result.source, None)
            self.latest[result.source] = result
        return results

    def _skip(self, start_ms: int, end_ms: int) -> None:
        self.skipped.append((start_ms, end_ms))
        self.runs.clear()
        self._next_judged = end_ms
        self.boundaries.pop(start_ms, None)

    def findings(self) -> list[Finding]:
        """ReconciliationMismatch for each source whose latest judged interval mismatched."""
        found = (self.latest[s].finding() for s in self.sources if s in self.latest)
        return [f for f in found if f is not None]
