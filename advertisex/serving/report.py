"""`advertisex report`: campaign performance from Pinot, as plain data.

Pure parts (parsing the time range, deriving the ratios) sit beside `Broker`, which runs the
queries of `advertisex/serving/queries/` through pinotdb, and `build_report`, which puts
their answers together. Rendering is in `report_format`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pinotdb

from advertisex.contract.errors import ContractError
from advertisex.contract.timestamps import to_epoch_ms, to_iso
from advertisex.serving import templates
from advertisex.serving.pinot_broker import broker_connection

MINUTE_MS = 60_000
MAX_SERIES_MINUTES = 100_000  # one time series row per minute: about 69 days
# Pinot writes a null STRING as this default value (no null handling in 0.11 by default).
PINOT_NULL_STRING = "null"
GROUPINGS = ("campaign", "advertiser")

_RELATIVE = re.compile(r"(\d+)\s*(s|m|h|d|w)", re.ASCII)
_UNIT_MS = {"s": 1000, "m": MINUTE_MS, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
TIME_HELP = (
    "an ISO-8601 time (2026-11-29T09:00:00Z; without an offset it is UTC), epoch "
    "milliseconds (1795942800000), `now`, or a duration before now (90s, 15m, 1h, 2d, 1w)"
)


class ReportError(Exception):
    """Something the user can fix: a bad argument, a server down, a table missing."""


class BadArgument(ReportError):
    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.detail = message


# --- the time range ---------------------------------------------------------------------


def parse_instant(text: str, now_ms: int, option: str = "--from") -> int:
    """Epoch ms of one end of the range: ISO-8601, epoch ms, `now` or a duration ago."""
    value = text.strip()
    if not value:
        raise BadArgument(option, f"empty; give {TIME_HELP}")
    if value.lower() == "now":
        return now_ms
    relative = _RELATIVE.fullmatch(value)
    if relative:
        ms = now_ms - int(relative[1]) * _UNIT_MS[relative[2]]
        if ms < 0:
            raise BadArgument(option, f"{text!r} reaches back before 1970")
        return ms
    try:
        return to_epoch_ms(value)
    except ContractError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadArgument(option, f"{text!r} is not a time; give {TIME_HELP}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    ms = math.floor(parsed.timestamp() * 1000)
    if ms < 0:
        raise BadArgument(option, f"{text!r} is before 1970")
    return ms


@dataclass(frozen=True)
class TimeRange:
    """Whole minutes [from_ms, to_ms): the minutes of campaign_metrics_1m that it holds
    are exactly the events whose time it holds."""

    from_ms: int
    to_ms: int

    @property
    def minutes(self) -> int:
        return (self.to_ms - self.from_ms) // MINUTE_MS

    def as_dict(self) -> dict:
        return {
            "from": to_iso(self.from_ms),
            "to": to_iso(self.to_ms),
            "from_ms": self.from_ms,
            "to_ms": self.to_ms,
        }


def time_range(from_text: str, to_text: str, now_ms: int) -> TimeRange:
    """The range the user means, widened to whole minutes: `from` down, `to` up (so `--to
    now` takes in the current minute)."""
    start = parse_instant(from_text, now_ms, "--from")
    end = parse_instant(to_text, now_ms, "--to")
    if start >= end:
        raise BadArgument(
            "--from",
            f"{from_text!r} ({to_iso(start)}) is not before --to {to_text!r} ({to_iso(end)}); "
            "give an earlier --from or a later --to",
        )
    start -= start % MINUTE_MS
    end += -end % MINUTE_MS
    return TimeRange(start, end)


def check_campaign_id(value: str) -> str:
    campaign = value.strip()
    if not campaign or any(ord(c) < 32 for c in campaign):
        raise BadArgument("--campaign", f"{value!r} is not a campaign id (e.g. cmp-0001)")
    return campaign


def prefixed_tables(prefix: str) -> dict[str, str]:
    """Each table the queries read under its name with `prefix` before it, as
    `advertisex bootstrap --table-prefix` names them."""
    tables = {templates.load(name).table for name in templates.query_names()}
    named = {table: prefix + table for table in sorted(tables)}
    if not all(templates.is_identifier(actual) for actual in named.values()):
        raise BadArgument(
            "--table-prefix",
            f"{prefix!r}: letters, digits and _ only, not a digit first (e.g. test_)",
        )
    return named


def check_positive(option: str, value: int, example: int) -> int:
    if value < 1:
        raise BadArgument(option, f"{value} is not a positive number (e.g. {option} {example})")
    return value


# --- the metrics --------------------------------------------------------------------------

COUNTS = (
    "impressions",
    "clicks",
    "attributed_clicks",
    "unattributed_clicks",
    "conversions",
    "spend_micros",
    "bids",
    "wins",
)


def ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    """numerator / denominator * scale; None when the denominator is 0 (or missing)."""
    if not denominator:
        return None
    return numerator * scale / denominator


def derive_metrics(sums: Mapping[str, object]) -> dict:
    """A row of sums plus spend (currency units) and every ratio it supports.

    Counts become ints (Pinot answers SUM as a double); a ratio whose denominator is 0 is
    None. Keys absent from sums (a website has no bids) give no ratio that needs them.
    """
    row = dict(sums)
    for key in COUNTS:
        if key in row and row[key] is not None:
            row[key] = int(round(float(row[key])))
    if "conversion_value" in row and row["conversion_value"] is not None:
        row["conversion_value"] = float(row["conversion_value"])
    impressions = row.get("impressions", 0)
    clicks = row.get("clicks", 0)
    if "spend_micros" in row:
        row["spend"] = row["spend_micros"] / 1_000_000
        spend = row["spend"]
        row["cpm"] = ratio(spend, impressions, 1000)
        if "clicks" in row:
            row["cpc"] = ratio(spend, clicks)
        if "conversions" in row:
            row["cpa"] = ratio(spend, row["conversions"])
    if "clicks" in row:
        row["ctr"] = ratio(clicks, impressions)
    if "conversions" in row:
        row["cvr"] = ratio(row["conversions"], clicks)
    if "bids" in row:
        row["win_rate"] = ratio(row.get("wins", 0), row["bids"])
    return row


def pinot_string(value: object) -> object:
    """Pinot's stored default for a null string back to None."""
    return None if value == PINOT_NULL_STRING else value


