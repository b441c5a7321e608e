"""The simulator: deterministic, realistic, and its ground truth checked by a recount.

The recount here reads what the simulator wrote, judges each record with the contract's
reference rules, and applies dedup, lateness and attribution with code of its own.
"""

import bisect
import hashlib
from collections import Counter, defaultdict

from advertisex.contract.bid_requests import decode_bid_request
from advertisex.contract.clicks_csv import decode_click_row
from advertisex.contract.errors import ContractError
from advertisex.contract.impressions import decode_impression
from advertisex.contract.rules import (
    standardize_bid_request,
    standardize_click_or_conversion,
    standardize_impression,
)
from advertisex.ingest.config import Anomalies, RateChange, Silence, SimulationConfig
from advertisex.ingest.malformed import BREAKERS, CLICK_BREAKERS, CONVERSION_BREAKERS
from advertisex.ingest.simulator import Simulator

START = 1_795_910_400_000  # 2026-11-29T00:00:00Z, a minute boundary


def run(**kwargs) -> tuple[Simulator, list]:
    sim = Simulator(SimulationConfig(start_ms=START, **kwargs))
    return sim, list(sim.events())


def digest(messages) -> str:
    h = hashlib.sha256()
    for m in messages:
        h.update(m.source.encode() + m.key.encode() + m.payload)
    return h.hexdigest()


def test_same_seed_same_output_other_seed_other_output():
    anomalies = Anomalies.everything(120)
    a_sim, a = run(seed=7, duration_s=120, anomalies=anomalies)
    b_sim, b = run(seed=7, duration_s=120, anomalies=anomalies)
    _, c = run(seed=8, duration_s=120, anomalies=anomalies)
    assert digest(a) == digest(b)
    assert a_sim.truth.to_dict() == b_sim.truth.to_dict()
    assert digest(a) != digest(c)


ID_FIELD = {
    "impressions": "impression_id",
    "clicks_conversions": "event_id",
    "bid_requests": "request_id",
}


def judge(message):
    """(standardized record, None) or (None, reason), by the contract's reference rules."""
    try:
        if message.source == "impressions":
            return standardize_impression(decode_impression(message.payload)), None
        if message.source == "clicks_conversions":
            return standardize_click_or_conversion(decode_click_row(message.payload)), None
        return standardize_bid_request(decode_bid_request(message.payload)), None
    except ContractError as error:
        return None, error.reason


def recount(messages, config: SimulationConfig) -> dict:
    received, invalid, dups, late = Counter(), defaultdict(Counter), Counter(), Counter()
    seen, top, valid, late_ids = set(), {}, defaultdict(list), set()
    for m in messages:  # arrival order
        received[m.source] += 1
        record, reason = judge(m)
        if reason:
            invalid[m.source][reason] += 1
            continue
        rid = record[ID_FIELD[m.source]]
        if rid in seen:
            dups[m.source] += 1
            continue
        seen.add(rid)
        t = record["event_time_ms"]
        if t < top.get(m.source, t) - config.out_of_orderness_ms:
            late[m.source] += 1
            late_ids.add(rid)
        top[m.source] = max(top.get(m.source, t), t)
        kind = record.get("event_type") or (
            "impression" if m.source == "impressions" else "bid_request"
        )
        valid[kind].append(record)
    on_time = defaultdict(list)
    on_time |= {
        k: [
            r
            for r in v
            if (
                r.get("impression_id")
                if k == "impression"
                else r.get("event_id", r.get("request_id"))
            )
            not in late_ids
        ]
        for k, v in valid.items()
    }
    impressions = {r["impression_id"]: r["event_time_ms"] for r in on_time["impression"]}
    attributed = {}
    for c in on_time["click"]:
        t_imp = impressions.get(c["impression_id"])
        if t_imp is not None and t_imp <= c["event_time_ms"] <= t_imp + config.click_window_ms:
            attributed[c["event_id"]] = c["impression_id"]
    by_user = defaultdict(list)
    for c in on_time["click"]:
        by_user[(c["user_id"], c["campaign_id"])].append((c["event_time_ms"], c["event_id"]))
    for clicks in by_user.values():
        clicks.sort()
    conversions = {}
    for v in on_time["conversion"]:
        clicks = by_user.get((v["user_id"], v["campaign_id"]), [])
        i = bisect.bisect_right(clicks, (v["event_time_ms"], "\uffff")) - 1
        if i >= 0 and v["event_time_ms"] - clicks[i][0] <= config.conversion_window_ms:
            conversions[v["event_id"]] = clicks[i][1]
    return {
        "received": dict(received),
        "invalid": {s: dict(c) for s, c in invalid.items()},
        "duplicates": dict(dups),
        "late": dict(late),
        "ids": {
            k: sorted(
                r.get("impression_id")
                if k == "impression"
                else r.get("event_id", r.get("request_id"))
                for r in v
            )
            for k, v in valid.items()
        },
        "attributed_clicks": attributed,
        "attributed_conversions": conversions,
    }


