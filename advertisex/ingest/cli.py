"""`advertisex simulate` and `advertisex ingest`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from advertisex.contract.errors import ContractError
from advertisex.contract.timestamps import to_epoch_ms
from advertisex.ingest.config import Anomalies, RateChange, Silence, SimulationConfig
from advertisex.ingest.pacing import paced
from advertisex.ingest.replay import ReplayError, replay
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import FileSink, KafkaSink
from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.stack.config import StackConfig

console = Console(stderr=True, soft_wrap=True)  # messages are not cut at 80 columns


def _silence(text: str) -> Silence:
    try:
        source, span = text.split(":", 1)
        start, end = span.split("-", 1)
        return Silence(source=source, start_s=float(start), end_s=float(end))
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r}: expected SOURCE:START-END in seconds from the start, e.g. "
            f"clicks_conversions:120-180 (sources: impressions, clicks_conversions, "
            f"bid_requests). {exc}"
        ) from None


def _rate_change(text: str) -> RateChange:
    try:
        span, factor = text.split(":", 1)
        start, end = span.split("-", 1)
        return RateChange(start_s=float(start), end_s=float(end), factor=float(factor))
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r}: expected START-END:FACTOR, e.g. 300-330:3 (a spike) or 300-330:0.2 "
            f"(a drop). {exc}"
        ) from None


def _bootstrap(value: str | None) -> str:
    return value or StackConfig().kafka_bootstrap


def _kafka_unreachable(bootstrap: str) -> typer.Exit:
    console.print(
        f"[bold red]error:[/] Kafka at {bootstrap} is not reachable: start it with "
        "`advertisex stack up kafka`, or pass --bootstrap HOST:PORT."
    )
    return typer.Exit(1)


def simulate(
    to: Annotated[str, typer.Option(help="kafka, or files (the batch input folder)")] = "kafka",
    out: Annotated[Path | None, typer.Option(help="folder for --to files")] = None,
    seed: Annotated[int, typer.Option(help="the same seed gives the same output")] = 42,
    market_seed: Annotated[
        int | None,
        typer.Option(
            help="seed of the campaigns and websites alone; runs sharing it are one world"
        ),
    ] = None,
    duration: Annotated[float, typer.Option(help="simulated seconds of traffic")] = 600.0,
    start: Annotated[
        str | None,
        typer.Option(
            help="event time of the first second: ISO-8601 with offset or epoch ms; default now"
        ),
    ] = None,
    bid_rate: Annotated[float, typer.Option(help="bid requests/s at the daily mean")] = 100.0,
    flat_rate: Annotated[
        bool, typer.Option("--flat-rate", help="keep the rate at --bid-rate at every hour")
    ] = False,
    rate: Annotated[
        float | None, typer.Option(help="messages/s sent to Kafka; default as fast as possible")
    ] = None,
    count: Annotated[int | None, typer.Option(help="stop after this many messages")] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            help="send on the simulated clock: 1 = live (a simulated second per second), "
            "6 = a simulated minute in 10 s; default as fast as possible",
            min=0.001,
        ),
    ] = None,
    truth: Annotated[Path | None, typer.Option(help="write the ground truth (JSON) here")] = None,
    all_anomalies: Annotated[
        bool, typer.Option("--all-anomalies", help="turn every knob on")
    ] = False,
    duplicates: Annotated[float, typer.Option(help="share of records redelivered")] = 0.0,
    malformed: Annotated[float, typer.Option(help="share of records malformed")] = 0.0,
    out_of_order: Annotated[float, typer.Option(help="share arriving 0.2-5 s late")] = 0.0,
    late: Annotated[float, typer.Option(help="share arriving 120-300 s late")] = 0.0,
    bots: Annotated[int, typer.Option(help="bot users clicking ~5 times/s")] = 0,
    crawlers: Annotated[
        float, typer.Option(help="share of impressions rendered to a known crawler")
    ] = 0.0,
    unknown_campaigns: Annotated[
        float, typer.Option(help="share of impressions of a campaign missing from the dimension")
    ] = 0.0,
    silent: Annotated[list[str] | None, typer.Option(help="SOURCE:START-END, repeatable")] = None,
    rate_change: Annotated[
        list[str] | None, typer.Option(help="START-END:FACTOR, repeatable")
    ] = None,
    bootstrap: Annotated[str | None, typer.Option(help="Kafka; default the local stack's")] = None,
) -> None:
    """Simulate AdvertiseX's traffic (bid requests, impressions, clicks, conversions)."""
    if to not in ("kafka", "files"):
        raise typer.BadParameter(f"--to {to!r}: choose kafka or files")
    if to == "files" and out is None:
        raise typer.BadParameter("--to files needs --out FOLDER")
    try:
        start_ms = (
            to_epoch_ms(int(start) if start and start.isdigit() else start) if start else None
        )
    except ContractError as exc:
        raise typer.BadParameter(f"--start {start!r}: {exc.detail}") from None
    try:
        if all_anomalies:
            anomalies = Anomalies.everything(duration)
        else:
            anomalies = Anomalies(
                duplicates=duplicates,
                malformed=malformed,
                out_of_order=out_of_order,
                late=late,
                bots=bots,
                crawlers=crawlers,
                unknown_campaigns=unknown_campaigns,
                silent=[_silence(s) for s in silent or []],
                rate_changes=[_rate_change(r) for r in rate_change or []],
            )
        config = SimulationConfig(
            seed=seed,
            market_seed=market_seed,
            duration_s=duration,
            bid_rate=bid_rate,
            diurnal=not flat_rate,
            anomalies=anomalies,
            **({"start_ms": start_ms} if start_ms else {}),
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}"
            for e in exc.errors()
        )
        raise typer.BadParameter(problems) from None
    sim = Simulator(config)
    if to == "kafka":
        servers = _bootstrap(bootstrap)
        try:
            ensure_topics(servers, raw_topic_specs(config.raw_partitions))
            sink = KafkaSink(servers, rate=rate)
        except KafkaError:
            raise _kafka_unreachable(servers) from None
    else:
        sink = FileSink(out)
    began = time.monotonic()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"simulating to {to}", total=duration, info="")
        sink.write_campaigns(sim.campaigns())
        events = sim.events()
        if speed:
            events = paced(events, config.start_ms, speed)
        for message in events:
            sink.write(message)
            if sink.sent % 2000 == 0:
                elapsed = time.monotonic() - began
                progress.update(
                    task,
                    completed=min(duration, (message.arrival_ms - config.start_ms) / 1000),
                    info=f"{sink.sent:,} messages, {sink.sent / elapsed:,.0f}/s",
                )
            if count and sink.sent >= count:
                break
        sink.close()
        progress.update(task, completed=duration, info=f"{sink.sent:,} messages")
    elapsed = time.monotonic() - began
    if truth:
        sim.truth.write(truth)
    _summary(sim.truth.summary(), sink.sent, sink.bytes, elapsed, truth)


