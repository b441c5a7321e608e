"""The traffic simulator: a day of programmatic advertising, second by second.

Bid requests arrive at a rate that follows the time of day; some match campaigns' targeting,
some of those we bid on, some we win. Each won auction renders an impression; impressions
are clicked at the campaign's CTR seconds to minutes later, and clicks convert at its CVR
minutes to days later. Every record goes through a queue ordered by arrival time, so the
anomaly knobs (redeliveries, jitter, lateness, silence) reorder arrivals without touching
event times. The ground truth is fed each record as it arrives.

Late records are kept off the edges where a streaming join's outcome would depend on how
Kafka partitions interleave: an impression that gets clicked is never late (nor offered to
the bots once late), and a click is late only if it still arrives over a minute before its
impression leaves join state and before its own conversion.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from advertisex.contract.bid_requests import encode_bid_request
from advertisex.contract.clicks_csv import encode_click_row
from advertisex.contract.event_time import event_time_ms
from advertisex.contract.impressions import encode_impression
from advertisex.contract.timestamps import to_iso
from advertisex.ingest.config import SimulationConfig
from advertisex.ingest.ground_truth import Fact, GroundTruth
from advertisex.ingest.malformed import MalformedMaker
from advertisex.ingest.model import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    CRAWLER_AGENTS,
    DEVICE_TYPES,
    DEVICE_WEIGHTS,
    EXCHANGES,
    OS_BY_DEVICE,
    USER_AGENTS,
    Campaign,
    build_market,
)
from advertisex.ingest.topics import partition_for

SOURCE_OF = {
    "impression": "impressions",
    "click": "clicks_conversions",
    "conversion": "clicks_conversions",
    "bid_request": "bid_requests",
}
_COUNTRY_CUM = tuple(sum(COUNTRY_WEIGHTS[: i + 1]) for i in range(len(COUNTRY_WEIGHTS)))
_DEVICE_CUM = tuple(sum(DEVICE_WEIGHTS[: i + 1]) for i in range(len(DEVICE_WEIGHTS)))


@dataclass(frozen=True, slots=True)
class Emitted:
    """One message as it arrives: what a Kafka sink sends and a file sink writes."""

    source: str
    key: str
    payload: bytes
    event_ms: int
    arrival_ms: int
    malformed: bool = False  # known to the simulator; a file sink isolates such Avro datums
    partition: int | None = None  # its raw partition (ingest.topics.partition_for); None: any


@dataclass(order=True, slots=True)
class _Pending:
    arrival_ms: int
    seq: int
    fact: Fact = field(compare=False)
    payload: bytes = field(compare=False)
    reason: str | None = field(compare=False)  # why the payload is malformed, if it is


def diurnal_factor(t_ms: int) -> float:
    """The request rate's share of its daily mean at UTC time t_ms: 0.4 at 3h, 1.6 at 15h."""
    hour = (t_ms / 3_600_000) % 24
    return 1 + 0.6 * math.sin(2 * math.pi * (hour - 9) / 24)


