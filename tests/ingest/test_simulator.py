"""The simulator: deterministic, realistic, and its ground truth checked by a recount.

The recount here reads what the simulator wrote, judges each record with the contract's
reference rules, and applies dedup, lateness and attribution with code of its own.
"""

import hashlib
import json
from collections import Counter, defaultdict

import pytest

from advertisex.contract.bid_requests import decode_bid_request
from advertisex.contract.clicks_csv import decode_click_row
from advertisex.contract.errors import ContractError
from advertisex.contract.event_time import event_time_ms
from advertisex.contract.impressions import decode_impression
from advertisex.contract.invalid_traffic import CLICK_RATE, KNOWN_CRAWLER, known_crawler
from advertisex.contract.rules import (
    standardize_bid_request,
    standardize_click_or_conversion,
    standardize_impression,
)
from advertisex.ingest.config import Anomalies, RateChange, Silence, SimulationConfig
from advertisex.ingest.malformed import BREAKERS, CLICK_BREAKERS, CONVERSION_BREAKERS
from advertisex.ingest.model import CRAWLER_AGENTS, USER_AGENTS
from advertisex.ingest.simulator import Simulator, diurnal_factor

START = 1_795_910_400_000  # 2026-11-29T00:00:00Z, a minute boundary


def run(**kwargs) -> tuple[Simulator, list]:
    sim = Simulator(SimulationConfig(**{"start_ms": START, **kwargs}))
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


def test_a_market_seed_shares_the_campaigns_across_seeds_and_the_seed_alone_draws_its_own():
    a, _ = run(seed=7, market_seed=3, duration_s=10)
    b, b_messages = run(seed=8, market_seed=3, duration_s=10)
    _, c_messages = run(seed=8, duration_s=10)
    assert a.campaigns() == b.campaigns()  # the same world ...
    assert a.market.websites == b.market.websites
    assert digest(b_messages) != digest(c_messages)  # ... and not the seed's own
    d, _ = run(seed=7, duration_s=10)
    assert d.campaigns() != a.campaigns()
    assert [c.ctr for c in d.market.campaigns] != [c.ctr for c in a.market.campaigns]


def test_the_rate_follows_the_time_of_day():
    hour = 3_600_000
    assert diurnal_factor(START + 3 * hour) == pytest.approx(0.4)
    assert diurnal_factor(START + 9 * hour) == pytest.approx(1.0)
    assert diurnal_factor(START + 15 * hour) == pytest.approx(1.6)
    night, _ = run(seed=1, duration_s=60, start_ms=START + 3 * hour)
    day, _ = run(seed=1, duration_s=60, start_ms=START + 15 * hour)
    ratio = day.truth.received["bid_requests"] / night.truth.received["bid_requests"]
    assert 3.4 < ratio < 4.6  # 1.6 / 0.4, Poisson counts of about 2,400 and 9,600


