"""The monitor on recorded dq_metrics rows: which alerts start and resolve, and when."""

import random

from advertisex.monitor.monitor import Monitor
from advertisex.monitor.settings import MonitorSettings

W = 10_000  # 10 s windows
SETTINGS = MonitorSettings(window_s=10, grace_s=2)


def row(source, start, received, invalid=0, reasons=None, duplicates=0, late=0, p50=800.0):
    return {
        "source": source,
        "window_start_ms": start,
        "window_end_ms": start + W,
        "received": received,
        "valid": received - invalid - duplicates,
        "invalid": invalid,
        "invalid_by_reason": reasons or {},
        "duplicates": duplicates,
        "late": late,
        "unattributed": 0,
        "event_time_delay_p50_ms": p50,
        "event_time_delay_max_ms": int(p50 * 3),
    }


def run(rows_by_window, sources=("impressions",), scope=None):
    """Feed each window's rows, tick just after it closes; (window index, transitions)."""
    monitor = Monitor(SETTINGS, scope or {"pipeline": "t."}, sources)
    log = []
    for i, rows in enumerate(rows_by_window):
        for r in rows:
            monitor.add_row(r)
        for alert in monitor.tick((i + 1) * W + 2_000):
            log.append((i, alert.labels["alertname"], alert.status))
    return monitor, log


def steady(n, rng, base=500):
    return [[row("impressions", i * W, rng.randint(base - 40, base + 40))] for i in range(n)]


def test_clean_noisy_traffic_raises_nothing():
    rng = random.Random(1)
    _, log = run(steady(300, rng))
    assert log == []


def test_a_silent_source_fires_once_and_resolves_once():
    rng = random.Random(2)
    windows = steady(20, rng) + [[] for _ in range(4)] + steady(6, rng)
    for i, rows in enumerate(windows):
        for r in rows:
            r["window_start_ms"], r["window_end_ms"] = i * W, (i + 1) * W
    monitor, log = run(windows)
    # windows 20 and 21 are silent: it fires on the second; traffic is back at 24 and
    # 25, so it resolves on the second. The volume drop is inhibited by the silence.
    assert log == [(21, "SourceSilent", "firing"), (25, "SourceSilent", "resolved")]
    assert monitor.firing() == []


def test_a_spike_fires_the_volume_alert_with_the_scope_labels():
    rng = random.Random(3)
    windows = steady(20, rng)
    windows += [[row("impressions", (20 + k) * W, 1500)] for k in range(3)]
    windows += [[row("impressions", (23 + k) * W, 500)] for k in range(4)]
    monitor, log = run(windows, scope={"pipeline": "p1."})
    assert log == [(21, "SourceVolumeAnomaly", "firing"), (24, "SourceVolumeAnomaly", "resolved")]


def test_invalid_records_fire_the_rate_and_the_reason():
    rng = random.Random(4)
    windows = steady(12, rng)
    bad = {"bad_timestamp": 60}
    windows += [[row("impressions", (12 + k) * W, 500, invalid=60, reasons=bad)] for k in range(3)]
    windows += [[row("impressions", (15 + k) * W, 500)] for k in range(3)]
    monitor, log = run(windows)
    assert log == [
        (13, "InvalidRecordRate", "firing"),
        (13, "InvalidReasonRate", "firing"),
        (16, "InvalidRecordRate", "resolved"),
        (16, "InvalidReasonRate", "resolved"),
    ]


def test_a_delay_over_its_threshold_fires():
    windows = [[row("impressions", i * W, 500, p50=900.0)] for i in range(5)]
    windows += [[row("impressions", (5 + k) * W, 500, p50=120_000.0)] for k in range(2)]
    _, log = run(windows)
    assert log == [(6, "EventTimeDelay", "firing")]


def test_history_trains_without_announcing_what_is_over():
    rng = random.Random(5)
    monitor = Monitor(SETTINGS, {}, ("impressions",))
    windows = steady(400, rng)
    silent = {30, 31, 32}
    for i, rows in enumerate(windows):
        if i not in silent:
            for r in rows:
                monitor.add_row(r)
    # Read at start, long after: the silence at windows 30-32 ended; nothing to announce.
    assert monitor.tick(400 * W + 2_000) == []
    assert monitor.watches["impressions"].windows_seen == 400


def test_a_silence_still_going_is_announced_at_start():
    rng = random.Random(6)
    monitor = Monitor(SETTINGS, {}, ("impressions",))
    for rows in steady(20, rng):
        for r in rows:
            monitor.add_row(r)
    alerts = monitor.tick(3_600_000)  # an hour of nothing since
    assert [(a.labels["alertname"], a.status) for a in alerts] == [("SourceSilent", "firing")]


