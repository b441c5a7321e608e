"""What a correct pipeline must produce from a simulated run, under the contract's rules as
the Flink job applies them.

The simulator reports every message it emits, in arrival order, with what it knows of it
(valid or malformed and why, its event time, when it arrived); this module applies the
contract's section 2 directly and never parses a payload: it is an independent account of
the same run.

- Watermarks: the job reads each message's event time from its payload (contract 2.5),
  malformed and duplicate ones too where it can be read (advertisex.contract.event_time:
  the one place this module looks into a payload). Lateness is judged per partition, as
  the contract and the job do it: a first-seen valid record is late when its event time is
  below the highest event time that arrived before it in its raw partition, less the
  allowed out-of-orderness (the simulator tells each message's partition:
  ingest.topics.partition_for). For the joins, a record's W is the same over its whole
  source: the highest event time of its source before it, less the out-of-orderness.
- Late records keep their record outputs and take part in the joins, but count in no
  per-minute window of campaign_metrics_1m.
- Joins are Flink's interval joins: a record stays in join state until the watermark
  passes the latest event time a partner of it could have (an impression: its time + the
  click window; a click in the click join: its own time; a click in the conversion join:
  its time + the conversion window; a conversion: its own time). Two records with the
  time condition join unless the later one to arrive finds the earlier one expired, judged
  by the later one's own W (the real join watermark is never higher than W).
- ambiguities() lists the decisions a real run may take either way: "expired" with W less
  than 30 s past the expiry (the real join watermark is never above W, but may lag it), or
  a late record whose partner's state expires (or, when the partner comes later, whose own
  state expires) before the late record's arrival + 30 s: there the outcome depends on how
  Kafka partitions and the two join inputs interleave. Test data should have none.
"""

from __future__ import annotations

import base64
import copy
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from advertisex.contract.invalid_traffic import (
    ClickFacts,
    IvtRules,
    Judgement,
    judge_clicks,
    judge_conversion,
    judge_impression,
)
from advertisex.contract.timestamps import to_iso
from advertisex.ingest.config import SOURCES, SimulationConfig

MARGIN_MS = 30_000  # how far a watermark may be from an edge before a decision is ambiguous

# campaign_metrics_1m's count columns, which the pipeline's outputs are compared on.
CAMPAIGN_COUNTS = (
    "impressions",
    "clicks",
    "attributed_clicks",
    "unattributed_clicks",
    "conversions",
    "unattributed_conversions",
    "spend_micros",
    "bids",
    "wins",
)


@dataclass(frozen=True, slots=True)
class Fact:
    """What the truth needs of one valid record."""

    kind: str  # impression | click | conversion | bid_request
    record_id: str
    event_ms: int
    campaign_id: str | None = None
    user_id: str | None = None
    impression_id: str | None = None  # clicks
    cost_micros: int = 0  # impressions
    value: Decimal = Decimal(0)  # conversions
    bid: bool = False  # bid requests we bid on
    won: bool = False
    user_agent: str | None = None  # impressions


@dataclass(frozen=True, slots=True)
class Arrival:
    """A first-seen valid record as it arrived."""

    fact: Fact
    seq: int  # arrival order over all sources
    arrival_ms: int
    watermark: int | None  # W: its source's highest timestamp before it - out-of-orderness
    late: bool

    def __str__(self) -> str:
        return f"{'late ' if self.late else ''}{self.fact.kind} {self.fact.record_id}"


@dataclass(frozen=True, slots=True)
class Attribution:
    clicks: dict[str, str]  # click id -> impression id
    conversions: dict[str, str]  # conversion id -> click id
    ambiguities: list[str]


OUTPUT_OF = {
    "impression": "impressions",
    "click": "clicks",
    "conversion": "conversions",
    "bid_request": "bid_requests",
}
ENRICHMENT = {  # campaign_metrics_1m field -> campaign dimension field
    "advertiser_id": "advertiser_id",
    "campaign_name": "name",
    "campaign_status": "status",
    "campaign_daily_budget_micros": "daily_budget_micros",
}


def _at(ms: int) -> str:
    return to_iso(ms)