def test_a_flat_rate_is_the_same_at_every_hour():
    hour = 3_600_000
    night, _ = run(seed=1, duration_s=60, start_ms=START + 3 * hour, diurnal=False)
    day, _ = run(seed=1, duration_s=60, start_ms=START + 15 * hour, diurnal=False)
    # The same seed draws the same Poisson counts when the mean is the same.
    assert night.truth.received["bid_requests"] == day.truth.received["bid_requests"]
    assert 5_400 < night.truth.received["bid_requests"] < 6_600  # 100/s for 60 s


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
    """Dedup, lateness and both joins, replayed as an operator would run them: every message
    moves its source's watermark by the event time its payload gives, if any; a join's
    watermark is the lower of its inputs'; a record joins what is in state and stays while
    the watermark allows."""
    received, invalid, dups, late = Counter(), defaultdict(Counter), Counter(), Counter()
    seen, top, valid, late_ids = set(), {}, defaultdict(list), set()
    ooo, click_window, conv_window = (
        config.out_of_orderness_ms,
        config.click_window_ms,
        config.conversion_window_ms,
    )

    def watermark(*sources):  # None: an input has no watermark yet
        marks = [top[s] - ooo for s in sources if s in top]
        return min(marks) if len(marks) == len(sources) else None

    def alive(bound, wm):
        return wm is None or wm <= bound

    impressions, clicks_by_imp = {}, defaultdict(list)  # the click join's state
    clicks_by_user, convs_by_user = defaultdict(list), defaultdict(list)  # the conversion join's
    attributed, joined = {}, defaultdict(list)
    for m in messages:  # arrival order
        received[m.source] += 1
        own = watermark(m.source)
        both = watermark("impressions", "clicks_conversions")
        readable = event_time_ms(m.source, m.payload)  # what the job's source reads
        if readable is not None:
            top[m.source] = max(top.get(m.source, readable), readable)
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
        if own is not None and t < own:
            late[m.source] += 1
            late_ids.add(rid)
        kind = record.get("event_type") or (
            "impression" if m.source == "impressions" else "bid_request"
        )
        valid[kind].append(record)
        if kind == "impression":
            for c_t, c_id in clicks_by_imp[rid]:
                if alive(c_t, both) and t <= c_t <= t + click_window:
                    attributed[c_id] = rid
            if alive(t + click_window, both):
                impressions[rid] = t
        elif kind == "click":
            imp = record["impression_id"]
            i_t = impressions.get(imp)
            if (
                i_t is not None
                and alive(i_t + click_window, both)
                and i_t <= t <= i_t + click_window
            ):
                attributed[rid] = imp
            if alive(t, both):
                clicks_by_imp[imp].append((t, rid))
            key = (record["user_id"], record["campaign_id"])
            for x_t, x_id in convs_by_user[key]:
                if alive(x_t, own) and t <= x_t <= t + conv_window:
                    joined[x_id].append((t, rid))
            if alive(t + conv_window, own):
                clicks_by_user[key].append((t, rid))
        elif kind == "conversion":
            key = (record["user_id"], record["campaign_id"])
            for c_t, c_id in clicks_by_user[key]:
                if alive(c_t + conv_window, own) and c_t <= t <= c_t + conv_window:
                    joined[rid].append((c_t, c_id))
            if alive(t, own):
                convs_by_user[key].append((t, rid))
    record_id = {"impression": "impression_id", "bid_request": "request_id"}
    ids = {k: sorted(r[record_id.get(k, "event_id")] for r in v) for k, v in valid.items()}
    conversions = {x: max(found)[1] for x, found in joined.items()}
    # campaign_metrics_1m's counts, from records that were not late
    metrics = defaultdict(Counter)
    for kind, records in valid.items():
        for r in records:
            rid = r[record_id.get(kind, "event_id")]
            if rid in late_ids:
                continue
            if kind == "bid_request" and not r["bid"]:
                continue
            campaign = r["campaign_id"]
            row = metrics[(campaign, r["event_time_ms"] // 60_000 * 60_000)]
            if kind == "impression":
                row["impressions"] += 1
                row["spend_micros"] += r["cost_micros"] or 0
            elif kind == "click":
                row["clicks"] += 1
                row["attributed_clicks"] += rid in attributed
            elif kind == "conversion":
                row["conversions"] += 1
                row["unattributed_conversions"] += rid not in conversions
            else:
                row["bids"] += 1
                row["wins"] += r["won"]
    unattributed = sum(c not in attributed for c in ids.get("click", [])) + sum(
        x not in conversions for x in ids.get("conversion", [])
    )
    return {
        "received": dict(received),
        "invalid": {s: dict(c) for s, c in invalid.items()},
        "duplicates": dict(dups),
        "late": dict(late),
        "ids": ids,
        "attributed_clicks": attributed,
        "attributed_conversions": conversions,
        "unattributed": unattributed,
        "metrics": {k: +v for k, v in metrics.items()},
    }


def test_ground_truth_agrees_with_an_independent_recount():
    config = SimulationConfig(
        start_ms=START, seed=11, duration_s=240, bid_rate=150, anomalies=Anomalies.everything(240)
    )
    sim = Simulator(config)
    messages = list(sim.events())
    truth = sim.truth.to_dict()
    mine = recount(messages, config)

    # No join here depends on how partitions interleave, so a real run must agree.
    assert truth["ambiguities"] == []
    for source, row in truth["sources"].items():
        assert row["received"] == mine["received"][source]
        assert row["invalid"] == mine["invalid"].get(source, {})
        assert row["duplicates"] == mine["duplicates"].get(source, 0)
        assert row["late"] == mine["late"].get(source, 0)
    assert truth["sources"]["clicks_conversions"]["unattributed"] == mine["unattributed"]
    assert truth["ids"]["impressions"] == mine["ids"]["impression"]
    assert truth["ids"]["clicks"] == mine["ids"]["click"]
    assert truth["ids"]["conversions"] == mine["ids"]["conversion"]
    assert truth["ids"]["bid_requests"] == mine["ids"]["bid_request"]
    assert truth["attributed_clicks"] == mine["attributed_clicks"]
    assert truth["attributed_conversions"] == mine["attributed_conversions"]
    counted = ("impressions", "clicks", "attributed_clicks", "conversions")
    counted += ("unattributed_conversions", "spend_micros", "bids", "wins")
    rows = {
        (r["campaign_id"], r["window_start_ms"]): +Counter({k: r[k] for k in counted})
        for r in truth["campaign_metrics_1m"]
    }
    assert rows == mine["metrics"]
    # The run is big enough that every part of the truth is exercised, late records too.
    assert len(truth["attributed_clicks"]) > 50
    assert len(truth["attributed_conversions"]) >= 1
    assert all(truth["sources"][s]["duplicates"] > 0 for s in truth["sources"])
    assert all(truth["sources"][s]["late"] > 0 for s in truth["sources"])
    assert set(truth["late_ids"]) & set(truth["attributed_clicks"])  # late clicks still join
    assert sum(u["clicks"] for u in truth["unattributed"].values()) > 0
    known = {c["campaign_id"] for c in sim.campaigns()}
    for r in truth["campaign_metrics_1m"]:
        assert r["campaign_known"] == (r["campaign_id"] in known)
        assert (r["advertiser_id"] is None) != r["campaign_known"]
        assert r["unattributed_clicks"] == r["clicks"] - r["attributed_clicks"]
    assert not all(r["campaign_known"] for r in truth["campaign_metrics_1m"])


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


def test_every_crawler_agent_is_on_the_crawler_list():
    assert all(known_crawler(agent) for agent in CRAWLER_AGENTS)
    assert not any(known_crawler(agent) for agent in USER_AGENTS.values())


def test_the_truth_finds_what_the_crawlers_and_bots_knobs_injected():
    """Contract 2.6 in the truth against what the simulator did: every impression it
    rendered to a crawler is known_crawler, and no other; clicks on them inherit it; a
    bot's clicks beyond 10 in a minute break the rate rule."""
    anomalies = Anomalies(crawlers=0.2, bots=1)
    sim, messages = run(seed=11, duration_s=180, anomalies=anomalies)
    judged = sim.truth.invalid_traffic()
    crawled = {
        m.key
        for m in messages
        if m.source == "impressions" and json.loads(m.payload)["user_agent"] in CRAWLER_AGENTS
    }
    impressions = {f.record_id for f in sim.truth.valid["impression"]}
    assert 0.15 < len(crawled) / len(impressions) < 0.25
    assert {i for i in impressions if judged[i].reason == KNOWN_CRAWLER} == crawled
    found = sim.truth.attribution()
    for click_id, impression_id in found.clicks.items():
        if impression_id in crawled:
            assert judged[click_id].reason == KNOWN_CRAWLER
    # The bot's clicks per event-time minute: all beyond the 10th are invalid.
    bot = sorted(
        (f.event_ms, f.record_id) for f in sim.truth.valid["click"] if f.user_id == "bot-000"
    )
    per_minute = Counter(ms // 60_000 for ms, _ in bot)
    invalid = sum(not judged[rid].valid for _, rid in bot)
    assert invalid >= sum(n - 10 for n in per_minute.values() if n > 10)
    humans = [f for f in sim.truth.valid["click"] if f.user_id != "bot-000"]
    assert all(judged[f.record_id].reason != CLICK_RATE for f in humans)


def test_the_crawlers_knob_changes_user_agents_and_nothing_else():
    _, plain = run(seed=3, duration_s=60)
    _, crawled = run(seed=3, duration_s=60, anomalies=Anomalies(crawlers=0.3))

    def without_agent(m) -> tuple:
        if m.source != "impressions":
            return (m.source, m.key, m.payload, m.arrival_ms)
        record = json.loads(m.payload)
        return (m.source, m.key, record.pop("user_agent"), record, m.arrival_ms)

    changed = 0
    assert len(plain) == len(crawled)
    for a, b in zip(plain, crawled, strict=True):
        a, b = without_agent(a), without_agent(b)
        if a[0] == "impressions":
            changed += a[2] != b[2]
            a, b = (*a[:2], *a[3:]), (*b[:2], *b[3:])
        assert a == b
    assert changed > 0
