"""The reconciliation's rule on numbers: raw topic offsets against Pinot's received counts.

A small world stands in for Kafka and Pinot: each record arrives at a time (the end offsets
count the records arrived by now) and is checked by the job some latency later (Pinot counts
it in the interval of its check), or never (lost). Intervals of 60 s, edges of 5 s (the
snapshots around a boundary b at b - 10 s and b + 5 s), judged 10 s after they end.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from advertisex.monitor.reconcile import (
    ALERTNAME,
    Boundary,
    Reconciler,
    ReconcileSettings,
    ReconcileUnavailable,
    Run,
    Snapshot,
    reconcile,
)
from advertisex.monitor.source_watch import RUNBOOKS

T0 = 1_800_000_000_000  # a multiple of the interval
S = 1000
INTERVAL = 60 * S
SETTINGS = ReconcileSettings(reconcile_interval_s=60, reconcile_edge_s=5, reconcile_settle_s=10)
SOURCES = ("impressions", "bid_requests")


class World:
    def __init__(self):
        self.now = T0
        self.records: list[tuple[int, str, int | None]] = []  # arrival, source, checked at
        self.pinot_down = False
        self.snapshot_takes = 0  # ms a snapshot's read takes
        self.recreated = False

    def arrive(self, source: str, first_ms: int, count: int, every_ms: int, latency_ms=500):
        """count records from first_ms on, every_ms apart; checked latency_ms after arrival
        (None: never)."""
        for i in range(count):
            at = first_ms + i * every_ms
            self.records.append((at, source, None if latency_ms is None else at + latency_ms))

    def offsets(self) -> dict[str, int]:
        counts = {
            s: sum(1 for a, src, _ in self.records if src == s and a <= self.now) for s in SOURCES
        }
        if self.recreated:
            counts["impressions"] -= 10_000
        self.now += self.snapshot_takes
        return counts

    def received(self, from_ms: int, to_ms: int) -> dict[str, int]:
        if self.pinot_down:
            raise ReconcileUnavailable("the Pinot broker did not answer")
        found: dict[str, int] = {}
        for _, source, checked in self.records:
            if checked is not None and from_ms <= checked < to_ms and checked <= self.now:
                found[source] = found.get(source, 0) + 1
        return found

    def reconciler(self, settings=SETTINGS) -> Reconciler:
        return Reconciler(
            read_offsets=self.offsets,
            read_received=self.received,
            settings=settings,
            window_s=10,
            sources=SOURCES,
            clock=lambda: self.now,
        )

    def run(self, reconciler: Reconciler, until_ms: int, step_ms: int = S) -> list:
        """Tick every step_ms up to until_ms (included); every reconciliation judged."""
        judged = []
        while self.now <= until_ms:
            judged += reconciler.tick(self.now)
            self.now += step_ms
        return judged


def by_source(judged, source):
    return [r for r in judged if r.source == source]


# --- the pure judgement --------------------------------------------------------------------


def snap(at_ms: int, impressions: int) -> Snapshot:
    return Snapshot(at_ms, at_ms, {"impressions": impressions})


def test_one_interval_from_its_snapshots_exact_numbers():
    start = Boundary(T0, snap(T0 - 10 * S, 100), snap(T0 + 5 * S, 104))
    end = Boundary(T0 + INTERVAL, snap(T0 + 50 * S, 1000), snap(T0 + 65 * S, 1010))
    r = reconcile("impressions", start, end, pinot=903, edge_s=5)
    assert (r.raw, r.pinot, r.difference) == (906, 903, 3)
    assert (r.edge_start, r.edge_end) == (4, 10)
    assert (r.run_start_ms, r.run_raw, r.run_pinot, r.run_edge_start) == (T0, 906, 903, 4)
    assert (r.missing, r.extra, r.matched) == (0, 0, True)
    assert r.finding() is None
    # The band is [-edge_start, +edge_end]: one record past either end is a mismatch.
    assert reconcile("impressions", start, end, pinot=896).missing == 0
    assert reconcile("impressions", start, end, pinot=895).missing == 1
    assert reconcile("impressions", start, end, pinot=910).extra == 0
    assert reconcile("impressions", start, end, pinot=911).extra == 1


def test_a_run_continues_only_from_the_boundary_it_ended_at():
    start = Boundary(T0, snap(T0 - 10 * S, 100), snap(T0 + 5 * S, 104))
    end = Boundary(T0 + INTERVAL, snap(T0 + 50 * S, 1000), snap(T0 + 65 * S, 1010))
    run = Run(T0 - 2 * INTERVAL, T0, edge_start=30, raw=5000, pinot=5020)
    r = reconcile("impressions", start, end, pinot=903, run=run)
    assert (r.run_start_ms, r.run_raw, r.run_pinot, r.run_edge_start) == (
        T0 - 2 * INTERVAL,
        5906,
        5923,
        30,
    )
    assert r.run_difference == -17 and r.matched  # within [-30, +10]
    elsewhere = Run(T0 - 2 * INTERVAL, T0 - INTERVAL, edge_start=30, raw=5000, pinot=5020)
    assert reconcile("impressions", start, end, pinot=903, run=elsewhere).run_raw == 906


def test_offsets_going_back_cannot_be_judged():
    start = Boundary(T0, snap(T0 - 10 * S, 100), snap(T0 + 5 * S, 104))
    end = Boundary(T0 + INTERVAL, snap(T0 + 50 * S, 20), snap(T0 + 65 * S, 30))
    assert reconcile("impressions", start, end, pinot=0) is None
    assert reconcile("impressions", start, Boundary(T0 + INTERVAL, snap(0, 9)), 0) is None


# --- the reconciler on a small world ---------------------------------------------------------


def test_an_interval_still_settling_is_not_judged_then_matches_exactly():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 300, 50)  # 20 s to 35 s into the interval
    world.arrive("bid_requests", T0 + 25 * S, 120, 100)
    # Over at T0 + 60 s, settled at T0 + 70 s: nothing judged a second before.
    assert world.run(rec, T0 + 69 * S) == []
    assert rec.findings() == []
    judged = world.run(rec, T0 + 70 * S)
    assert [(r.source, r.start_ms, r.end_ms) for r in judged] == [
        ("impressions", T0, T0 + INTERVAL),
        ("bid_requests", T0, T0 + INTERVAL),
    ]
    imp, bids = judged
    assert (imp.raw, imp.pinot, imp.difference, imp.edge_start, imp.edge_end) == (300, 300, 0, 0, 0)
    assert (bids.raw, bids.pinot, bids.difference) == (120, 120, 0)
    assert imp.matched and bids.matched and rec.findings() == []
    assert rec.skipped == []


def test_records_in_flight_at_a_boundary_are_within_the_edges_and_cancel_over_the_run():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    # 10 a second from 30 s into the first interval to 30 s into the second, each checked
    # 800 ms after it arrives: the last 8 before T0 + 60 s are counted by Pinot after it.
    world.arrive("impressions", T0 + 30 * S + 50, 600, 100, latency_ms=800)
    judged = by_source(world.run(rec, T0 + 130 * S), "impressions")
    first, second = judged
    # Offsets: the first interval ends at its snapshot after (T0 + 65 s): 350 arrivals.
    assert (first.raw, first.pinot, first.difference) == (350, 292, 58)
    assert (first.edge_start, first.edge_end) == (0, 150)  # arrivals in [T0+50 s, T0+65 s]
    assert first.matched
    assert (second.raw, second.pinot, second.difference) == (250, 308, -58)
    assert (second.edge_start, second.edge_end) == (150, 0)
    assert second.matched
    # Over both, the edge effects cancel: every record once on each side.
    assert (second.run_start_ms, second.run_raw, second.run_pinot) == (T0, 600, 600)
    assert rec.findings() == []


def test_a_real_loss_is_caught_with_its_exact_count():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 293, 100)
    world.arrive("impressions", T0 + 40 * S + 10, 7, 10, latency_ms=None)  # never counted
    world.arrive("bid_requests", T0 + 20 * S, 50, 100)
    judged = world.run(rec, T0 + 70 * S)
    imp, bids = judged
    assert (imp.raw, imp.pinot, imp.difference, imp.edge_end) == (300, 293, 7, 0)
    assert (imp.missing, imp.extra, imp.matched) == (7, 0, False)
    assert bids.matched
    [finding] = rec.findings()
    assert (finding.alertname, finding.source, finding.severity) == (
        ALERTNAME,
        "impressions",
        "warning",
    )
    assert finding.runbook == RUNBOOKS[ALERTNAME][1]
    assert finding.summary.startswith("at least 7 record(s) missing from Pinot: ")
    assert "300 message(s) reached ad-impressions, Pinot counted 293 (difference +7" in (
        finding.summary
    )
    # The next interval matches: the finding resolves.
    world.arrive("impressions", T0 + 80 * S, 10, 100)
    judged = world.run(rec, T0 + 130 * S)
    assert [(r.raw, r.pinot, r.run_start_ms) for r in by_source(judged, "impressions")] == [
        (10, 10, T0 + INTERVAL)  # a new run after the mismatch
    ]
    assert rec.findings() == []


def test_a_loss_at_the_edge_beyond_the_records_in_flight_is_caught():
    """Lost records among the edge's: caught for what the edge's count cannot explain."""
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 100, 100)
    world.arrive("impressions", T0 + 52 * S, 30, 100, latency_ms=None)  # in the edge, lost
    [imp] = by_source(world.run(rec, T0 + 70 * S), "impressions")
    assert (imp.raw, imp.pinot, imp.edge_end, imp.difference) == (130, 100, 30, 30)
    assert imp.matched  # 30 lost or 30 in flight: the same numbers, so not judged a loss
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 100, 100)
    world.arrive("impressions", T0 + 30 * S, 5, 100, latency_ms=None)  # lost mid-interval
    world.arrive("impressions", T0 + 52 * S, 30, 100, latency_ms=None)
    [imp] = by_source(world.run(rec, T0 + 70 * S), "impressions")
    assert (imp.raw, imp.pinot, imp.edge_end, imp.difference, imp.missing) == (135, 100, 30, 35, 5)


def test_a_stopped_job_shows_as_missing_records():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("bid_requests", T0 + 20 * S, 40, 100)
    world.arrive("bid_requests", T0 + 30 * S, 25, 100, latency_ms=None)  # the job is stopped
    [bids] = by_source(world.run(rec, T0 + 70 * S), "bid_requests")
    assert (bids.raw, bids.pinot, bids.missing) == (65, 40, 25)
    assert [f.source for f in rec.findings()] == ["bid_requests"]


def test_a_steady_small_loss_is_caught_by_the_run():
    """60 records lost per interval, under each interval's tolerance (150 at its end), add
    up over the run until the run's band (its two end edges only) is passed."""
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    for k in range(4):  # 10 a second through four intervals, 60 of each lost mid-way
        start = T0 + k * INTERVAL
        world.arrive("impressions", start + 50, 200, 100, latency_ms=800)
        world.arrive("impressions", start + 20 * S + 50, 60, 100, latency_ms=None)
        world.arrive("impressions", start + 26 * S + 50, 340, 100, latency_ms=800)
    judged = by_source(world.run(rec, T0 + 4 * INTERVAL + 10 * S), "impressions")
    got = [
        (r.raw, r.pinot, r.difference, r.edge_start, r.edge_end, r.run_difference, r.missing)
        for r in judged
    ]
    # difference = 60 lost + D(end) - D(start), D(b): arrived before b's snapshot after (b
    # + 5 s) but checked from b on: 8 in flight + 50 in [b, b + 5 s]; at T0 only the 50.
    assert got == [
        (600, 532, 68, 50, 150, 68, 0),  # 60 + 58 - 50
        (600, 540, 60, 150, 150, 128, 0),  # the run: 128 within [-50, +150]
        (600, 540, 60, 150, 150, 188, 38),  # 188 over three: 38 beyond the 150 of its end
        (550, 540, 10, 150, 100, 10, 0),  # a new run; 60 + 8 - 58 (traffic ends at T0+240 s)
    ]
    assert judged[2].summary().startswith("at least 38 record(s) missing from Pinot: ")
    assert "over the 3 intervals since" in judged[2].summary()
    assert "1800 against 1612 (+188)" in judged[2].summary()
    assert judged[3].run_start_ms == T0 + 3 * INTERVAL


