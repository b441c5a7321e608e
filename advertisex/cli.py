"""The `advertisex` command: the one place that wires the parts together."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from advertisex.ingest.cli import ingest, simulate
from advertisex.jobs.cli import job_app
from advertisex.stack.cli import stack_app
from advertisex.stack.config import StackConfig

app = typer.Typer(
    help="AdvertiseX: real-time ad-event pipeline on Kafka, Flink and Pinot.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(job_app, name="job")
app.command()(simulate)
app.command()(ingest)


@app.command()
def demo(
    duration: Annotated[float, typer.Option(help="simulated seconds of traffic")] = 300.0,
    seed: Annotated[int, typer.Option(help="the simulator's seed")] = 42,
) -> None:
    """Bring the local stack up and send a few minutes of simulated traffic through Kafka."""
    from advertisex.stack.cli import up

    up(services=None)
    simulate(to="kafka", duration=duration, seed=seed, all_anomalies=True)
    cfg = StackConfig()
    Console().print(
        f"\nThe stack stays up. Raw topics on Kafka {cfg.kafka_bootstrap}: ad-impressions, "
        f"ad-clicks-conversions, bid-requests, dim-campaigns.\n"
        f"Pinot query console: {cfg.pinot_controller_url}   Flink web UI: {cfg.flink_rest_url}\n"
        "Stop everything with `advertisex stack down`."
    )
