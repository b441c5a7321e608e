"""Contract 2.6, general invalid traffic (GIVT): the reference judgement, plain Python.

Every valid impression, click and conversion is judged `valid`, `givt` or `sivt` (no rule
gives `sivt` yet: sophisticated invalid traffic needs patterns over time), with a reason
when it is not valid. The ground truth and the tests use these functions, and the Flink
jobs must agree with them, as with advertisex/contract/rules.py.

The rules (thresholds in IvtRules):
- known_crawler: an impression whose user agent matches the `crawler-user-agents` list
  (the PyPI package, its version pinned in pyproject.toml); a click on such an impression
  inherits it (a click carries no user agent of its own);
- click_too_fast: a click less than min_click_delay_ms after its attributed impression;
- duplicate_click: the second or later click on the same impression_id;
- click_rate: a user's clicks beyond max_clicks_per_user_minute in one event-time minute
  (the 11th and later by default);
- a conversion whose attributed click is invalid inherits that click's judgement.

"Second" and "11th" follow event time, then the id, never arrival: a click's judgement
depends on which clicks exist, not on the order they came in (contract 2.5). A record that
breaks several rules carries the first reason of REASONS.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import crawleruseragents
from pydantic import BaseModel, Field

VALID, GIVT, SIVT = "valid", "givt", "sivt"
QUALITIES = (VALID, GIVT, SIVT)

KNOWN_CRAWLER = "known_crawler"
CLICK_TOO_FAST = "click_too_fast"
DUPLICATE_CLICK = "duplicate_click"
CLICK_RATE = "click_rate"
# Precedence: a record that breaks several rules carries the first of these.
REASONS = (KNOWN_CRAWLER, CLICK_TOO_FAST, DUPLICATE_CLICK, CLICK_RATE)

MINUTE_MS = 60_000


class IvtRules(BaseModel):
    """The GIVT thresholds: their one home (the job's settings and the simulator's ground
    truth take them from here)."""

    min_click_delay_ms: int = Field(
        1_000, ge=0, description="a click sooner than this after its impression is invalid"
    )
    max_clicks_per_user_minute: int = Field(
        10, ge=1, description="a user's clicks beyond this many in one event-time minute"
    )


@dataclass(frozen=True, slots=True)
class Judgement:
    quality: str  # valid | givt | sivt
    reason: str | None = None  # one of REASONS when not valid

    @property
    def valid(self) -> bool:
        return self.quality == VALID


VALID_TRAFFIC = Judgement(VALID)


def givt(reason: str) -> Judgement:
    return Judgement(GIVT, reason)


def crawler_patterns() -> list[str]:
    """The crawler list's patterns, in its order: what the JVM port matches too (the
    pipeline hands them over as a job parameter)."""
    return [entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]


@lru_cache(maxsize=4096)  # user agents repeat: a handful of strings make most traffic
def known_crawler(user_agent: str | None) -> bool:
    """Whether the user agent matches the crawler list (its patterns are case-sensitive, as
    the list's own matcher applies them)."""
    return bool(user_agent) and crawleruseragents.is_crawler(user_agent)


def judge_impression(user_agent: str | None) -> Judgement:
    return givt(KNOWN_CRAWLER) if known_crawler(user_agent) else VALID_TRAFFIC


@dataclass(frozen=True, slots=True)
class ClickFacts:
    """What judging a click needs: itself and, when attributed (contract 2.4), its
    impression's event time and judgement."""

    event_id: str
    event_ms: int
    user_id: str
    impression_id: str | None
    impression_ms: int | None = None  # None: unattributed
    impression: Judgement | None = None


def judge_clicks(
    clicks: Iterable[ClickFacts], rules: IvtRules | None = None
) -> dict[str, Judgement]:
    """Each click's judgement, by event id. The clicks are the first-seen ones (contract
    2.3): a redelivered click is a duplicate record, not a second click."""
    rules = rules or IvtRules()
    ordered = sorted(clicks, key=lambda c: (c.event_ms, c.event_id))
    per_impression: dict[str, int] = defaultdict(int)
    per_user_minute: dict[tuple[str, int], int] = defaultdict(int)
    judged: dict[str, Judgement] = {}
    for click in ordered:
        broken = set()
        if click.impression is not None and click.impression.reason == KNOWN_CRAWLER:
            broken.add(KNOWN_CRAWLER)
        if (
            click.impression_ms is not None
            and click.event_ms - click.impression_ms < rules.min_click_delay_ms
        ):
            broken.add(CLICK_TOO_FAST)
        if click.impression_id is not None:
            per_impression[click.impression_id] += 1
            if per_impression[click.impression_id] > 1:
                broken.add(DUPLICATE_CLICK)
        minute = (click.user_id, click.event_ms - click.event_ms % MINUTE_MS)
        per_user_minute[minute] += 1
        if per_user_minute[minute] > rules.max_clicks_per_user_minute:
            broken.add(CLICK_RATE)
        judged[click.event_id] = first_broken(broken)
    return judged


def judge_conversion(click: Judgement | None) -> Judgement:
    """A conversion inherits its attributed click's judgement when that is not valid."""
    return click if click is not None and not click.valid else VALID_TRAFFIC


def first_broken(broken: set[str]) -> Judgement:
    for reason in REASONS:
        if reason in broken:
            return givt(reason)
    return VALID_TRAFFIC


def ivt_rate(judgements: Mapping[str, Judgement] | Iterable[Judgement]) -> float | None:
    """The share of records judged invalid (None for none)."""
    values = list(judgements.values()) if isinstance(judgements, Mapping) else list(judgements)
    if not values:
        return None
    return sum(not j.valid for j in values) / len(values)