# --- Pinot ----------------------------------------------------------------------------------

# Error codes of the broker's answer that mean "no such table" (Pinot 0.11:
# TABLE_DOES_NOT_EXIST 190, BROKER_RESOURCE_MISSING 410).
_MISSING_TABLE = re.compile(
    r"TableDoesNotExist|BrokerResourceMissing|'errorCode': (190|410)\b|does not exist"
)


class Broker:
    """Runs the report's query files on a Pinot broker with pinotdb."""

    def __init__(self, url: str, timeout: float = 30.0, tables: Mapping[str, str] | None = None):
        try:
            self.url, self._connection = broker_connection(url, timeout)
        except ValueError as exc:
            raise BadArgument("--broker", str(exc)) from None
        self.tables = dict(tables or {})

    def query(self, name: str, **values: object) -> list[dict]:
        """Rows of query file `name` with these parameter values, as dicts by column."""
        template = templates.load(name)
        sql = template.render(values, self.tables)
        table = self.tables.get(template.table, template.table)
        try:
            cursor = self._connection.cursor()
            cursor.execute(sql)
            rows = cursor.fetchall()
        except httpx.TimeoutException:
            raise ReportError(
                f"the Pinot broker at {self.url} did not answer the query {name} in time: "
                "is the Pinot server up (`advertisex stack status`)?"
            ) from None
        except httpx.TransportError as exc:
            raise ReportError(
                f"the Pinot broker at {self.url} is not reachable ({type(exc).__name__}): "
                "start it with `advertisex stack up pinot`, or point --broker at a running one"
            ) from None
        except pinotdb.exceptions.DatabaseError as exc:
            if _MISSING_TABLE.search(str(exc)):
                prefix = table.removesuffix(template.table) if table != template.table else ""
                command = "advertisex bootstrap" + (f" --table-prefix {prefix}" if prefix else "")
                raise ReportError(
                    f"Pinot at {self.url} has no table {table!r}: create the tables with "
                    f"`{command}`"
                ) from None
            raise ReportError(
                f"Pinot at {self.url} refused the query {name}: {exc}\n{sql}"
            ) from None
        columns = [d[0] for d in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- the report -----------------------------------------------------------------------------


@dataclass
class Report:
    range: TimeRange
    by: str
    rows: list[dict]
    limit: int
    top: int | None = None
    websites: list[dict] | None = None
    campaign: str | None = None
    series: list[dict] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return len(self.rows) >= self.limit


def performance_rows(broker: Broker, span: TimeRange, by: str, limit: int) -> list[dict]:
    name = {"campaign": "campaign_performance", "advertiser": "advertiser_performance"}[by]
    rows = broker.query(name, from_ms=span.from_ms, to_ms=span.to_ms, limit=limit)
    out = []
    for row in rows:
        for key in ("advertiser_id", "campaign_name"):
            if key in row:
                row[key] = pinot_string(row[key])
        if "campaigns" in row:
            row["campaigns"] = int(row["campaigns"])
        out.append(derive_metrics(row))
    return out


def time_series_rows(broker: Broker, span: TimeRange, campaign: str) -> list[dict]:
    if span.minutes > MAX_SERIES_MINUTES:
        raise BadArgument(
            "--campaign",
            f"a time series of {span.minutes:,} minutes is more than the "
            f"{MAX_SERIES_MINUTES:,} it can show: narrow --from/--to",
        )
    rows = broker.query(
        "campaign_time_series",
        campaign_id=campaign,
        from_ms=span.from_ms,
        to_ms=span.to_ms,
        limit=span.minutes,
    )
    out = []
    for row in rows:
        start = int(row.pop("window_start_ms"))
        out.append({"minute": to_iso(start), "window_start_ms": start, **derive_metrics(row)})
    return out


def website_rows(broker: Broker, span: TimeRange, top: int) -> list[dict]:
    """The top websites by impressions with spend, and their attributed clicks (a second
    query on attributed_clicks, merged here: Pinot 0.11 has no joins)."""
    rows = broker.query("top_websites", from_ms=span.from_ms, to_ms=span.to_ms, top=top)
    if not rows:
        return []
    sites = [row["website"] for row in rows]
    clicks = broker.query(
        "website_clicks",
        from_ms=span.from_ms,
        to_ms=span.to_ms,
        websites=sites,
        limit=len(sites),
    )
    clicks_by_site = {row["website"]: row["clicks"] for row in clicks}
    return [
        derive_metrics({**row, "clicks": clicks_by_site.get(row["website"], 0)}) for row in rows
    ]


def build_report(
    broker: Broker,
    span: TimeRange,
    by: str = "campaign",
    *,
    limit: int = 1000,
    top: int | None = None,
    campaign: str | None = None,
) -> Report:
    if by not in GROUPINGS:
        raise BadArgument("--by", f"{by!r} is not one of {', '.join(GROUPINGS)}")
    report = Report(span, by, performance_rows(broker, span, by, limit), limit, top=top)
    if report.truncated:
        report.notes.append(
            f"only the first {limit:,} {by}s by spend are shown: raise --limit to see more"
        )
    if top:
        report.websites = website_rows(broker, span, top)
    if campaign is not None:
        report.campaign = campaign
        report.series = time_series_rows(broker, span, campaign)
    return report


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
