"""The ad business the simulator plays: advertisers, campaigns, websites and users.

Popularity is skewed the way real traffic is: a few websites and users account for most
requests (Zipf weights), and each campaign has its own targeting, price level, CTR and CVR.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "ES", "IT")
COUNTRY_WEIGHTS = (30, 10, 9, 8, 12, 7, 6, 6, 6, 6)
DEVICE_TYPES = ("mobile", "desktop", "tablet", "ctv")
DEVICE_WEIGHTS = (55, 35, 7, 3)
CATEGORIES = tuple(f"IAB{i}" for i in range(1, 21))
EXCHANGES = ("adx", "openx", "pubmatic", "magnite", "index")
CONVERSION_TYPES = ("purchase", "signup", "install", "lead", "add_to_cart")
OS_BY_DEVICE = {
    "mobile": ("iOS", "Android"),
    "tablet": ("iPadOS", "Android"),
    "desktop": ("Windows", "macOS", "Linux"),
    "ctv": ("tvOS", "Tizen", "webOS"),
}
USER_AGENTS = {
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) Mobile/15E148",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0",
    "ctv": "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36",
}
# Agents of automated traffic that renders ads (the crawlers knob): search and SEO
# crawlers, HTTP libraries, headless browsers. Each is on the crawler-user-agents list
# (tests/ingest/test_simulator.py checks it), so contract 2.6 judges it known_crawler.
CRAWLER_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0 Safari/537.36",
)


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    advertiser_id: str
    name: str
    status: str
    daily_budget_micros: int
    countries: tuple[str, ...]
    device_types: tuple[str, ...]
    categories: tuple[str, ...]
    base_cpm_micros: int  # what the campaign typically bids per thousand impressions
    ctr: float
    cvr: float
    creatives: tuple[str, ...]
    conversion_type: str

    def as_dimension(self, updated_at_ms: int) -> dict:
        return {
            "campaign_id": self.campaign_id,
            "advertiser_id": self.advertiser_id,
            "name": self.name,
            "status": self.status,
            "daily_budget_micros": self.daily_budget_micros,
            "currency": "USD",
            "countries": list(self.countries),
            "device_types": list(self.device_types),
            "categories": list(self.categories),
            "updated_at_ms": updated_at_ms,
        }


@dataclass(frozen=True)
class Website:
    domain: str
    categories: tuple[str, ...]
    floor_cpm_micros: int


@dataclass(frozen=True)
class Market:
    campaigns: tuple[Campaign, ...]
    websites: tuple[Website, ...]
    website_weights: tuple[float, ...]  # cumulative, for random.choices
    users: int
    user_weights: tuple[float, ...]  # cumulative
    # Campaigns whose targeting matches, by (country, device, category): a bid request's
    # eligible campaigns are found by one lookup, not a scan.
    eligible: dict[tuple[str, str, str], tuple[Campaign, ...]]


def zipf_cumulative(n: int, exponent: float) -> tuple[float, ...]:
    return tuple(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, n + 1)))


def build_market(
    rng: random.Random,
    advertisers: int = 12,
    campaigns: int = 40,
    websites: int = 500,
    users: int = 20_000,
) -> Market:
    camps = []
    for i in range(campaigns):
        cats = tuple(sorted(rng.sample(CATEGORIES, rng.randint(3, 8))))
        camps.append(
            Campaign(
                campaign_id=f"cmp-{i:04d}",
                advertiser_id=f"adv-{i % advertisers:03d}",
                name=f"Campaign {i:04d}",
                status="active",
                daily_budget_micros=rng.randrange(500, 20_000) * 1_000_000,
                countries=tuple(sorted(rng.sample(COUNTRIES, rng.randint(3, len(COUNTRIES))))),
                device_types=tuple(sorted(rng.sample(DEVICE_TYPES, rng.randint(2, 4)))),
                categories=cats,
                base_cpm_micros=rng.randrange(800, 6_000) * 1_000,
                ctr=rng.uniform(0.005, 0.03),
                cvr=rng.uniform(0.02, 0.10),
                creatives=tuple(f"cr-{i:04d}-{k}" for k in range(rng.randint(1, 4))),
                conversion_type=rng.choice(CONVERSION_TYPES),
            )
        )
    sites = []
    for i in range(websites):
        sites.append(
            Website(
                domain=f"site{i:04d}.example.com" if i % 7 else f"news{i:04d}.example.org",
                categories=tuple(sorted(rng.sample(CATEGORIES, rng.randint(1, 3)))),
                floor_cpm_micros=rng.randrange(100, 1_500) * 1_000,
            )
        )
    eligible: dict[tuple[str, str, str], tuple[Campaign, ...]] = {}
    for country, device, category in itertools.product(COUNTRIES, DEVICE_TYPES, CATEGORIES):
        eligible[(country, device, category)] = tuple(
            c
            for c in camps
            if country in c.countries and device in c.device_types and category in c.categories
        )
    return Market(
        campaigns=tuple(camps),
        websites=tuple(sites),
        website_weights=zipf_cumulative(websites, 1.1),
        users=users,
        user_weights=zipf_cumulative(users, 0.9),
        eligible=eligible,
    )
