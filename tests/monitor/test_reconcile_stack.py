"""The reconciliation on the real stack: simulated traffic through Kafka, the Flink job and
Pinot's dq_metrics table, reconciled per source and interval while it runs.

Time is compressed: dq_metrics windows of WINDOW_S, intervals of 12 s with edges of 2 s
(snapshots at b - 4 s and b + 2 s around each boundary b), judged 10 s after they end.
Traffic in the middle of an interval must match exactly; traffic across a boundary within
the edges, and exactly over the run; messages sent while the job is stopped are reported
missing, with their exact count.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import KafkaSink
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.jobs.submit import submit_python_job
from advertisex.monitor.reconcile import (
    ALERTNAME,
    Reconciler,
    ReconcileSettings,
    ReconcileUnavailable,
    pinot_received,
    raw_end_offsets,
)
from advertisex.monitor.windows import SOURCES
from advertisex.serving.bootstrap import BootstrapSettings, bootstrap
from advertisex.stack.jars import resolve
from flink_jobs import pipeline

pytestmark = [pytest.mark.pinot, pytest.mark.flink]

WINDOW_S = 2
SETTINGS = ReconcileSettings(reconcile_interval_s=12, reconcile_edge_s=2, reconcile_settle_s=10)
INTERVAL = 12_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sleep_until(ms: int) -> None:
    time.sleep(max(0.0, (ms - now_ms()) / 1000))


def traffic(seed: int, seconds: int, **knobs) -> tuple[list[dict], list]:
    """Simulated messages from now on; a click bot, so that every source has some."""
    sim = Simulator(
        SimulationConfig(
            seed=seed,
            start_ms=now_ms(),
            duration_s=seconds,
            bid_rate=60,
            diurnal=False,  # the same volume at whatever hour the test runs
            anomalies=Anomalies(bots=1, **knobs),
        )
    )
    return sim.campaigns(), list(sim.events())


def send(sink: KafkaSink, messages: list, paced: bool = False) -> Counter:
    """Send messages (on their own arrival times if paced); the count per source."""
    began, first = time.monotonic(), messages[0].arrival_ms
    for m in messages:
        if paced:
            time.sleep(max(0.0, began + (m.arrival_ms - first) / 1000 - time.monotonic()))
        sink.write(m)
    sink.flush(30)
    return Counter(m.source for m in messages)


class ReconcilerThread(threading.Thread):
    def __init__(self, reconciler: Reconciler):
        super().__init__(daemon=True)
        self.reconciler = reconciler
        self.lock = threading.Lock()
        self.judged: list = []
        self.errors: list[str] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            with self.lock:
                try:
                    self.judged += self.reconciler.tick(now_ms())
                except ReconcileUnavailable as exc:
                    self.errors.append(str(exc))
            time.sleep(0.2)

    def interval(self, start_ms: int, timeout_s: float = 60) -> dict:
        """The reconciliations of [start_ms, start_ms + INTERVAL) by source, once judged."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                found = {r.source: r for r in self.judged if r.start_ms == start_ms}
                skipped = (start_ms, start_ms + INTERVAL) in self.reconciler.skipped
            assert not skipped, f"interval {start_ms} not judged (a snapshot missed)"
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"interval {start_ms} not judged in {timeout_s} s: {self.errors}")


@pytest.fixture(scope="module")
def pipeline_run(flink, pinot):
    cfg = pinot
    run = uuid.uuid4().hex[:6]
    prefix, tables = f"r{run}.", f"r{run}_"
    outcomes = bootstrap(
        BootstrapSettings(
            kafka_bootstrap=cfg.kafka_bootstrap,
            pinot_controller=cfg.pinot_controller_url,
            topic_prefix=prefix,
            table_prefix=tables,
        )
    )
    assert {o.status for o in outcomes} == {"created"}
    args = ["--bootstrap", cfg.kafka_bootstrap, "--topic-prefix", prefix, "--job-name", prefix]
    args += ["--group-id", prefix, "--checkpoint-interval", "1 s", "--dq-window-s", str(WINDOW_S)]
    job = submit_python_job(
        cfg.flink_rest_url, pipeline.__file__, args, jars=list(resolve("flink").glob("*.jar"))
    )
    rest = FlinkRest(cfg.flink_rest_url)
    sink = KafkaSink(cfg.kafka_bootstrap, topic_prefix=prefix)
    try:
        rest.wait_for_tasks_running(job)
        yield cfg, prefix, tables, sink, rest, job
    finally:
        sink.close()
        if rest.state(job) not in ("CANCELED", "FINISHED", "FAILED"):
            rest.cancel(job)
        rest.close()


