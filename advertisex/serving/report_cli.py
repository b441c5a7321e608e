"""`advertisex report`: campaign performance from Pinot as a table, CSV or JSON."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from advertisex.serving.report import (
    GROUPINGS,
    TIME_HELP,
    BadArgument,
    Broker,
    ReportError,
    build_report,
    check_campaign_id,
    check_positive,
    now_ms,
    prefixed_tables,
    time_range,
)
from advertisex.serving.report_format import FORMATS, print_table, to_csv, to_json
from advertisex.stack.config import StackConfig


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False
    )
    return typer.Exit(1)


def report(
    from_: Annotated[
        str, typer.Option("--from", help=f"start of the range: {TIME_HELP}", show_default=True)
    ] = "1h",
    to: Annotated[str, typer.Option("--to", help="end of the range, in the same forms")] = "now",
    by: Annotated[str, typer.Option(help=f"one row per {' or '.join(GROUPINGS)}")] = "campaign",
    campaign: Annotated[
        str | None,
        typer.Option(help="also show this campaign's time series, minute by minute"),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(help="also show the N websites with the most impressions"),
    ] = None,
    limit: Annotated[
        int, typer.Option(help="at most this many campaigns or advertisers (by spend)")
    ] = 1000,
    format_: Annotated[
        str, typer.Option("--format", help=f"output: {', '.join(FORMATS)}")
    ] = "table",
    broker: Annotated[
        str | None, typer.Option(help="the Pinot broker URL; default: the local stack's")
    ] = None,
    table_prefix: Annotated[
        str, typer.Option(help="before every table name, as in `advertisex bootstrap`")
    ] = "",
) -> None:
    """Campaign performance from Pinot: impressions, clicks, conversions, spend, CTR, CVR,
    CPM, CPC, CPA and win rate per campaign or advertiser over a time range (whole UTC
    minutes), with the top websites and one campaign's time series on request. The queries
    are docs/queries/*.sql."""
    try:
        if by not in GROUPINGS:
            raise BadArgument("--by", f"{by!r} is not one of: {', '.join(GROUPINGS)}")
        if format_ not in FORMATS:
            raise BadArgument("--format", f"{format_!r} is not one of: {', '.join(FORMATS)}")
        span = time_range(from_, to, now_ms())
        campaign_id = None if campaign is None else check_campaign_id(campaign)
        if top is not None:
            check_positive("--top", top, 10)
        check_positive("--limit", limit, 1000)
        tables = prefixed_tables(table_prefix)
        pinot = Broker(broker or StackConfig().pinot_broker_url, tables=tables)
    except BadArgument as exc:
        raise typer.BadParameter(exc.detail, param_hint=f"'{exc.option}'") from None
    try:
        with pinot:
            result = build_report(pinot, span, by, limit=limit, top=top, campaign=campaign_id)
    except BadArgument as exc:
        raise typer.BadParameter(exc.detail, param_hint=f"'{exc.option}'") from None
    except ReportError as exc:
        raise _fail(str(exc)) from None
    for note in result.notes:
        Console(stderr=True, soft_wrap=True).print(f"note: {escape(note)}", highlight=False)
    if format_ == "table":
        print_table(result)
    elif format_ == "csv":
        sys.stdout.write(to_csv(result))
    else:
        sys.stdout.write(to_json(result) + "\n")