def test_ground_truth_agrees_with_an_independent_recount():
    config = SimulationConfig(
        start_ms=START, seed=11, duration_s=240, bid_rate=150, anomalies=Anomalies.everything(240)
    )
    sim = Simulator(config)
    messages = list(sim.events())
    truth = sim.truth.to_dict()
    mine = recount(messages, config)

    for source, row in truth["sources"].items():
        assert row["received"] == mine["received"][source]
        assert row["invalid"] == mine["invalid"].get(source, {})
        assert row["duplicates"] == mine["duplicates"].get(source, 0)
        assert row["late"] == mine["late"].get(source, 0)
    assert truth["ids"]["impressions"] == mine["ids"]["impression"]
    assert truth["ids"]["clicks"] == mine["ids"]["click"]
    assert truth["ids"]["conversions"] == mine["ids"]["conversion"]
    assert truth["ids"]["bid_requests"] == mine["ids"]["bid_request"]
    assert truth["attributed_clicks"] == mine["attributed_clicks"]
    assert truth["attributed_conversions"] == mine["attributed_conversions"]
    # The run is big enough that every part of the truth is exercised.
    assert len(truth["attributed_clicks"]) > 50
    assert len(truth["attributed_conversions"]) >= 1
    assert all(truth["sources"][s]["duplicates"] > 0 for s in truth["sources"])
    assert all(truth["sources"][s]["late"] > 0 for s in truth["sources"])
    assert sum(u["clicks"] for u in truth["unattributed"].values()) > 0


def test_every_malformed_kind_is_made_and_rejected_with_its_reason():
    # An hour at a low rate: long enough for conversions, which come minutes after clicks.
    config = SimulationConfig(
        start_ms=START, seed=3, duration_s=3600, bid_rate=30, anomalies=Anomalies(malformed=0.3)
    )
    sim = Simulator(config)
    made = Counter()
    for m in sim.events():
        record, reason = judge(m)
        if m.malformed:
            assert record is None, f"{m.source} record {m.key} should be rejected"
            made[(m.source, reason)] += 1
        else:
            assert reason is None, f"{m.key}: {reason}"
    expected = {(source, b.reason) for source, kinds in BREAKERS.items() for b in kinds}
    expected |= {("clicks_conversions", b.reason) for b in CLICK_BREAKERS + CONVERSION_BREAKERS}
    assert set(made) == expected
    # The truth's dead letters are these same records, with the same reasons.
    truth = Counter((d["source"], d["reason"]) for d in sim.truth.dead_letters)
    assert truth == made


def test_traffic_looks_like_an_ad_business():
    sim, messages = run(seed=5, duration_s=600, bid_rate=200)
    truth = sim.truth
    impressions = truth.valid["impression"]
    clicks = truth.valid["click"]
    bids = [f for f in truth.valid["bid_request"] if f.bid]
    wins = [f for f in bids if f.won]
    # Every won auction renders one impression 50-800 ms later, unless that is past the end.
    end = START + 600_000
    assert len([w for w in wins if w.event_ms < end - 800]) <= len(impressions) <= len(wins)
    assert 0.005 <= len(clicks) / len(impressions) <= 0.03  # CTR
    assert 0.2 <= len(wins) / len(bids) <= 0.5  # win rate
    imp_time = {f.record_id: f.event_ms for f in impressions}
    delays = sorted(c.event_ms - imp_time[c.impression_id] for c in clicks)
    assert delays[0] >= 0 and 1_000 <= delays[len(delays) // 2] <= 180_000
    # Skewed popularity: the busiest tenth of users see far more than a tenth of the ads.
    per_user = sorted(Counter(f.user_id for f in impressions).values(), reverse=True)
    assert sum(per_user[: len(per_user) // 10]) > 0.3 * len(impressions)


def test_knobs_silence_spike_and_bots():
    anomalies = Anomalies(
        bots=1,
        silent=[Silence(source="impressions", start_s=60, end_s=90)],
        rate_changes=[RateChange(start_s=120, end_s=150, factor=4.0)],
    )
    sim, messages = run(seed=9, duration_s=180, anomalies=anomalies)
    offsets = [(m.event_ms - START) / 1000 for m in messages if m.source == "impressions"]
    assert offsets and not any(60 <= o < 90 for o in offsets)
    bids = Counter(
        int((m.event_ms - START) / 30_000) for m in messages if m.source == "bid_requests"
    )
    assert bids[4] > 3 * bids[3]  # 120-150 s against 90-120 s
    bot_clicks = sorted(f.event_ms for f in sim.truth.valid["click"] if f.user_id == "bot-000")
    gaps = [b - a for a, b in zip(bot_clicks, bot_clicks[1:], strict=False)]
    assert len(bot_clicks) > 500 and max(gaps) < 1000


def test_a_plain_run_is_clean():
    sim, messages = run(seed=1, duration_s=60)
    assert all(
        row["duplicates"] == 0 and row["late"] == 0 and not row["invalid"]
        for row in sim.truth.summary().values()
    )
    assert not any(m.malformed for m in messages)
    assert not sim.truth.bot_users