class Simulator:
    def __init__(self, config: SimulationConfig):
        self.config = config
        self.rng = random.Random(config.seed)
        # Without a market seed the market is drawn first from the run's own generator.
        market_rng = self.rng if config.market_seed is None else random.Random(config.market_seed)
        self.market = build_market(
            market_rng, config.advertisers, config.campaigns, config.websites, config.users
        )
        self.truth = GroundTruth(config)
        self.malformed = MalformedMaker(self.rng)
        # The crawlers knob draws from a generator of its own: turning it on changes which
        # agents render the impressions, and nothing else of the run.
        self._crawler_rng = random.Random(f"{config.seed}-crawlers")
        self._queue: list[_Pending] = []
        self._seq = 0
        self._end_ms = config.start_ms + int(config.duration_s * 1000)
        # (impression id, campaign id, event time) of on-time impressions, for the bots
        self._recent_impressions: deque[tuple[str, str, int]] = deque(maxlen=2000)
        self.truth.bot_users = [f"bot-{i:03d}" for i in range(config.anomalies.bots)]
        self.truth.campaigns = {row["campaign_id"]: row for row in self.campaigns()}

    # -- the campaign dimension ------------------------------------------------------------
    def campaigns(self) -> list[dict]:
        return [c.as_dimension(self.config.start_ms) for c in self.market.campaigns]

    # -- the event stream ------------------------------------------------------------------
    def events(self) -> Iterator[Emitted]:
        """Every message of the run, in arrival order."""
        cfg = self.config
        for second in range(math.ceil(cfg.duration_s)):
            t0 = cfg.start_ms + second * 1000
            for _ in range(self._poisson(self._rate(t0, second))):
                self._bid_request(t0 + int(self.rng.random() * 1000))
            for bot in self.truth.bot_users:
                self._bot_clicks(bot, t0)
            yield from self._release(t0 + 1000)
        yield from self._release(None)

    def _rate(self, t_ms: int, second: int) -> float:
        factor = 1.0
        for change in self.config.anomalies.rate_changes:
            if change.contains(second):
                factor *= change.factor
        if self.config.diurnal:
            factor *= diurnal_factor(t_ms)
        return self.config.bid_rate * factor

    def _poisson(self, mean: float) -> int:
        if mean > 30:
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, k, p = math.exp(-mean), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{self.rng.getrandbits(64):016x}"

    def _when(self, ms: int, form: int) -> object:
        """The contract's timestamp forms in turn: epoch millis, ISO UTC, ISO with offset."""
        if form == 0:
            return ms
        iso = to_iso(ms)
        if form == 1:
            return iso
        return to_iso(ms + 3_600_000).replace("Z", "+01:00")

    # -- auctions, impressions, clicks, conversions ----------------------------------------
    def _bid_request(self, t: int) -> None:
        rng, market = self.rng, self.market
        site = rng.choices(market.websites, cum_weights=market.website_weights)[0]
        user = f"u-{rng.choices(range(market.users), cum_weights=market.user_weights)[0]:06d}"
        country = rng.choices(COUNTRIES, cum_weights=_COUNTRY_CUM)[0]
        device = rng.choices(DEVICE_TYPES, cum_weights=_DEVICE_CUM)[0]
        category = rng.choice(site.categories)
        eligible = market.eligible[(country, device, category)]
        floor = int(site.floor_cpm_micros * rng.uniform(0.8, 1.2))
        auction = "FIRST_PRICE" if rng.random() < 0.6 else "SECOND_PRICE"
        outcome, campaign, won, clearing = None, None, False, 0
        if eligible and rng.random() < 0.8:
            campaign = rng.choice(eligible)
            bid = int(campaign.base_cpm_micros * rng.lognormvariate(0, 0.3))
            if bid >= floor:
                won = rng.random() < 0.35
                if won:
                    clearing = (
                        bid
                        if auction == "FIRST_PRICE"
                        else int(floor + (bid - floor) * rng.uniform(0.3, 0.9))
                    )
                creative = rng.choice(campaign.creatives)
                outcome = {
                    "bid_price_micros": bid,
                    "won": won,
                    "clearing_price_micros": clearing if won else None,
                    "campaign_id": campaign.campaign_id,
                    "creative_id": creative,
                }
        request_id = self._id("br")
        record = {
            "request_id": request_id,
            "event_time": t,
            "exchange": rng.choice(EXCHANGES),
            "auction_type": auction,
            "bid_floor_micros": floor,
            "currency": "USD",
            "user": {"user_id": user, "segments": [], "age_range": None, "gender": None},
            "device": {
                "device_type": device,
                "os": rng.choice(OS_BY_DEVICE[device]),
                "user_agent": USER_AGENTS[device],
                "ip": None,
                "country": country,
            },
            "site": {
                "domain": site.domain if rng.random() < 0.7 else f"www.{site.domain}",
                "page_url": f"https://{site.domain}/article/{rng.randrange(10_000)}",
                "categories": list(site.categories),
            },
            "targeting": {"campaign_ids": [c.campaign_id for c in eligible[:5]], "keywords": []},
            "outcome": outcome,
        }
        fact = Fact(
            "bid_request",
            request_id,
            t,
            outcome and campaign.campaign_id,
            user,
            bid=outcome is not None,
            won=won,
        )
        self._schedule(fact, record)
        if won:
            self._impression(
                t + rng.randrange(50, 800),
                campaign,
                outcome["creative_id"],
                user,
                site.domain,
                device,
                country,
                clearing // 1000,
                request_id,
            )

    def _impression(
        self,
        t: int,
        campaign: Campaign,
        creative: str,
        user: str,
        domain: str,
        device: str,
        country: str,
        cost: int,
        request_id: str,
    ) -> None:
        rng = self.rng
        if t >= self._end_ms:
            return
        campaign_id = campaign.campaign_id
        if rng.random() < self.config.anomalies.unknown_campaigns:
            campaign_id = f"cmp-retired-{rng.randrange(10):02d}"
        impression_id = self._id("imp")
        form = rng.randrange(3)
        record = {
            "impression_id": impression_id,
            "event_time": self._when(t, form),
            "user_id": user,
            "creative_id": creative,
            "campaign_id": campaign_id,
            # Websites arrive as hosts or as full URLs, in any case: the pipeline normalizes.
            "website": domain if form else f"https://WWW.{domain.upper()}:443/p?ref=ad",
            "bid_request_id": request_id,
            "cost_micros": cost,
            "device_type": device if rng.random() < 0.9 else device.capitalize(),
            "country": country if rng.random() < 0.9 else country.lower(),
            "user_agent": USER_AGENTS[device],
        }
        crawlers = self.config.anomalies.crawlers
        if crawlers and self._crawler_rng.random() < crawlers:
            record["user_agent"] = self._crawler_rng.choice(CRAWLER_AGENTS)
        if rng.random() < 0.5:
            record["currency"] = "USD"
        # Seconds to minutes; a few clicks come after the 30-minute window. Known before the
        # impression is queued: a clicked impression must not be late.
        click_at = None
        if rng.random() < campaign.ctr:
            click_at = t + int(1000 * rng.lognormvariate(math.log(20), 1.3))
        clicked = click_at is not None and click_at < self._end_ms
        late = self._schedule(
            Fact(
                "impression",
                impression_id,
                t,
                campaign_id,
                user,
                cost_micros=cost,
                user_agent=record["user_agent"],
            ),
            record,
            late_ok=lambda arrival: not clicked,
        )
        if not late:
            self._recent_impressions.append((impression_id, campaign_id, t))
        if click_at is not None:
            self._click(click_at, user, campaign_id, impression_id, t, campaign)
        elif rng.random() < 0.001:
            # A view-through conversion: no click to attribute it to.
            self._conversion(
                t + int(1000 * rng.lognormvariate(math.log(600), 1.0)), user, campaign_id, campaign
            )

    def _click(
        self,
        t: int,
        user: str,
        campaign_id: str,
        impression_id: str,
        impression_ms: int,
        campaign: Campaign | None,
    ) -> None:
        if t >= self._end_ms:
            return
        rng = self.rng
        click_id = self._id("clk")
        record = {
            "event_id": click_id,
            "event_time": self._when(t, self.rng.randrange(3)),
            "event_type": "click",
            "user_id": user,
            "campaign_id": campaign_id,
            "impression_id": impression_id,
        }
        # Minutes to days after the click: median 10 minutes, 1 in 100 after a day.
        converts_at = None
        if campaign is not None and rng.random() < campaign.cvr:
            converts_at = t + int(1000 * rng.lognormvariate(math.log(600), 2.2))
        expires = impression_ms + self.config.click_window_ms  # the impression leaves join state

        def late_ok(arrival: int) -> bool:
            return arrival + 60_000 < expires and (
                converts_at is None or converts_at >= arrival + 60_000
            )

        self._schedule(
            Fact("click", click_id, t, campaign_id, user, impression_id), record, late_ok=late_ok
        )
        if converts_at is not None:
            self._conversion(converts_at, user, campaign_id, campaign)

    def _conversion(self, t: int, user: str, campaign_id: str, campaign: Campaign) -> None:
        if t >= self._end_ms:
            return
        rng = self.rng
        conversion_id = self._id("cnv")
        value = Decimal(rng.randrange(0, 50_000)) / 100 if rng.random() < 0.8 else None
        record = {
            "event_id": conversion_id,
            "event_time": self._when(t, rng.randrange(3)),
            "event_type": "conversion",
            "user_id": user,
            "campaign_id": campaign_id,
            "conversion_type": campaign.conversion_type,
            "conversion_value": None if value is None else str(value),
            "currency": "USD" if value is not None and rng.random() < 0.7 else None,
        }
        self._schedule(
            Fact("conversion", conversion_id, t, campaign_id, user, value=value or Decimal(0)),
            record,
        )

    def _bot_clicks(self, bot: str, t0: int) -> None:
        """A bot clicks recent impressions about five times a second."""
        for k in range(5):
            if self._recent_impressions:
                impression_id, campaign_id, shown = self.rng.choice(self._recent_impressions)
                at = t0 + k * 200 + self.rng.randrange(50)
                self._click(at, bot, campaign_id, impression_id, shown, None)

    # -- the arrival queue -----------------------------------------------------------------
    def _schedule(
        self, fact: Fact, record: dict, late_ok: Callable[[int], bool] | None = None
    ) -> bool:
        """Queue a record (and maybe a redelivery); whether it was made late. A record the
        late knob picks arrives late only if late_ok(its late arrival time) allows it."""
        anomalies, rng = self.config.anomalies, self.rng
        offset_s = (fact.event_ms - self.config.start_ms) / 1000
        source = SOURCE_OF[fact.kind]
        if any(s.source == source and s.contains(offset_s) for s in anomalies.silent):
            return False  # the source is down: this record never arrives
        reason = None
        if rng.random() < anomalies.malformed:
            reason, payload = self.malformed.make(source, record)
        else:
            payload = self._encode(source, record)
        arrival, late = fact.event_ms, False
        draw = rng.random()
        if draw < anomalies.late:
            # Far behind the watermark: the record's minute is surely closed on arrival.
            delayed = arrival + rng.randrange(120_000, 300_000)
            late = late_ok is None or late_ok(delayed)
            arrival = delayed if late else arrival
        elif draw < anomalies.late + anomalies.out_of_order:
            arrival += rng.randrange(200, 5_000)
        self._push(arrival, fact, payload, reason)
        if rng.random() < anomalies.duplicates:
            # A redelivery repeats its original byte for byte, malformed or not.
            self._push(arrival + rng.randrange(1_000, 60_000), fact, payload, reason)
        return late

    def _push(self, arrival: int, fact: Fact, payload: bytes, reason: str | None) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _Pending(arrival, self._seq, fact, payload, reason))

    def _release(self, until_ms: int | None) -> Iterator[Emitted]:
        queue, truth = self._queue, self.truth
        partitions = self.config.raw_partitions
        while queue and (until_ms is None or queue[0].arrival_ms < until_ms):
            item = heapq.heappop(queue)
            fact, source = item.fact, SOURCE_OF[item.fact.kind]
            partition = partition_for(fact.record_id, item.payload, partitions)
            if item.reason is None:
                truth.arrived(source, fact, item.arrival_ms, partition)
            else:
                # Its watermark moves by the time the job can read from it, if any.
                readable = event_time_ms(source, item.payload)
                truth.malformed(
                    source, item.reason, fact.record_id, item.payload, readable, partition
                )
            yield Emitted(
                source,
                fact.record_id,
                item.payload,
                fact.event_ms,
                item.arrival_ms,
                item.reason is not None,
                partition,
            )

    def _encode(self, source: str, record: dict) -> bytes:
        if source == "impressions":
            return encode_impression(record)
        if source == "clicks_conversions":
            return encode_click_row(record).encode()
        # Both framings of the contract, as different producers would send them.
        framing = "registry" if record["request_id"][-1] in "01234" else "plain"
        return encode_bid_request(record, framing=framing)
