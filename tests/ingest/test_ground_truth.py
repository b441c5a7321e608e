"""The ground truth's rules on small hand-made arrivals: watermarks, lateness, the two
interval joins as Flink runs them, and the decisions it reports as ambiguous."""

from decimal import Decimal

from advertisex.ingest.config import SimulationConfig
from advertisex.ingest.ground_truth import Fact, GroundTruth

T0 = 1_795_910_400_000  # a minute boundary
S = 1000
MIN = 60 * S
IMP, CC, BID = "impressions", "clicks_conversions", "bid_requests"


def truth() -> GroundTruth:
    t = GroundTruth(SimulationConfig(start_ms=T0, duration_s=600))
    t.campaigns = {"c1": {"campaign_id": "c1", "advertiser_id": "a1", "name": "One"}}
    t.campaigns["c1"] |= {"status": "active", "daily_budget_micros": 5}
    return t


def imp(rid: str, at: int, campaign: str = "c1", user: str = "u1") -> Fact:
    return Fact("impression", rid, T0 + at, campaign, user, cost_micros=100)


def click(rid: str, at: int, impression: str, campaign: str = "c1", user: str = "u1") -> Fact:
    return Fact("click", rid, T0 + at, campaign, user, impression)


def conv(rid: str, at: int, campaign: str = "c1", user: str = "u1") -> Fact:
    return Fact("conversion", rid, T0 + at, campaign, user, value=Decimal("2.50"))


def arrive(t: GroundTruth, fact: Fact, at: int | None = None, partition: int = 0) -> None:
    source = {"impression": IMP, "bid_request": BID}.get(fact.kind, CC)
    t.arrived(source, fact, fact.event_ms if at is None else T0 + at, partition)


def test_the_watermark_trails_every_timestamp_of_the_source_malformed_ones_too():
    t = truth()
    arrive(t, imp("i1", 0))
    t.malformed(IMP, "malformed_json", "", b"{", T0 + 60 * S)  # moves the watermark
    arrive(t, imp("i2", 49 * S))  # 11 s behind the highest timestamp: late
    arrive(t, imp("i3", 51 * S))  # 9 s behind: in time
    arrive(t, click("k1", 5 * S, "i1"))  # another source, its own watermark
    assert t.late_ids == {"i2"}
    assert t.summary()[IMP]["late"] == 1 and t.summary()[CC]["late"] == 0
    assert [a.watermark for a in t.arrivals["impression"]] == [None, T0 + 50 * S, T0 + 50 * S]


def test_lateness_is_judged_per_partition_and_the_joins_w_per_source():
    t = truth()
    arrive(t, imp("i1", 60 * S), partition=0)
    t.malformed(IMP, "malformed_json", "", b"{", T0 + 120 * S, partition=1)
    arrive(t, imp("i2", 30 * S), partition=2)  # first in partition 2: in time
    arrive(t, imp("i3", 49 * S), partition=0)  # 11 s behind partition 0's 60 s: late
    arrive(t, imp("i4", 100 * S), partition=1)  # 20 s behind the malformed one's: late
    arrive(t, imp("i5", 21 * S), partition=2)  # 9 s behind partition 2's 30 s: in time
    assert t.late_ids == {"i3", "i4"}
    assert t.summary()[IMP]["late"] == 2
    # The joins' W is the source's: 120 s - 10 s from the malformed message on.
    assert [a.watermark for a in t.arrivals["impression"]] == [None] + [T0 + 110 * S] * 4


def test_a_late_click_still_joins_but_counts_in_no_window():
    t = truth()
    arrive(t, imp("i1", 0))
    arrive(t, click("k0", 200 * S, "i0"))  # moves the clicks' watermark to 190 s
    arrive(t, click("k1", 20 * S, "i1"), at=201 * S)  # late, its impression still in state
    found = t.attribution()
    assert t.late_ids == {"k1"} and found.clicks == {"k1": "i1"} and not found.ambiguities
    rows = {r["window_start_ms"]: r for r in t.campaign_metrics()}
    assert rows[T0]["impressions"] == 1 and rows[T0]["clicks"] == 0
    assert rows[T0 + 3 * MIN]["unattributed_clicks"] == 1  # k0: no such impression
    # unattributed counts late records too: only k0 found nothing
    assert t.summary()[CC]["unattributed"] == 1
    assert t.unattributed() == {"c1": {"clicks": 1, "conversions": 0}}


