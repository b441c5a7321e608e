"""A `Report` as a rich table, CSV or JSON.

Table cells are rounded for reading (percentages, money); CSV and JSON carry the full
values: counts as integers, spend in currency units and in micros, ratios as fractions,
and a ratio without a denominator as an empty cell (CSV) or null (JSON).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, Group
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from advertisex.contract.timestamps import to_iso
from advertisex.serving.report import Report

FORMATS = ("table", "csv", "json")

_SUMS = (
    "impressions",
    "clicks",
    "attributed_clicks",
    "unattributed_clicks",
    "conversions",
    "conversion_value",
    "spend_micros",
    "spend",
    "bids",
    "wins",
)
_RATIOS = ("ctr", "cvr", "cpm", "cpc", "cpa", "win_rate")
FIELDS = {
    "campaigns": ("campaign_id", "advertiser_id", "campaign_name", *_SUMS, *_RATIOS),
    "advertisers": ("advertiser_id", "campaigns", *_SUMS, *_RATIOS),
    "top_websites": (
        "website",
        "impressions",
        "clicks",
        "spend_micros",
        "spend",
        "ctr",
        "cpm",
        "cpc",
    ),
    "time_series": ("minute", "window_start_ms", *_SUMS, *_RATIOS),
}


def count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


def money(value: float | None) -> str:
    """2 decimals; 4 below one unit, where cents would hide the difference."""
    if value is None:
        return ""
    return f"{value:,.2f}" if value == 0 or abs(value) >= 1 else f"{value:.4f}"


def text(value: object) -> str:
    return "" if value is None else str(value)


def minute(value: str) -> str:
    """`2026-11-29T09:05:00.000Z` as `2026-11-29 09:05`."""
    return value[:16].replace("T", " ")


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    show: Callable[[object], str]
    numeric: bool = True


_PERFORMANCE = (
    Column("impressions", "impressions", count),
    Column("clicks", "clicks", count),
    Column("conversions", "conversions", count),
    Column("spend", "spend", money),
    Column("CTR", "ctr", percent),
    Column("CVR", "cvr", percent),
    Column("CPM", "cpm", money),
    Column("CPC", "cpc", money),
    Column("CPA", "cpa", money),
    Column("win rate", "win_rate", percent),
)
COLUMNS = {
    "campaigns": (
        Column("campaign", "campaign_id", text, False),
        Column("advertiser", "advertiser_id", text, False),
        Column("name", "campaign_name", text, False),
        *_PERFORMANCE,
    ),
    "advertisers": (
        Column("advertiser", "advertiser_id", text, False),
        Column("campaigns", "campaigns", count),
        *_PERFORMANCE,
    ),
    "top_websites": (
        Column("website", "website", text, False),
        Column("impressions", "impressions", count),
        Column("clicks", "clicks", count),
        Column("spend", "spend", money),
        Column("CTR", "ctr", percent),
        Column("CPM", "cpm", money),
        Column("CPC", "cpc", money),
    ),
    "time_series": (Column("minute (UTC)", "minute", minute, False), *_PERFORMANCE),
}


def sections(report: Report) -> list[tuple[str, str, list[dict]]]:
    """(name, title, rows) of each part the report has, in order."""
    span = f"{minute(to_iso(report.range.from_ms))} to {minute(to_iso(report.range.to_ms))}"
    parts = [(f"{report.by}s", f"Performance per {report.by}, {span} UTC", report.rows)]
    if report.websites is not None:
        parts.append(("top_websites", f"Top {report.top} websites, {span} UTC", report.websites))
    if report.campaign is not None:
        parts.append(
            ("time_series", f"Campaign {report.campaign} per minute, {span} UTC", report.series)
        )
    return parts


def print_table(report: Report, console: Console | None = None) -> None:
    """The tables at their natural width, wider than the terminal if they must be: ids and
    names stay whole and copyable, as the terminal wraps the long lines."""
    console = console or Console()
    tables = to_table(report)
    wide = console.options.update(max_width=10_000)
    needed = Measurement.get(console, wide, tables).maximum
    if needed > console.width:
        console = Console(width=needed, file=console.file)
    console.print(tables)


def to_table(report: Report) -> Group:
    tables = []
    for name, title, rows in sections(report):
        table = Table(title=escape(title), title_justify="left")
        for col in COLUMNS[name]:
            table.add_column(col.header, justify="right" if col.numeric else "left")
        for row in rows:
            table.add_row(*(escape(col.show(row.get(col.key))) for col in COLUMNS[name]))
        if not rows:
            table.caption = "no rows in this range"
        tables.append(table)
    return Group(*tables)


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def to_csv(report: Report) -> str:
    """One CSV table per section; with several sections each starts with a `# name` line
    and a blank line separates them, so the default report is plain CSV."""
    parts = sections(report)
    out = io.StringIO()
    for i, (name, _title, rows) in enumerate(parts):
        if len(parts) > 1:
            if i:
                out.write("\n")
            out.write(f"# {name}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS[name])
        for row in rows:
            writer.writerow([_csv_value(row.get(key)) for key in FIELDS[name]])
    return out.getvalue()


def to_json(report: Report) -> str:
    data = report.range.as_dict() | {"by": report.by}
    for name, _title, rows in sections(report):
        picked = [{key: row.get(key) for key in FIELDS[name]} for row in rows]
        if name == "time_series":
            data["campaign"] = {"campaign_id": report.campaign, "time_series": picked}
        else:
            data[name] = picked
    return json.dumps(data, indent=2, allow_nan=False)
