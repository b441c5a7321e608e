"""The monitor on the real stack: simulated traffic, paced on its own clock, through Kafka and
the Flink job into dq_metrics, read and judged as the monitor runs.

Time is compressed: traffic goes out at SPEED simulated seconds per second and the job's
dq_metrics windows are WINDOW_S long, so a simulated minute is 10 s and a window 24
simulated seconds (windows are in processing time: shorter ones would measure the job's
own pauses, a checkpoint or a garbage collection, as much as the traffic). Each anomaly is
one segment of the scenario (a simulator run with that knob on), between clean segments;
every alert must start within DETECT_BOUND_S of its anomaly reaching Kafka and resolve
within RESOLVE_BOUND_S of it ending. The first ten simulated minutes are clean and must
raise no alert at all. Above speed 1 the plan's event times run ahead of the clock, so the
backlog segment (delays, late records) takes its event times from the wall clock instead:
20 minutes before it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import NamedTuple

import pytest
from kafka_outputs import PARTITIONS

from advertisex.ingest.config import Anomalies, RateChange, Silence, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import KafkaSink
from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.jobs.submit import submit_python_job
from advertisex.monitor.dq_reader import DqReader
from advertisex.monitor.monitor import Monitor
from advertisex.monitor.monitor_loop import MonitorLoop
from advertisex.monitor.settings import MonitorSettings
from advertisex.stack.jars import resolve
from flink_jobs import pipeline

SPEED = 6.0
WINDOW_S = 4.0
SETTINGS = MonitorSettings(window_s=WINDOW_S, grace_s=3.0)
# An alert starts on its fire_after-th window; the first window may be partly before the
# anomaly, and a window is judged grace after it ends.
DETECT_BOUND_S = (SETTINGS.fire_after + 1) * WINDOW_S + SETTINGS.grace_s + 2
RESOLVE_BOUND_S = (SETTINGS.resolve_after + 1) * WINDOW_S + SETTINGS.grace_s + 2
# The scenario's segments are one world: each its own seed (its traffic), one market (the
# campaigns, their CTRs and targeting). A new market per segment would move every
# campaign's CTR and the sources' volumes at each segment's start.
MARKET_SEED = 7


class Transition(NamedTuple):
    at: float  # wall time
    alertname: str
    source: str
    status: str
    campaign_id: str | None


class MonitorThread(threading.Thread):
    """Runs the monitor on the dq_metrics topic; keeps a Transition per alert announced."""

    def __init__(self, bootstrap: str, prefix: str, settings: MonitorSettings = SETTINGS):
        super().__init__(daemon=True)
        self.bootstrap, self.prefix = bootstrap, prefix
        self.monitor = Monitor(settings, {"pipeline": prefix})
        self.loop = MonitorLoop(
            self.monitor,
            DqReader(bootstrap, prefix),
            DqReader(bootstrap, prefix, output="campaign_metrics_1m"),
        )
        self.log: list[Transition] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            now = time.time()
            step = self.loop.step(int(now * 1000))
            assert step.unreadable is None, step.unreadable
            for alert in step.transitions:
                labels = alert.labels
                self.log.append(
                    Transition(
                        now,
                        alert.alertname,
                        labels["source"],
                        alert.status,
                        labels.get("campaign_id"),
                    )
                )
        self.loop.close()


def timeline_of(log: list[Transition], began: float) -> str:
    """The transitions, a line each, in seconds since the scenario began (failure messages)."""
    return "\n".join(
        f"{e.at - began:6.1f}s {e.alertname} {e.campaign_id or e.source} {e.status}" for e in log
    )


def segment(
    seed: int,
    start_ms: int,
    seconds: int,
    campaigns: int = 40,
    bid_rate: float = 20,
    market_seed: int = MARKET_SEED,
    **knobs,
) -> tuple[Simulator, list]:
    """A simulator run of one segment, and its messages (the simulator holds the truth)."""
    sim = Simulator(
        SimulationConfig(
            seed=seed,
            market_seed=market_seed,
            start_ms=start_ms,
            duration_s=seconds,
            bid_rate=bid_rate,
            diurnal=False,  # the same volume at whatever hour the test runs
            campaigns=campaigns,
            anomalies=Anomalies(**knobs),
        )
    )
    messages = list(sim.events())
    return sim, messages


def send_paced(sink: KafkaSink, messages: list, start_ms: int, began: float) -> None:
    """Each message when due: start_ms (simulated) is the wall-clock time `began`."""
    for m in messages:
        wait = began + (m.arrival_ms - start_ms) / 1000 / SPEED - time.time()
        if wait > 0:
            time.sleep(wait)
        sink.write(m)
    sink.flush(30)


@pytest.fixture(scope="module")
def watched(flink):
    cfg = flink
    prefix = f"m{uuid.uuid4().hex[:6]}."
    ensure_topics(cfg.kafka_bootstrap, raw_topic_specs(PARTITIONS, prefix=prefix))
    args = ["--bootstrap", cfg.kafka_bootstrap, "--topic-prefix", prefix, "--job-name", prefix]
    args += ["--group-id", prefix, "--checkpoint-interval", "1 s", "--dq-window-s", "4"]
    job = submit_python_job(
        cfg.flink_rest_url, pipeline.__file__, args, jars=list(resolve("flink").glob("*.jar"))
    )
    rest = FlinkRest(cfg.flink_rest_url)
    rest.wait_for_tasks_running(job)
    sink = KafkaSink(cfg.kafka_bootstrap, topic_prefix=prefix)
    watcher = MonitorThread(cfg.kafka_bootstrap, prefix)
    watcher.start()
    try:
        yield sink, watcher
    finally:
        watcher.stopping.set()
        watcher.join(10)
        sink.close()
        rest.cancel(job)


# Where the simulated event time stands after a test (it runs ahead of the clock).
EVENT_CLOCK: dict[str, int] = {}


def test_anomalies_fire_within_their_bounds_and_resolve_and_clean_traffic_is_quiet(watched):
    sink, watcher = watched
    start_ms = int(time.time() * 1000)
    began = time.time()
    # (name, simulated seconds, knobs); anomalies between clean stretches.
    plan = [
        ("clean", 600, {}),
        ("spike", 90, {"rate_changes": [RateChange(start_s=0, end_s=90, factor=3.0)]}),
        ("clean", 90, {}),
        ("silent bids", 90, {"silent": [Silence(source="bid_requests", start_s=0, end_s=90)]}),
        ("clean", 90, {}),
        ("malformed", 90, {"malformed": 0.2}),
        ("clean", 90, {}),
        ("duplicates", 90, {"duplicates": 0.2}),
        ("clean", 90, {}),
        # Delivered 20 minutes after it happened (an upstream outage's backlog): event-time
        # delay, and every record far behind the watermark, late.
        ("backlog", 90, {"behind_s": 1200}),
        ("clean", 120, {}),
    ]
    spans = {}
    offset_s = 0
    for seed, (name, seconds, knobs) in enumerate(plan):
        seg_start = start_ms + offset_s * 1000
        seg_began = began + offset_s / SPEED
        if "behind_s" in knobs:  # event times that far behind the wall clock, not the plan's
            seg_start = int(seg_began * 1000) - knobs.pop("behind_s") * 1000
        sim, messages = segment(seed, seg_start, seconds, **knobs)
        if seed == 0:
            sink.write_campaigns(sim.campaigns())
        send_paced(sink, messages, seg_start, seg_began)
        spans[name] = (began + offset_s / SPEED, began + (offset_s + seconds) / SPEED)
        offset_s += seconds
    EVENT_CLOCK["next_ms"] = start_ms + offset_s * 1000
    # Every alert resolves once its anomaly is over: wait for the monitor to say so (the
    # last windows must close and be judged, and redeliveries come up to 10 s late).
    deadline = time.time() + RESOLVE_BOUND_S + 60 / SPEED
    while watcher.monitor.firing() and time.time() < deadline:
        time.sleep(0.5)
    log = list(watcher.log)

    clean_end = began + 600 / SPEED
    timeline = timeline_of(log, began)
    print(
        "segments:", {k: (round(a - began, 1), round(b - began, 1)) for k, (a, b) in spans.items()}
    )
    print(timeline)  # shown with a failure
    assert [e for e in log if e.at < clean_end] == [], f"alerts in ten clean minutes:\n{timeline}"

    def first(name: str, source: str, status: str, after: float) -> float:
        times = [
            e.at
            for e in log
            if (e.alertname, e.source, e.status) == (name, source, status) and e.at >= after
        ]
        assert times, f"no {status} {name} for {source} after {after - began:.0f}s:\n{timeline}"
        return times[0]

    expected = {
        "spike": [("SourceVolumeAnomaly", "bid_requests"), ("SourceVolumeAnomaly", "impressions")],
        "silent bids": [("SourceSilent", "bid_requests")],
        "malformed": [
            ("InvalidRecordRate", "impressions"),
            ("InvalidRecordRate", "bid_requests"),
        ],
        "duplicates": [("DuplicateRate", "impressions"), ("DuplicateRate", "bid_requests")],
        "backlog": [
            ("EventTimeDelay", "impressions"),
            ("EventTimeDelay", "bid_requests"),
            ("LateRecordRate", "impressions"),
            ("LateRecordRate", "bid_requests"),
        ],
    }
    for anomaly, alerts in expected.items():
        began_at, ended_at = spans[anomaly]
        for name, source in alerts:
            fired = first(name, source, "firing", began_at)
            assert fired - began_at <= DETECT_BOUND_S, (anomaly, name, source, timeline)
            resolved = first(name, source, "resolved", fired)
            # Redeliveries come up to 60 simulated seconds after their originals.
            lag_s = 60 / SPEED if anomaly == "duplicates" else 0
            assert resolved - ended_at <= RESOLVE_BOUND_S + lag_s, (anomaly, name, timeline)
    announced = {(e.alertname, e.source) for e in log}
    assert announced <= {a for alerts in expected.values() for a in alerts} | {
        ("SourceVolumeAnomaly", "clicks_conversions"),  # the spike triples clicks too
        ("InvalidReasonRate", "impressions"),
        ("InvalidReasonRate", "bid_requests"),
        ("InvalidRecordRate", "clicks_conversions"),
        ("InvalidReasonRate", "clicks_conversions"),
        ("DuplicateRate", "clicks_conversions"),
        # the backlog's clicks are as late and delayed, and find no impression
        ("EventTimeDelay", "clicks_conversions"),
        ("LateRecordRate", "clicks_conversions"),
        ("UnattributedRate", "clicks_conversions"),
    }, timeline
    assert watcher.monitor.firing() == [], timeline


# Campaign minutes: the CTR is judged in minutes with at least campaign_min_count (100)
# impressions. This test's market (4 campaigns, market seed 17) gives each campaign 136 to
# 244 impressions a minute at 64 bid requests a second (measured for seeds 100-102); every
# segment's rate is flat (diurnal=False), so the counts do not depend on when the test runs
# (with the time of day's factor the simulator sends 0.4 of the mean at 3h UTC, 1.6 at 15h).
# The first test's 40 campaigns have a dozen each.
CAMPAIGNS, CAMPAIGN_MARKET_SEED, CAMPAIGN_BID_RATE = 4, 17, 64
MINUTE_S = 60 / SPEED
# A minute is judged once a row two minutes later is read, and fires on its fire_after-th
# anomalous minute; the first may be partly before the change. Resolving, the bot's last
# minute is partial too, and the rows of a minute come once the watermark passes its end:
# one minute more (a run measured 34 s to fire and 49 s to resolve).
CAMPAIGN_BOUND_S = (SETTINGS.fire_after + SETTINGS.campaign_settle_minutes + 1) * MINUTE_S + 2
CAMPAIGN_RESOLVE_BOUND_S = (
    SETTINGS.resolve_after + SETTINGS.campaign_settle_minutes + 2
) * MINUTE_S + 2


def thin_campaign_minutes(sim: Simulator, start_ms: int, seconds: int) -> dict:
    """(campaign, minute) -> impressions, for the whole minutes of a run in which a campaign
    has fewer than campaign_min_count: minutes the monitor would not judge."""
    first, end = -(-start_ms // 60_000), (start_ms + seconds * 1000) // 60_000
    counts = Counter((f.campaign_id, f.event_ms // 60_000) for f in sim.truth.valid["impression"])
    return {
        (c["campaign_id"], m): counts[(c["campaign_id"], m)]
        for c in sim.campaigns()
        for m in range(first, end)
        if counts[(c["campaign_id"], m)] < SETTINGS.campaign_min_count
    }


def test_a_bot_moves_the_campaigns_ctr_off_their_baselines(watched):
    """A bot clicking five times a second: the CTR of every campaign whose impressions it
    clicks leaves its own baseline, learnt in ten clean minutes before, and comes back to it
    once the bot stops. Only the campaign alerts are asserted: this traffic's volume differs
    from the first test's, and the bot's clicks move click volume too (the first test covers
    volume)."""
    sink, first = watched
    watcher = MonitorThread(first.bootstrap, first.prefix)
    watcher.start()
    try:
        start_ms = max(EVENT_CLOCK.get("next_ms", 0), int(time.time() * 1000))
        began = time.time()
        plan = [
            ("lead-in", 600, {}),
            ("bots", 150, {"bots": 1}),
            # long enough for two clean minutes to settle after the bot
            ("clean", 420, {}),
        ]
        spans, offset_s, campaign_ids = {}, 0, set()
        for seed, (name, seconds, knobs) in enumerate(plan, start=100):
            seg_start, seg_began = start_ms + offset_s * 1000, began + offset_s / SPEED
            sim, messages = segment(
                seed,
                seg_start,
                seconds,
                campaigns=CAMPAIGNS,
                bid_rate=CAMPAIGN_BID_RATE,
                market_seed=CAMPAIGN_MARKET_SEED,
                **knobs,
            )
            if name == "lead-in":
                # the scenario itself, checked before it is sent: every campaign minute judged
                thin = thin_campaign_minutes(sim, seg_start, seconds)
                assert thin == {}, f"campaign minutes the monitor would not judge: {thin}"
                campaign_ids = {c["campaign_id"] for c in sim.campaigns()}
                sink.write_campaigns(sim.campaigns())
            send_paced(sink, messages, seg_start, seg_began)
            spans[name] = (seg_began, seg_began + seconds / SPEED)
            offset_s += seconds
        deadline = max(time.time(), spans["bots"][1] + CAMPAIGN_RESOLVE_BOUND_S)

        def ctr_alerts():
            return [a for a in watcher.monitor.firing() if a.alertname == "CampaignCtrAnomaly"]

        while ctr_alerts() and time.time() < deadline:
            time.sleep(0.5)
    finally:
        watcher.stopping.set()
        watcher.join(10)
    log = [e for e in watcher.log if e.alertname == "CampaignCtrAnomaly"]
    timeline = timeline_of(watcher.log, began)
    print(
        "segments:", {k: (round(a - began, 1), round(b - began, 1)) for k, (a, b) in spans.items()}
    )
    print(timeline)
    bots_began, bots_ended = spans["bots"]
    fired = {e.campaign_id: e.at for e in reversed(log) if e.status == "firing"}  # the first
    assert set(fired) == campaign_ids, f"campaigns that fired: {sorted(fired)}\n{timeline}"
    assert all(0 <= t - bots_began <= CAMPAIGN_BOUND_S for t in fired.values()), timeline
    resolved = {e.campaign_id: e.at for e in log if e.status == "resolved"}  # the last
    assert set(resolved) == campaign_ids, f"campaigns that resolved: {sorted(resolved)}\n{timeline}"
    assert all(resolved[c] > fired[c] for c in campaign_ids), timeline
    assert max(resolved.values()) - bots_ended <= CAMPAIGN_RESOLVE_BOUND_S, timeline
    assert ctr_alerts() == [], timeline  # none fired again