def test_an_impression_that_arrives_after_its_click_expired_misses_it_ambiguously():
    t = truth()
    arrive(t, click("k1", 20 * S, "i1"))
    arrive(t, imp("i9", 300 * S))
    arrive(t, imp("i1", 0), at=301 * S)  # late: the click left state at 20 s
    found = t.attribution()
    assert found.clicks == {}
    assert len(found.ambiguities) == 1 and "late impression i1" in found.ambiguities[0]


def test_a_late_impression_still_meets_a_click_that_comes_after_it():
    t = truth()
    arrive(t, imp("i9", 140 * S))
    arrive(t, imp("i1", 0), at=150 * S)  # late: the watermark is 130 s
    arrive(t, click("k1", 200 * S, "i1"))
    found = t.attribution()
    assert t.late_ids == {"i1"} and found.clicks == {"k1": "i1"} and not found.ambiguities


def test_a_click_before_a_late_impression_is_ambiguous_even_if_still_in_state():
    t = truth()
    arrive(t, imp("i9", 140 * S))
    arrive(t, click("k1", 140 * S, "i1"), at=145 * S)
    arrive(t, imp("i1", 0), at=150 * S)  # late; the click is in state until 140 s > 130 s
    found = t.attribution()
    # A job that reads the impression before the click (another topic) may find the
    # watermark past 140 s by then: the outcome depends on how the inputs interleave.
    assert found.clicks == {"k1": "i1"} and len(found.ambiguities) == 1


def test_a_click_outside_the_window_or_of_another_impression_is_unattributed():
    t = truth()
    arrive(t, imp("i1", 0))
    arrive(t, click("k2", 40 * S, "i2"))
    arrive(t, click("k1", 31 * MIN, "i1"))  # after the 30-minute window
    assert t.attribution().clicks == {}


def test_last_click_among_the_clicks_a_conversion_met():
    t = truth()
    arrive(t, click("k1", 10 * S, "i1"))
    arrive(t, click("k2", 30 * S, "i2"))
    arrive(t, click("k3", 30 * S, "i3"))  # same time as k2: the greater id wins
    arrive(t, click("k4", 30 * S, "i4", user="u2"))  # another user
    arrive(t, conv("x1", 60 * S))
    assert t.attribution().conversions == {"x1": "k3"}


def test_a_click_that_arrives_after_its_conversion_expired_is_missed():
    t = truth()
    arrive(t, conv("x1", 60 * S))
    arrive(t, conv("x0", 120 * S, user="u2"))  # watermark 110 s: x1 has left state
    arrive(t, click("k1", 50 * S, "i1"), at=121 * S)  # late, and meets no conversion
    found = t.attribution()
    assert found.conversions == {}
    assert any("late click k1" in a for a in found.ambiguities)
    row = t.campaign_metrics()[0]
    assert (row["conversions"], row["unattributed_conversions"]) == (1, 1)
    assert t.summary()[CC]["unattributed"] == 3  # x1, x0, and k1 (its impression is absent)


