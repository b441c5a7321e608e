"""`advertisex job list|stop|cancel|savepoint`: the Flink jobs on a session cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from advertisex.jobs.flink_rest import FlinkError, FlinkRest, FlinkUnreachable
from advertisex.stack.config import StackConfig

job_app = typer.Typer(help="The Flink jobs on the session cluster.", no_args_is_help=True)
console = Console()
err = Console(stderr=True, soft_wrap=True)

Rest = Annotated[
    str | None,
    typer.Option("--rest", help="the Flink REST URL; default: the local stack's"),
]
JobId = Annotated[str, typer.Argument(help="the job id (`advertisex job list`)")]
SavepointTimeout = Annotated[float, typer.Option(help="seconds to wait for the savepoint")]


def _rest(url: str | None) -> FlinkRest:
    return FlinkRest(url or StackConfig().flink_rest_url)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(1)


_ERRORS = (FlinkUnreachable, FlinkError, TimeoutError)


@job_app.command("list")
def list_jobs(rest: Rest = None) -> None:
    """Every job on the cluster, newest first."""
    try:
        with _rest(rest) as flink:
            jobs = flink.jobs()
    except _ERRORS as exc:
        raise _fail(str(exc)) from None
    if not jobs:
        console.print("no jobs")
        return
    table = Table("id", "name", "state", "started")
    for job in jobs:
        started = job["start_time"].astimezone().strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(job["id"], job["name"], job["state"], started)
    # Ids must stay whole and copyable, whatever the terminal's width.
    Console(width=max(console.width, 160)).print(table)


@job_app.command()
def stop(
    job_id: JobId,
    savepoint_dir: Annotated[
        str | None,
        typer.Option(help="where the savepoint goes; default: the cluster's savepoint dir"),
    ] = None,
    drain: Annotated[
        bool, typer.Option(help="end event time first (fires every window and timer)")
    ] = False,
    rest: Rest = None,
    timeout: SavepointTimeout = 300,
) -> None:
    """Stop a job with a savepoint and print the savepoint's path."""
    try:
        with _rest(rest) as flink:
            trigger = flink.stop_with_savepoint(job_id, savepoint_dir, drain=drain)
            location = flink.wait_for_savepoint(job_id, trigger, timeout)
    except _ERRORS as exc:
        raise _fail(str(exc)) from None
    print(location)


@job_app.command()
def cancel(job_id: JobId, rest: Rest = None) -> None:
    """Cancel a job without a savepoint."""
    try:
        with _rest(rest) as flink:
            flink.cancel(job_id)
            state = flink.wait_for_state(job_id, {"CANCELED"}, timeout=60)
    except _ERRORS as exc:
        raise _fail(str(exc)) from None
    console.print(f"{job_id} {state}", highlight=False)


@job_app.command()
def savepoint(
    job_id: JobId,
    directory: Annotated[
        str | None,
        typer.Option("--dir", help="where the savepoint goes; default: the cluster's"),
    ] = None,
    rest: Rest = None,
    timeout: SavepointTimeout = 300,
) -> None:
    """Take a savepoint of a running job (it keeps running) and print its path."""
    try:
        with _rest(rest) as flink:
            trigger = flink.trigger_savepoint(job_id, directory)
            location = flink.wait_for_savepoint(job_id, trigger, timeout)
    except _ERRORS as exc:
        raise _fail(str(exc)) from None
    print(location)


@job_app.command()
def run(
    mode: Annotated[str, typer.Option(help="streaming (Kafka in, Kafka out)")] = "streaming",
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers; default: the local stack's")
    ] = None,
    parallelism: Annotated[int | None, typer.Option(help="default: the cluster's")] = None,
    from_savepoint: Annotated[
        str | None, typer.Option(help="start from this savepoint (its offsets and state)")
    ] = None,
    job_name: Annotated[str, typer.Option(help="also the Kafka transactional-id prefix")] = (
        "advertisex-pipeline"
    ),
    topic_prefix: Annotated[str, typer.Option(help="put before every topic name")] = "",
    rest: Rest = None,
) -> None:
    """Submit the pipeline to the session cluster and print its job id."""
    if mode != "streaming":
        raise _fail(
            f"--mode {mode!r}: the job runs in streaming mode only, for now (--mode streaming)"
        )
    import flink_jobs
    from advertisex.jobs.submit import SubmitFailed, submit_python_job
    from advertisex.stack.jars import resolve

    cfg = StackConfig()
    script = Path(flink_jobs.__file__).parent / "pipeline.py"
    args = [
        "--bootstrap",
        bootstrap or cfg.kafka_bootstrap,
        "--job-name",
        job_name,
        "--group-id",
        job_name,
        "--topic-prefix",
        topic_prefix,
    ]
    try:
        job_id = submit_python_job(
            rest or cfg.flink_rest_url,
            script,
            args,
            jars=list(resolve("flink").glob("*.jar")),
            parallelism=parallelism,
            savepoint_path=from_savepoint,
        )
    except (SubmitFailed, *_ERRORS) as exc:
        raise _fail(str(exc)) from None
    print(job_id)
