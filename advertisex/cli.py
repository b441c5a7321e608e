"""The `advertisex` command: the one place that wires the parts together."""

from __future__ import annotations

import typer

from advertisex.ingest.cli import ingest, simulate
from advertisex.stack.cli import stack_app

app = typer.Typer(
    help="AdvertiseX: real-time ad-event pipeline on Kafka, Flink and Pinot.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(stack_app, name="stack")
app.command()(simulate)
app.command()(ingest)


@app.command()
def demo() -> None:
    """Bring the local stack up and print what runs where (the pipeline grows this)."""
    from advertisex.stack.cli import up

    up(services=None)