def test_pinot_counting_more_than_arrived_is_reported():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 100, 100)
    # A job replayed from an older savepoint: 20 of them checked (and counted) again.
    world.arrive("impressions", T0 - 3600 * S, 20, 1, latency_ms=3600 * S + 45 * S)
    [imp] = by_source(world.run(rec, T0 + 70 * S), "impressions")
    assert (imp.raw, imp.pinot, imp.difference, imp.extra, imp.missing) == (100, 120, -20, 20, 0)
    [finding] = rec.findings()
    assert finding.summary.startswith("Pinot counted at least 20 record(s) more than arrived: ")


# --- snapshots missed and I/O failures ------------------------------------------------------


def test_started_too_late_for_a_boundary_judges_from_the_next():
    world = World()
    world.now = T0 - 4 * S  # after T0 - 5 s: no snapshot before T0 is possible
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 10, 100)
    world.arrive("impressions", T0 + INTERVAL + 20 * S, 10, 100)
    judged = world.run(rec, T0 + 2 * INTERVAL + 10 * S)
    assert [(r.source, r.start_ms) for r in judged] == [
        ("impressions", T0 + INTERVAL),
        ("bid_requests", T0 + INTERVAL),
    ]
    assert rec.skipped == []


def test_a_late_tick_loses_the_boundary_and_both_intervals_beside_it():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 10, 100)
    world.run(rec, T0 + 49 * S)
    # The monitor stalls from T0 + 49 s to T0 + 56 s: past T0 + 55 s, the last moment for
    # the snapshot before T0 + 60 s.
    world.now = T0 + 56 * S
    judged = world.run(rec, T0 + 3 * INTERVAL + 10 * S)
    assert rec.skipped == [(T0, T0 + INTERVAL), (T0 + INTERVAL, T0 + 2 * INTERVAL)]
    assert {r.start_ms for r in judged} == {T0 + 2 * INTERVAL}