class GroundTruth:
    def __init__(self, config: SimulationConfig):
        self.config = config
        self.received: Counter[str] = Counter()
        self.invalid: dict[str, Counter[str]] = defaultdict(Counter)
        self.duplicates: Counter[str] = Counter()
        self.late: Counter[str] = Counter()
        self.dead_letters: list[dict] = []
        self.valid: dict[str, list[Fact]] = defaultdict(list)  # by kind, arrival order
        self.arrivals: dict[str, list[Arrival]] = defaultdict(list)  # the same, as arrived
        self.late_ids: set[str] = set()
        self.bot_users: list[str] = []
        self.campaigns: dict[str, dict] = {}  # the campaign dimension, by campaign id
        self._first_seen: dict[str, int] = {}  # id -> event time of its first occurrence
        # The highest event time read so far, per source and per (source, partition).
        self._max_event: dict[str | tuple[str, int], int] = {}
        self._seq = 0

    # -- fed by the simulator, in arrival order ---------------------------------------
    def _saw(self, source: str, partition: int, event_ms: int) -> tuple[int | None, int | None]:
        """The watermarks before this message, of its partition (lateness) and of its
        source (the joins' W); then the message moves both."""
        marks = []
        for where in ((source, partition), source):
            top = self._max_event.get(where)
            self._max_event[where] = event_ms if top is None else max(top, event_ms)
            marks.append(None if top is None else top - self.config.out_of_orderness_ms)
        return marks[0], marks[1]

    def malformed(
        self,
        source: str,
        reason: str,
        key: str,
        payload: bytes,
        event_ms: int | None = None,
        partition: int = 0,
    ) -> None:
        """A rejected message; event_ms is the event time the job reads from it, if any,
        which moves the watermark of its partition."""
        self.received[source] += 1
        self.invalid[source][reason] += 1
        if event_ms is not None:
            self._saw(source, partition, event_ms)
        text = (
            base64.b64encode(payload).decode()
            if source == "bid_requests"
            else payload.decode("utf-8", errors="replace")
        )
        self.dead_letters.append({"source": source, "reason": reason, "key": key, "payload": text})

    def arrived(self, source: str, fact: Fact, arrival_ms: int, partition: int = 0) -> None:
        self.received[source] += 1
        behind, watermark = self._saw(source, partition, fact.event_ms)
        first = self._first_seen.get(fact.record_id)
        if first is not None and abs(fact.event_ms - first) <= self.config.dedup_horizon_ms:
            self.duplicates[source] += 1
            return
        self._first_seen[fact.record_id] = fact.event_ms
        late = behind is not None and fact.event_ms < behind
        if late:
            self.late[source] += 1
            self.late_ids.add(fact.record_id)
        self._seq += 1
        self.valid[fact.kind].append(fact)
        self.arrivals[fact.kind].append(Arrival(fact, self._seq, arrival_ms, watermark, late))

    def complete(self) -> GroundTruth:
        """The truth of a run that knows its whole input (batch, or a stream fed within the
        allowed out-of-orderness: contract 2.5): the same records, none late, every join
        and window complete."""
        done = copy.copy(self)
        done.late, done.late_ids = Counter(), set()
        done.arrivals = defaultdict(list)
        for kind, arrivals in self.arrivals.items():
            done.arrivals[kind] = [replace(a, watermark=None, late=False) for a in arrivals]
        return done

    # -- derived -----------------------------------------------------------------------
    @staticmethod
    def _joins(a: Arrival, b: Arrival, bound_a: int, bound_b: int, notes: list[str]) -> bool:
        """Whether partners a and b (the time condition holds) meet in join state; bound_x
        is the latest event time a partner of x may have: x's state expires when the
        watermark passes it. Decisions a real run may take either way go to notes."""
        first, second = (a, b) if a.seq < b.seq else (b, a)
        bound_first = bound_a if first is a else bound_b
        w = second.watermark
        # The real join watermark is never above W (it is a minimum over partitions and
        # both inputs, and trails the records read): "they meet" cannot flip at its edge,
        # "expired" can, when the real watermark lags W by more than W - edge.
        if w is not None and 0 < w - bound_first < MARGIN_MS:
            notes.append(
                f"{second} arrived with watermark {_at(w)}, {(w - bound_first) / 1000:.1f} s "
                f"past the expiry of {first} at {_at(bound_first)}"
            )
        for late, other, own, theirs in ((a, b, bound_a, bound_b), (b, a, bound_b, bound_a)):
            if not late.late:
                continue
            if theirs < late.arrival_ms + MARGIN_MS:
                notes.append(
                    f"{late} arrived at {_at(late.arrival_ms)}; {other} leaves join state "
                    f"at {_at(theirs)}, before that arrival + 30 s"
                )
            elif other.seq > late.seq and own < late.arrival_ms + MARGIN_MS:
                notes.append(
                    f"{late} arrived at {_at(late.arrival_ms)} and leaves join state at "
                    f"{_at(own)}, before that arrival + 30 s; {other} came after it"
                )
        return w is None or w <= bound_first

    def attribution(self) -> Attribution:
        """Click and last-click conversion attribution as Flink's interval joins do them."""
        cfg, notes = self.config, []
        impressions = {a.fact.record_id: a for a in self.arrivals["impression"]}
        clicks: dict[str, str] = {}
        for c in self.arrivals["click"]:
            i = impressions.get(c.fact.impression_id or "")
            if i is None:
                continue
            t_imp, t_click = i.fact.event_ms, c.fact.event_ms
            if t_imp <= t_click <= t_imp + cfg.click_window_ms and self._joins(
                i, c, t_imp + cfg.click_window_ms, t_click, notes
            ):
                clicks[c.fact.record_id] = i.fact.record_id
        by_user: dict[tuple, list[Arrival]] = defaultdict(list)
        for c in self.arrivals["click"]:
            by_user[(c.fact.user_id, c.fact.campaign_id)].append(c)
        conversions: dict[str, str] = {}
        for x in self.arrivals["conversion"]:
            best = None
            t_conv = x.fact.event_ms
            for c in by_user.get((x.fact.user_id, x.fact.campaign_id), ()):
                t_click = c.fact.event_ms
                if not t_click <= t_conv <= t_click + cfg.conversion_window_ms:
                    continue
                if self._joins(x, c, t_conv, t_click + cfg.conversion_window_ms, notes):
                    # Ties on event time go to the lexically greatest id: a stable choice.
                    if best is None or (t_click, c.fact.record_id) > (
                        best.fact.event_ms,
                        best.fact.record_id,
                    ):
                        best = c
            if best is not None:
                conversions[x.fact.record_id] = best.fact.record_id
        return Attribution(clicks, conversions, notes)

    def attributed_clicks(self) -> dict[str, str]:
        """click id -> impression id."""
        return self.attribution().clicks

    def attributed_conversions(self) -> dict[str, str]:
        """conversion id -> the latest click of the same user and campaign it joined."""
        return self.attribution().conversions

    def ambiguities(self) -> list[str]:
        """Join decisions a real run may take either way (see the module's docstring)."""
        return self.attribution().ambiguities

    def _unattributed(self, found: Attribution) -> list[Fact]:
        """First-seen valid clicks and conversions, late or not, that matched nothing."""
        return [a.fact for a in self.arrivals["click"] if a.fact.record_id not in found.clicks] + [
            a.fact for a in self.arrivals["conversion"] if a.fact.record_id not in found.conversions
        ]

    def unattributed(self, found: Attribution | None = None) -> dict[str, dict[str, int]]:
        """Per campaign: valid clicks and conversions, late or not, that matched nothing."""
        found = self.attribution() if found is None else found
        result: dict[str, dict[str, int]] = defaultdict(lambda: {"clicks": 0, "conversions": 0})
        for f in self._unattributed(found):
            result[f.campaign_id][f"{f.kind}s"] += 1
        return dict(sorted(result.items()))

    def invalid_traffic(
        self, found: Attribution | None = None, rules: IvtRules | None = None
    ) -> dict[str, Judgement]:
        """Contract 2.6: the judgement of every first-seen valid impression, click and
        conversion, late or not, by record id (advertisex.contract.invalid_traffic). Over
        the whole run: who clicked an impression second, or a user's 11th click in a
        minute, depends on which clicks exist, not on when they arrived."""
        found = self.attribution() if found is None else found
        judged: dict[str, Judgement] = {}
        impressions: dict[str, Fact] = {}
        for f in self.valid["impression"]:
            judged[f.record_id] = judge_impression(f.user_agent)
            impressions[f.record_id] = f
        clicks = []
        for f in self.valid["click"]:
            shown = impressions.get(found.clicks.get(f.record_id, ""))
            clicks.append(
                ClickFacts(
                    f.record_id,
                    f.event_ms,
                    f.user_id or "",
                    f.impression_id,
                    shown and shown.event_ms,
                    shown and judged[shown.record_id],
                )
            )
        judged |= judge_clicks(clicks, rules)
        for f in self.valid["conversion"]:
            click = found.conversions.get(f.record_id)
            judged[f.record_id] = judge_conversion(click and judged[click])
        return judged

    def campaign_metrics(self, found: Attribution | None = None) -> list[dict]:
        """campaign_metrics_1m: per campaign and event-time minute, from first-seen valid
        records that were not late, enriched from the campaign dimension."""
        found = self.attribution() if found is None else found
        counts = CAMPAIGN_COUNTS
        rows: dict[tuple[str, int], dict] = {}

        def row(fact: Fact) -> dict:
            start = fact.event_ms - fact.event_ms % 60_000
            key = (fact.campaign_id, start)
            if key not in rows:
                rows[key] = dict.fromkeys(counts, 0) | {"conversion_value": Decimal(0)}
            return rows[key]

        def on_time(kind: str) -> list[Fact]:
            return [a.fact for a in self.arrivals[kind] if not a.late]

        for f in on_time("impression"):
            r = row(f)
            r["impressions"] += 1
            r["spend_micros"] += f.cost_micros
        for f in on_time("click"):
            r = row(f)
            r["clicks"] += 1
            attributed = f.record_id in found.clicks
            r["attributed_clicks"] += attributed
            r["unattributed_clicks"] += not attributed
        for f in on_time("conversion"):
            r = row(f)
            r["conversions"] += 1
            r["unattributed_conversions"] += f.record_id not in found.conversions
            r["conversion_value"] += f.value
        for f in on_time("bid_request"):
            if f.bid and f.campaign_id is not None:  # else dq_metrics counts it (2.7)
                r = row(f)
                r["bids"] += 1
                r["wins"] += f.won
        out = []
        for (campaign, start), r in sorted(rows.items()):
            if not any(r[name] for name in counts):
                continue
            dim = self.campaigns.get(campaign)
            out.append(
                {
                    "campaign_id": campaign,
                    "window_start_ms": start,
                    "window_end_ms": start + 60_000,
                    "impressions": r["impressions"],
                    "clicks": r["clicks"],
                    "attributed_clicks": r["attributed_clicks"],
                    "unattributed_clicks": r["unattributed_clicks"],
                    "conversions": r["conversions"],
                    "unattributed_conversions": r["unattributed_conversions"],
                    "conversion_value": str(r["conversion_value"]),
                    "spend_micros": r["spend_micros"],
                    "bids": r["bids"],
                    "wins": r["wins"],
                    "ctr": r["clicks"] / r["impressions"] if r["impressions"] else None,
                    "cvr": r["conversions"] / r["clicks"] if r["clicks"] else None,
                    "win_rate": r["wins"] / r["bids"] if r["bids"] else None,
                    **{k: dim[v] if dim else None for k, v in ENRICHMENT.items()},
                    "campaign_known": dim is not None,
                }
            )
        return out

    def summary(self, found: Attribution | None = None) -> dict:
        """Per source, what dq_metrics must add up to over the whole run."""
        found = self.attribution() if found is None else found
        unattributed = len(self._unattributed(found))
        return {
            source: {
                "received": self.received[source],
                "valid": self.received[source]
                - sum(self.invalid[source].values())
                - self.duplicates[source],
                "invalid": dict(sorted(self.invalid[source].items())),
                "duplicates": self.duplicates[source],
                "late": self.late[source],
                "unattributed": {
                    "clicks_conversions": unattributed,
                    "bid_requests": self._bids_without_campaign(),
                }.get(source, 0),
            }
            for source in SOURCES
        }

    def _bids_without_campaign(self) -> int:
        """First-seen bids, late or not, whose outcome names no campaign (contract 2.7)."""
        return sum(1 for a in self.arrivals["bid_request"] if a.fact.bid and not a.fact.campaign_id)

    def to_dict(self) -> dict:
        found = self.attribution()
        return {
            "config": json.loads(self.config.model_dump_json()),
            "sources": self.summary(found),
            "ids": {OUTPUT_OF[k]: sorted(f.record_id for f in self.valid[k]) for k in OUTPUT_OF},
            "late_ids": sorted(self.late_ids),
            "dead_letters": self.dead_letters,
            "attributed_clicks": dict(sorted(found.clicks.items())),
            "attributed_conversions": dict(sorted(found.conversions.items())),
            "unattributed": self.unattributed(found),
            "campaign_metrics_1m": self.campaign_metrics(found),
            # Contract 2.6: the reason of each record judged invalid, by output; any record
            # of impressions, clicks or conversions not named here is valid.
            "invalid_traffic": self._invalid_by_output(found),
            "bot_users": self.bot_users,
            "ambiguities": found.ambiguities,
        }

    def _invalid_by_output(self, found: Attribution) -> dict[str, dict[str, str]]:
        judged = self.invalid_traffic(found)
        return {
            OUTPUT_OF[kind]: {
                f.record_id: judged[f.record_id].reason
                for f in sorted(self.valid[kind], key=lambda f: f.record_id)
                if not judged[f.record_id].valid
            }
            for kind in ("impression", "click", "conversion")
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