def campaign_row(minute: int, impressions: int, clicks: int, bids: int = 1000, wins: int = 200):
    return {
        "campaign_id": "c-7",
        "window_start_ms": minute * 60_000,
        "window_end_ms": (minute + 1) * 60_000,
        "impressions": impressions,
        "clicks": clicks,
        "bids": bids,
        "wins": wins,
    }


def test_a_campaigns_ctr_far_from_its_own_baseline_fires_and_resolves():
    rng = random.Random(7)
    monitor = Monitor(SETTINGS, {"pipeline": "t."}, ("impressions",))
    log = []
    for minute in range(40):
        clicks = rng.randint(15, 25) if not 20 <= minute < 24 else 90  # bots, 4 minutes
        impressions = 1000 if minute != 30 else 20  # too few to judge: not a drop
        monitor.add_campaign_row(campaign_row(minute, impressions, clicks))
        for alert in monitor.tick(1_000_000 + minute):
            log.append((minute, alert.alertname, alert.labels["campaign_id"], alert.status))
    # Minute m is judged when minute m + 2's row is read.
    assert log == [
        (23, "CampaignCtrAnomaly", "c-7", "firing"),
        (27, "CampaignCtrAnomaly", "c-7", "resolved"),
    ]


def test_a_campaign_minute_is_judged_once_with_its_latest_row():
    rng = random.Random(7)
    monitor = Monitor(SETTINGS, {"pipeline": "t."}, ("impressions",))
    log = []
    for minute in range(30):
        # The upsert output rewrites a minute as records arrive: partial rows first, whose
        # CTR (30 %) is far off, then the final one, which is normal.
        monitor.add_campaign_row(campaign_row(minute, 100, 30))
        monitor.add_campaign_row(campaign_row(minute, 200, 60))
        monitor.add_campaign_row(campaign_row(minute, 1000, rng.randint(15, 25)))
        for alert in monitor.tick(1_000_000 + minute):
            log.append((minute, alert.alertname, alert.status))
    assert log == []
    # A row of a minute already judged changes nothing, and is counted.
    monitor.add_campaign_row(campaign_row(10, 1000, 900))
    assert monitor.campaigns.late_updates == 1
    ctr = monitor.campaigns.ctr["c-7"]
    assert ctr.model.stats.n == 28  # minutes 0..27: 28 and 29 wait for later rows


def test_the_volume_drop_of_a_silence_stays_inhibited_after_it():
    rng = random.Random(8)
    # Traffic comes back part-way through window 28: still a drop, but not silent.
    partial = [[row("impressions", 0, 200)]]
    windows = steady(20, rng) + [[] for _ in range(8)] + partial + steady(12, rng)
    for i, rows in enumerate(windows):
        for r in rows:
            r["window_start_ms"], r["window_end_ms"] = i * W, (i + 1) * W
    _, log = run(windows)
    assert log == [(21, "SourceSilent", "firing"), (29, "SourceSilent", "resolved")]


def test_a_source_with_a_few_records_a_window_has_no_volume_alert():
    rng = random.Random(9)
    # ~5 clicks a window: a 15 in a row is noise at this size, not a spike.
    windows = [[row("impressions", i * W, rng.randint(2, 8))] for i in range(30)]
    windows += [[row("impressions", (30 + k) * W, 15)] for k in range(3)]
    _, log = run(windows)
    assert log == []


def test_the_jobs_watermark_lag_fires_and_resolves_with_the_other_alerts():
    monitor = Monitor(MonitorSettings(watermark_lag_max_s=120, watermark_poll_s=15), {})
    log = []
    # (seconds from start, the lag read): over twice fires; an unread one holds; under
    # twice resolves.
    for at_s, lag in [(0, 30), (15, 400), (30, None), (45, 500), (60, 90), (75, 100), (90, 80)]:
        now_ms = 1_800_000_000_000 + at_s * 1000
        assert monitor.watermark_due(now_ms)
        monitor.observe_watermark_lag(lag, now_ms)
        assert not monitor.watermark_due(now_ms + 14_999)
        for alert in monitor.tick(now_ms):
            log.append((at_s, alert.alertname, alert.labels["source"], alert.status))
    assert log == [(45, "WatermarkLag", "job", "firing"), (75, "WatermarkLag", "job", "resolved")]


def test_a_burst_of_redeliveries_is_a_duplicate_alert_not_a_volume_change():
    rng = random.Random(10)
    windows = steady(20, rng)
    for i in range(20, 26):  # 20 % of the records delivered twice: received is 25 % higher
        distinct = rng.randint(460, 540)
        windows.append(
            [row("impressions", i * W, distinct + distinct // 4, duplicates=distinct // 4)]
        )
    windows += [[row("impressions", i * W, rng.randint(460, 540))] for i in range(26, 40)]
    _, log = run(windows)
    assert log == [(21, "DuplicateRate", "firing"), (27, "DuplicateRate", "resolved")]
