"""`advertisex bootstrap`: topics, Pinot schemas and tables, idempotently."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from advertisex.stack.config import StackConfig

console = Console()
err = Console(stderr=True, soft_wrap=True)

_STYLE = {
    "created": "green",
    "updated": "yellow",
    "recreated": "yellow",
    "unchanged": "dim",
    "refused": "bold red",
}


def bootstrap(
    topic_prefix: Annotated[
        str, typer.Option(help="put before every topic name (isolated runs, tests)")
    ] = "",
    table_prefix: Annotated[
        str, typer.Option(help="put before every Pinot schema and table name (letters, _)")
    ] = "",
    kafka_bootstrap: Annotated[
        str | None, typer.Option(help="Kafka brokers; default: the local stack's")
    ] = None,
    pinot_controller: Annotated[
        str | None, typer.Option(help="the Pinot controller URL; default: the local stack's")
    ] = None,
    partitions: Annotated[int, typer.Option(help="partitions of new topics")] = 4,
    recreate: Annotated[
        list[str] | None,
        typer.Option(
            metavar="OUTPUT",
            help="an output whose table may be dropped and created anew when a change needs "
            "it (its rows are lost and re-read from Kafka); repeatable",
        ),
    ] = None,
) -> None:
    """Create the Kafka topics and the Pinot schemas and REALTIME tables, or bring them in
    line with schemas/pinot/; report each object as created, updated or unchanged."""
    from advertisex.kafka_admin import KafkaUnreachable
    from advertisex.serving.bootstrap import BootstrapSettings
    from advertisex.serving.bootstrap import bootstrap as run
    from advertisex.serving.pinot_admin import PinotError

    cfg = StackConfig()
    try:
        settings = BootstrapSettings(
            kafka_bootstrap=kafka_bootstrap or cfg.kafka_bootstrap,
            pinot_controller=pinot_controller or cfg.pinot_controller_url,
            topic_prefix=topic_prefix,
            table_prefix=table_prefix,
            partitions=partitions,
        )
    except ValidationError as error:
        raise typer.BadParameter(
            "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
        ) from None
    table = Table("kind", "name", "result", "detail", title="bootstrap")
    try:
        with console.status("bootstrap: topics") as status:
            outcomes = run(
                settings,
                recreate=recreate or (),
                on_outcome=lambda o: status.update(f"bootstrap: {o.kind} {o.name} {o.status}"),
            )
    except (KafkaUnreachable, PinotError, ValueError) as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from None
    refused = [o for o in outcomes if o.status == "refused"]
    for o in outcomes:
        style = _STYLE.get(o.status, "")
        table.add_row(o.kind, o.name, f"[{style}]{o.status}[/]", escape(o.detail))
    console.print(table)
    for o in refused:
        err.print(f"[bold red]refused:[/] {o.kind} {escape(o.name)}: {escape(o.detail)}")
    if refused:
        raise typer.Exit(1)