def test_a_snapshot_that_ends_too_late_is_not_used():
    world = World()
    world.now = T0 - 30 * S
    world.snapshot_takes = 6 * S  # from T0 - 10 s to T0 - 4 s: after T0 - 5 s
    rec = world.reconciler()
    world.run(rec, T0 + 2 * S)
    world.snapshot_takes = 0
    assert T0 not in rec.boundaries
    world.run(rec, T0 + 2 * INTERVAL + 10 * S)
    assert rec.skipped == [(T0, T0 + INTERVAL)]
    assert {r.start_ms for r in rec.latest.values()} == {T0 + INTERVAL}


def test_a_recreated_topic_is_not_judged():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 10, 100)
    world.run(rec, T0 + 40 * S)
    world.recreated = True  # its offsets start again below where they were
    world.run(rec, T0 + 70 * S)
    assert rec.skipped == [(T0, T0 + INTERVAL)] and rec.latest == {}


def test_pinot_down_raises_and_the_interval_is_judged_once_it_answers():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    world.arrive("impressions", T0 + 20 * S, 10, 100)
    world.run(rec, T0 + 69 * S)
    world.pinot_down = True
    with pytest.raises(ReconcileUnavailable, match="Pinot broker"):
        rec.tick(T0 + 70 * S)
    world.pinot_down = False
    judged = rec.tick(T0 + 71 * S)
    assert [(r.source, r.raw, r.pinot) for r in judged] == [
        ("impressions", 10, 10),
        ("bid_requests", 0, 0),
    ]