def _summary(summary: dict, sent: int, size: int, elapsed: float, truth: Path | None) -> None:
    table = Table(title="simulated traffic")
    for col in ("source", "received", "valid", "invalid", "duplicates", "late"):
        table.add_column(col, justify="right" if col != "source" else "left")
    for source, row in summary.items():
        table.add_row(
            source,
            f"{row['received']:,}",
            f"{row['valid']:,}",
            f"{sum(row['invalid'].values()):,}",
            f"{row['duplicates']:,}",
            f"{row['late']:,}",
        )
    Console().print(table)
    console.print(
        f"{sent:,} messages, {size / max(sent, 1):.0f} bytes each on average, in "
        f"{elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)"
        + (f"; ground truth in {truth}" if truth else "")
    )


def ingest(
    folder: Annotated[Path, typer.Argument(help="a batch input folder (simulate --to files)")],
    bootstrap: Annotated[str | None, typer.Option(help="Kafka; default the local stack's")] = None,
    partitions: Annotated[int, typer.Option(help="partitions of topics created here")] = 4,
) -> None:
    """Replay a folder of files onto the raw Kafka topics (the backfill path)."""
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder")
    servers = _bootstrap(bootstrap)
    try:
        created = ensure_topics(servers, raw_topic_specs(partitions))
        sink = KafkaSink(servers)
    except KafkaError:
        raise _kafka_unreachable(servers) from None
    if created:
        console.print(f"created topics: {', '.join(created)}")
    with Progress(
        TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("replaying", total=None)

        def tick(message) -> None:
            if sink.sent % 2000 == 0:
                progress.update(task, description=f"replaying: {sink.sent:,} messages")

        try:
            counts = replay(folder, sink, on_message=tick)
        except ReplayError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None
        sink.close()
    table = Table(title=f"replayed {folder}")
    table.add_column("source")
    table.add_column("messages", justify="right")
    for source, n in counts.items():
        table.add_row(source, f"{n:,}")
    Console().print(table)
