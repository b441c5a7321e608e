"""Contract 2.6: the reference judgement of invalid traffic."""

from __future__ import annotations

import random

import pytest

from advertisex.contract.invalid_traffic import (
    CLICK_RATE,
    CLICK_TOO_FAST,
    DUPLICATE_CLICK,
    GIVT,
    KNOWN_CRAWLER,
    VALID_TRAFFIC,
    ClickFacts,
    IvtRules,
    Judgement,
    givt,
    ivt_rate,
    judge_clicks,
    judge_conversion,
    judge_impression,
    known_crawler,
)
from advertisex.ingest.model import USER_AGENTS

T0 = 1_700_000_040_000  # a minute's start


@pytest.mark.parametrize(
    "agent",
    [
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "python-requests/2.31.0",
        "curl/8.4.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
    ],
)
def test_crawlers_from_the_list_are_givt(agent):
    assert known_crawler(agent)
    assert judge_impression(agent) == Judgement(GIVT, KNOWN_CRAWLER)


@pytest.mark.parametrize("device", sorted(USER_AGENTS))
def test_the_simulators_browsers_are_valid(device):
    assert judge_impression(USER_AGENTS[device]) == VALID_TRAFFIC


@pytest.mark.parametrize("agent", [None, ""])
def test_no_user_agent_is_not_a_crawler(agent):
    assert judge_impression(agent) == VALID_TRAFFIC


def click(event_id, at, user="u1", impression="imp-1", shown=None, impression_quality=None):
    return ClickFacts(event_id, at, user, impression, shown, impression_quality)


def test_a_click_under_the_delay_is_too_fast_and_at_it_is_not():
    judged = judge_clicks(
        [
            click("c1", T0 + 999, impression="i1", shown=T0),
            click("c2", T0 + 1_000, impression="i2", shown=T0),
        ]
    )
    assert judged == {"c1": givt(CLICK_TOO_FAST), "c2": VALID_TRAFFIC}


def test_an_unattributed_click_is_never_too_fast():
    assert judge_clicks([click("c1", T0, impression="i1", shown=None)]) == {"c1": VALID_TRAFFIC}


def test_the_delay_is_configurable():
    rules = IvtRules(min_click_delay_ms=5_000)
    judged = judge_clicks([click("c1", T0 + 4_999, shown=T0)], rules)
    assert judged == {"c1": givt(CLICK_TOO_FAST)}


def test_the_second_click_on_an_impression_by_event_time_is_a_duplicate():
    judged = judge_clicks(
        [
            click("c-late", T0 + 30_000, user="u2", impression="i1", shown=T0),
            click("c-first", T0 + 20_000, user="u1", impression="i1", shown=T0),
            click("c-third", T0 + 40_000, user="u3", impression="i1", shown=T0),
        ]
    )
    assert judged == {
        "c-first": VALID_TRAFFIC,
        "c-late": givt(DUPLICATE_CLICK),
        "c-third": givt(DUPLICATE_CLICK),
    }


def test_equal_times_are_ordered_by_id():
    judged = judge_clicks(
        [click("c-b", T0 + 5_000, impression="i1"), click("c-a", T0 + 5_000, impression="i1")]
    )
    assert judged == {"c-a": VALID_TRAFFIC, "c-b": givt(DUPLICATE_CLICK)}


def test_the_eleventh_click_of_a_user_in_a_minute_is_click_rate():
    clicks = [click(f"c{i:02d}", T0 + 1_000 * i, impression=f"i{i}") for i in range(12)]
    # Another minute and another user keep counts of their own.
    clicks.append(click("next-minute", T0 + 60_000, impression="i-next"))
    clicks.append(click("other-user", T0 + 30_500, user="u2", impression="i-other"))
    judged = judge_clicks(clicks)
    assert [judged[f"c{i:02d}"] for i in range(12)] == [VALID_TRAFFIC] * 10 + [givt(CLICK_RATE)] * 2
    assert judged["next-minute"] == VALID_TRAFFIC
    assert judged["other-user"] == VALID_TRAFFIC


def test_the_rate_threshold_is_configurable():
    clicks = [click(f"c{i}", T0 + i, impression=f"i{i}") for i in range(3)]
    judged = judge_clicks(clicks, IvtRules(max_clicks_per_user_minute=2))
    assert [judged[f"c{i}"] for i in range(3)] == [VALID_TRAFFIC, VALID_TRAFFIC, givt(CLICK_RATE)]


def test_a_click_on_a_crawlers_impression_inherits_it():
    judged = judge_clicks(
        [click("c1", T0 + 20_000, shown=T0, impression_quality=givt(KNOWN_CRAWLER))]
    )
    assert judged == {"c1": givt(KNOWN_CRAWLER)}


def test_several_broken_rules_give_the_first_reason():
    # A crawler's impression, clicked at once, twice, by a user over the rate.
    clicks = [click(f"c{i:02d}", T0 + i, impression=f"i{i}") for i in range(10)]
    clicks.append(click("c10", T0 + 500, impression="i1", shown=T0 + 100))
    clicks.append(
        click("c11", T0 + 600, impression="i2", shown=T0, impression_quality=givt(KNOWN_CRAWLER))
    )
    judged = judge_clicks(clicks)
    assert judged["c10"] == givt(CLICK_TOO_FAST)  # also a duplicate and over the rate
    assert judged["c11"] == givt(KNOWN_CRAWLER)  # also all three others


def test_a_conversion_inherits_an_invalid_click():
    assert judge_conversion(givt(CLICK_RATE)) == givt(CLICK_RATE)
    assert judge_conversion(VALID_TRAFFIC) == VALID_TRAFFIC
    assert judge_conversion(None) == VALID_TRAFFIC  # unattributed


def test_judgements_do_not_depend_on_arrival_order():
    rng = random.Random(7)
    clicks = [
        click(
            f"c{i:04d}",
            T0 + rng.randrange(180_000),
            user=f"u{rng.randrange(3)}",
            impression=f"i{rng.randrange(40)}",
            shown=T0 + rng.randrange(-5_000, 5_000) if rng.random() < 0.7 else None,
        )
        for i in range(400)
    ]
    expected = judge_clicks(clicks)
    reasons = {j.reason for j in expected.values()}
    assert reasons == {None, CLICK_TOO_FAST, DUPLICATE_CLICK, CLICK_RATE}
    for _ in range(5):
        rng.shuffle(clicks)
        assert judge_clicks(clicks) == expected


def test_ivt_rate():
    assert ivt_rate({"a": VALID_TRAFFIC, "b": givt(CLICK_RATE)}) == 0.5
    assert ivt_rate([]) is None