def test_counts_match_per_source_and_a_stopped_job_is_reported_missing(pipeline_run):
    cfg, prefix, tables, sink, rest, job = pipeline_run
    broker, table = cfg.pinot_broker_url, tables + "dq_metrics"

    # Warm up: the job reads and Pinot ingests (Python workers, first segments) before the
    # reconciler's first interval; the I/O functions count it all.
    campaigns, messages = traffic(100, 5)
    sink.write_campaigns(campaigns)
    sent = send(sink, messages)
    deadline = time.monotonic() + 180
    while pinot_received(broker, table, 0, 2**62) != dict(sent) and time.monotonic() < deadline:
        time.sleep(1)
    assert pinot_received(broker, table, 0, 2**62) == dict(sent)
    assert raw_end_offsets(cfg.kafka_bootstrap, prefix) == {s: sent[s] for s in SOURCES}

    reconciler = Reconciler.connect(
        cfg.kafka_bootstrap, broker, prefix, tables, settings=SETTINGS, window_s=WINDOW_S
    )
    watcher = ReconcilerThread(reconciler)
    watcher.start()
    try:
        # The first boundary with both snapshots.
        deadline = time.monotonic() + 3 * INTERVAL / 1000
        first = None
        while first is None and time.monotonic() < deadline:
            with watcher.lock:
                taken = [b for b, x in reconciler.boundaries.items() if x.after is not None]
            first = min(taken, default=None)
            time.sleep(0.2)
        assert first is not None, watcher.errors

        # Two intervals with traffic in their middle: exact per source.
        sent_in = {}
        for k, seed in enumerate((1, 2)):
            start = first + k * INTERVAL
            sleep_until(start + 2500)  # after the snapshot at start + 2 s
            _, messages = traffic(seed, 10, malformed=0.05, duplicates=0.05)
            sent_in[start] = send(sink, messages)
            assert now_ms() < start + INTERVAL - 4000, "the burst overran the next edge"
        # Traffic at its own pace across the boundary first + 3 intervals.
        across = first + 3 * INTERVAL
        sleep_until(across - 6000)
        _, messages = traffic(3, 10)
        in_flight = send(sink, messages, paced=True)
        assert now_ms() < across + INTERVAL - 4000, "the paced traffic overran the next edge"

        assert all(c[s] > 0 for c in sent_in.values() for s in SOURCES)
        for start, counts in sent_in.items():
            found = watcher.interval(start)
            print(*(r.summary() for r in found.values()), sep="\n")
            for source in SOURCES:
                r = found[source]
                assert (r.raw, r.pinot, r.difference) == (counts[source],) * 2 + (0,), r
                assert (r.edge_start, r.edge_end) == (0, 0), r
        before, after = watcher.interval(across - INTERVAL), watcher.interval(across)
        for source in SOURCES:
            b, a = before[source], after[source]
            assert b.matched and a.matched, (b.summary(), a.summary())
            assert b.edge_end == a.edge_start > 0  # traffic arrived around the boundary
            assert b.raw + a.raw == in_flight[source]
            # The run from the quiet boundary `first` to the quiet end: exact.
            assert a.run_start_ms == first
            total = in_flight[source] + sum(c[source] for c in sent_in.values())
            assert (a.run_raw, a.run_pinot) == (total, total), a.summary()
        print(*(r.summary() for r in (*before.values(), *after.values())), sep="\n")
        with watcher.lock:
            assert reconciler.findings() == []

        # The job stops: what arrives now never reaches Pinot.
        rest.cancel(job)
        rest.wait_for_state(job, {"CANCELED"})
        lost_start = (now_ms() + 4000 + INTERVAL) // INTERVAL * INTERVAL
        sleep_until(lost_start + 2500)
        _, messages = traffic(4, 10)
        lost = send(sink, messages)
        found = watcher.interval(lost_start)
        for source in SOURCES:
            r = found[source]
            assert (r.raw, r.pinot, r.difference, r.missing) == (lost[source], 0) + (
                lost[source],
            ) * 2, r
        with watcher.lock:
            findings = reconciler.findings()
        assert [(f.alertname, f.source) for f in findings] == [(ALERTNAME, s) for s in SOURCES]
        print(*(f.summary for f in findings), sep="\n")
        for f in findings:
            assert f.summary.startswith(f"at least {lost[f.source]} record(s) missing from Pinot")
        assert watcher.errors == []
    finally:
        watcher.stopping.set()
        watcher.join(10)
