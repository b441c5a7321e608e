"""The `advertisex` command: the one place that wires the parts together."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from advertisex.ingest.cli import ingest, simulate
from advertisex.jobs.cli import job_app
from advertisex.monitor.cli import monitor
from advertisex.serving.cli import bootstrap
from advertisex.serving.report_cli import report
from advertisex.stack.cli import stack_app

app = typer.Typer(
    help="AdvertiseX: real-time ad-event pipeline on Kafka, Flink and Pinot.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(job_app, name="job")
app.command()(simulate)
app.command()(ingest)
app.command()(bootstrap)
app.command()(report)
app.command()(monitor)


@app.command()
def batch(
    input_folder: Annotated[
        Path, typer.Argument(help="a folder as `advertisex simulate --to files` writes it")
    ],
    output_folder: Annotated[Path, typer.Argument(help="gets one JSON Lines folder per output")],
) -> None:
    """Run the pipeline over files to completion (same SQL as the streaming job) and print
    the row count of every output."""
    from advertisex.ingest.replay import ReplayError
    from flink_jobs.batch import run_batch

    console = Console()
    if not input_folder.is_dir():
        raise typer.BadParameter(f"{input_folder} is not a folder", param_hint="INPUT_FOLDER")
    started = time.monotonic()
    try:
        with console.status("batch") as status:
            counts = run_batch(input_folder, output_folder, on_step=status.update)
    except ReplayError as error:
        raise typer.BadParameter(str(error), param_hint="INPUT_FOLDER") from None
    table = Table("output", "rows", title=f"{output_folder} ({time.monotonic() - started:.0f} s)")
    for name, count in counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)


@app.command()
def demo(
    duration: Annotated[float, typer.Option(help="simulated seconds of traffic")] = 120.0,
    seed: Annotated[int, typer.Option(help="the simulator's seed")] = 42,
) -> None:
    """The whole platform on this machine: bring the stack up, create the topics and Pinot
    tables, start the streaming job, send simulated traffic with every anomaly on, and
    print the campaign report once Pinot holds it. Everything stays up afterwards."""
    from advertisex.demo import run_demo

    run_demo(duration, seed, Console())