def test_kafka_down_loses_only_the_snapshots_it_missed():
    world = World()
    world.now = T0 - 30 * S
    rec = world.reconciler()
    real = world.offsets
    down = {"on": True}

    def offsets():
        if down["on"]:
            raise ReconcileUnavailable("no Kafka broker answers")
        return real()

    rec.read_offsets = offsets
    with pytest.raises(ReconcileUnavailable):
        rec.tick(T0 - 10 * S)  # the snapshot before T0 is due, Kafka does not answer
    down["on"] = False
    world.now = T0 - 9 * S
    world.arrive("impressions", T0 + 20 * S, 10, 100)
    judged = world.run(rec, T0 + 70 * S)  # taken at T0 - 9 s, still in time
    assert [(r.source, r.raw) for r in judged] == [("impressions", 10), ("bid_requests", 0)]


# --- settings -----------------------------------------------------------------------------


def test_settings_defaults_environment_and_limits(monkeypatch):
    default = ReconcileSettings()
    assert (default.interval_ms, default.settle_ms, default.edge_ms) == (3_600_000, 600_000, 15_000)
    monkeypatch.setenv("ADVERTISEX_MONITOR_RECONCILE_INTERVAL_S", "120")
    assert ReconcileSettings().interval_ms == 120_000
    with pytest.raises(ValidationError, match="under a third"):
        ReconcileSettings(reconcile_interval_s=30, reconcile_edge_s=10)
    with pytest.raises(ValueError, match="whole number of dq_metrics windows"):
        Reconciler(lambda: {}, lambda a, b: {}, SETTINGS, window_s=7)