def test_campaign_metrics_rows_follow_the_output_schema():
    from advertisex.contract.schemas import output_schema

    t = truth()
    arrive(t, imp("i1", 0))
    arrive(t, imp("i2", 5 * S, campaign="gone"))
    arrive(t, click("k1", 20 * S, "i1"))
    arrive(t, conv("x1", 30 * S))
    arrive(t, Fact("bid_request", "b1", T0 + 1 * S, "c1", "u1", bid=True, won=True))
    arrive(t, Fact("bid_request", "b2", T0 + 2 * S, None, "u1"))  # no bid: counts nowhere
    rows = t.campaign_metrics()
    schema = output_schema("campaign_metrics_1m")
    assert all(list(r) == schema["required"] for r in rows)
    one, gone = rows
    assert one["campaign_id"] == "c1" and one["window_end_ms"] == T0 + MIN
    assert (one["impressions"], one["clicks"], one["attributed_clicks"]) == (1, 1, 1)
    assert (one["conversions"], one["unattributed_conversions"]) == (1, 0)
    assert (one["bids"], one["wins"], one["win_rate"], one["ctr"]) == (1, 1, 1.0, 1.0)
    assert one["conversion_value"] == "2.50" and one["spend_micros"] == 100
    assert (one["advertiser_id"], one["campaign_name"], one["campaign_status"]) == (
        "a1",
        "One",
        "active",
    )
    assert one["campaign_daily_budget_micros"] == 5 and one["campaign_known"]
    assert gone["campaign_id"] == "gone" and not gone["campaign_known"]
    assert gone["advertiser_id"] is None and gone["cvr"] is None
    assert t.to_dict()["ambiguities"] == []


def test_invalid_traffic_is_judged_over_the_whole_run_and_inherited():
    from advertisex.contract.invalid_traffic import (
        CLICK_RATE,
        CLICK_TOO_FAST,
        DUPLICATE_CLICK,
        KNOWN_CRAWLER,
    )

    t = truth()
    crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0"
    arrive(t, Fact("impression", "i-bot", T0, "c1", "u1", cost_micros=1, user_agent=crawler))
    arrive(t, Fact("impression", "i1", T0, "c1", "u1", cost_micros=1, user_agent=browser))
    arrive(t, Fact("impression", "i2", T0, "c1", "u2", cost_micros=1, user_agent=browser))
    arrive(t, click("k-bot", 20 * S, "i-bot"))  # on a crawler's impression
    arrive(t, click("k2", 500, "i2", user="u2"))  # half a second after its impression
    # i1 clicked twice: the one with the later event time is the duplicate, though it
    # arrives first.
    arrive(t, click("k1-second", 40 * S, "i1", user="u3"), at=41 * S)
    arrive(t, click("k1-first", 30 * S, "i1", user="u3"), at=42 * S)
    # u9 clicks unknown impressions 11 times in minute 1: the 11th by event time is over.
    for n in range(11):
        arrive(t, click(f"r{n:02d}", MIN + (10 - n) * S, f"gone-{n}", user="u9"))
    arrive(t, conv("x-bot", 25 * S))  # u1's last click before it: k-bot, invalid
    arrive(t, conv("x2", 5 * S, user="u2"))  # k2's, too fast
    arrive(t, conv("x3", 50 * S, user="u3"))  # k1-second's: a duplicate
    judged = {rid: j.reason for rid, j in t.invalid_traffic().items()}
    assert judged == {
        "i-bot": KNOWN_CRAWLER,
        "i1": None,
        "i2": None,
        "k-bot": KNOWN_CRAWLER,
        "k2": CLICK_TOO_FAST,
        "k1-first": None,
        "k1-second": DUPLICATE_CLICK,
        **{f"r{n:02d}": None for n in range(1, 11)},
        "r00": CLICK_RATE,  # the latest of the eleven
        "x-bot": KNOWN_CRAWLER,
        "x2": CLICK_TOO_FAST,
        "x3": DUPLICATE_CLICK,
    }
    assert t.to_dict()["invalid_traffic"] == {
        "impressions": {"i-bot": KNOWN_CRAWLER},
        "clicks": {
            "k-bot": KNOWN_CRAWLER,
            "k1-second": DUPLICATE_CLICK,
            "k2": CLICK_TOO_FAST,
            "r00": CLICK_RATE,
        },
        "conversions": {"x-bot": KNOWN_CRAWLER, "x2": CLICK_TOO_FAST, "x3": DUPLICATE_CLICK},
    }
