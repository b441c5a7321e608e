"""What a correct pipeline must produce from a simulated run, under the contract's rules.

The simulator reports every record it emits, in arrival order, with what it knows of it
(valid or malformed and why); this module applies the contract's section 2 directly:
first-wins deduplication, lateness against a watermark that trails the highest event time
seen per source, click and last-click conversion attribution, and 1-minute campaign
metrics. It never parses payloads: it is an independent account of the same run.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from advertisex.ingest.config import SOURCES, SimulationConfig


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


OUTPUT_OF = {
    "impression": "impressions",
    "click": "clicks",
    "conversion": "conversions",
    "bid_request": "bid_requests",
}


class GroundTruth:
    def __init__(self, config: SimulationConfig):
        self.config = config
        self.received: Counter[str] = Counter()
        self.invalid: dict[str, Counter[str]] = defaultdict(Counter)
        self.duplicates: Counter[str] = Counter()
        self.late: Counter[str] = Counter()
        self.dead_letters: list[dict] = []
        self.valid: dict[str, list[Fact]] = defaultdict(list)  # by kind, arrival order
        self.late_ids: set[str] = set()
        self._first_seen: dict[str, int] = {}  # id -> event time of its first occurrence
        self._max_event: dict[str, int] = {}
        self.bot_users: list[str] = []

    # -- fed by the simulator, in arrival order ---------------------------------------
    def malformed(self, source: str, reason: str, key: str, payload: bytes) -> None:
        self.received[source] += 1
        self.invalid[source][reason] += 1
        text = (
            base64.b64encode(payload).decode()
            if source == "bid_requests"
            else payload.decode("utf-8", errors="replace")
        )
        self.dead_letters.append({"source": source, "reason": reason, "key": key, "payload": text})

    def arrived(self, source: str, fact: Fact) -> None:
        self.received[source] += 1
        first = self._first_seen.get(fact.record_id)
        if first is not None and abs(fact.event_ms - first) <= self.config.dedup_horizon_ms:
            self.duplicates[source] += 1
            return
        self._first_seen[fact.record_id] = fact.event_ms
        top = self._max_event.get(source, fact.event_ms)
        if fact.event_ms < top - self.config.out_of_orderness_ms:
            self.late[source] += 1
            self.late_ids.add(fact.record_id)
        self._max_event[source] = max(top, fact.event_ms)
        self.valid[fact.kind].append(fact)

    # -- derived -----------------------------------------------------------------------
    def _on_time(self, kind: str) -> list[Fact]:
        return [f for f in self.valid[kind] if f.record_id not in self.late_ids]

    def attributed_clicks(self) -> dict[str, str]:
        """click id -> impression id, for clicks inside their impression's window."""
        impressions = {f.record_id: f for f in self._on_time("impression")}
        result = {}
        for click in self._on_time("click"):
            imp = impressions.get(click.impression_id or "")
            if imp and imp.event_ms <= click.event_ms <= imp.event_ms + self.config.click_window_ms:
                result[click.record_id] = imp.record_id
        return result

    def attributed_conversions(self) -> dict[str, str]:
        """conversion id -> the latest click of the same user and campaign in the window."""
        clicks: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        for click in self._on_time("click"):
            clicks[(click.user_id, click.campaign_id)].append(click)
        times = {}
        for key, found in clicks.items():
            # Ties on event time go to the lexically greatest id: a stable, stated choice.
            found.sort(key=lambda f: (f.event_ms, f.record_id))
            times[key] = [f.event_ms for f in found]
        result = {}
        for conv in self._on_time("conversion"):
            key = (conv.user_id, conv.campaign_id)
            if key not in times:
                continue
            i = bisect.bisect_right(times[key], conv.event_ms) - 1
            if i >= 0 and conv.event_ms - times[key][i] <= self.config.conversion_window_ms:
                result[conv.record_id] = clicks[key][i].record_id
        return result

    def unattributed(
        self, clicks: dict[str, str] | None = None, convs: dict[str, str] | None = None
    ) -> dict[str, dict[str, int]]:
        """Per campaign: on-time valid clicks and conversions that matched nothing (the
        attributions may be passed in when the caller has them already)."""
        clicks = self.attributed_clicks() if clicks is None else clicks
        convs = self.attributed_conversions() if convs is None else convs
        result: dict[str, dict[str, int]] = defaultdict(lambda: {"clicks": 0, "conversions": 0})
        for f in self._on_time("click"):
            if f.record_id not in clicks:
                result[f.campaign_id]["clicks"] += 1
        for f in self._on_time("conversion"):
            if f.record_id not in convs:
                result[f.campaign_id]["conversions"] += 1
        return dict(sorted(result.items()))

    def campaign_metrics(self, attributed: dict[str, str] | None = None) -> list[dict]:
        """campaign_metrics_1m: per campaign and event-time minute, from on-time records."""
        rows: dict[tuple[str, int], dict] = {}

        def row(campaign: str, ms: int) -> dict:
            start = ms - ms % 60_000
            key = (campaign, start)
            if key not in rows:
                rows[key] = {
                    "campaign_id": campaign,
                    "window_start_ms": start,
                    "window_end_ms": start + 60_000,
                    "impressions": 0,
                    "clicks": 0,
                    "attributed_clicks": 0,
                    "conversions": 0,
                    "conversion_value": Decimal(0),
                    "spend_micros": 0,
                    "bids": 0,
                    "wins": 0,
                }
            return rows[key]

        for f in self._on_time("impression"):
            r = row(f.campaign_id, f.event_ms)
            r["impressions"] += 1
            r["spend_micros"] += f.cost_micros
        attributed = self.attributed_clicks() if attributed is None else attributed
        for f in self._on_time("click"):
            r = row(f.campaign_id, f.event_ms)
            r["clicks"] += 1
            r["attributed_clicks"] += f.record_id in attributed
        for f in self._on_time("conversion"):
            r = row(f.campaign_id, f.event_ms)
            r["conversions"] += 1
            r["conversion_value"] += f.value
        for f in self._on_time("bid_request"):
            if f.bid:
                r = row(f.campaign_id, f.event_ms)
                r["bids"] += 1
                r["wins"] += f.won
        out = []
        for key in sorted(rows):
            r = rows[key]
            r["conversion_value"] = str(r["conversion_value"])
            r["ctr"] = r["clicks"] / r["impressions"] if r["impressions"] else None
            r["cvr"] = r["conversions"] / r["clicks"] if r["clicks"] else None
            r["win_rate"] = r["wins"] / r["bids"] if r["bids"] else None
            out.append(r)
        return out

    def summary(self) -> dict:
        return {
            source: {
                "received": self.received[source],
                "valid": self.received[source]
                - sum(self.invalid[source].values())
                - self.duplicates[source],
                "invalid": dict(sorted(self.invalid[source].items())),
                "duplicates": self.duplicates[source],
                "late": self.late[source],
            }
            for source in SOURCES
        }

    def to_dict(self) -> dict:
        clicks, convs = self.attributed_clicks(), self.attributed_conversions()
        return {
            "config": json.loads(self.config.model_dump_json()),
            "sources": self.summary(),
            "ids": {OUTPUT_OF[k]: sorted(f.record_id for f in self.valid[k]) for k in OUTPUT_OF},
            "late_ids": sorted(self.late_ids),
            "dead_letters": self.dead_letters,
            "attributed_clicks": dict(sorted(clicks.items())),
            "attributed_conversions": dict(sorted(convs.items())),
            "unattributed": self.unattributed(clicks, convs),
            "campaign_metrics_1m": self.campaign_metrics(clicks),
            "bot_users": self.bot_users,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
