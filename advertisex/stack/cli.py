"""`advertisex stack up|down|status|logs|fetch`."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from advertisex.stack import gobuild, jars, supervisor
from advertisex.stack.config import StackConfig
from advertisex.stack.jars import ResolutionFailed
from advertisex.stack.kube import GO_BUILD_OF
from advertisex.stack.tools import MissingTool
from advertisex.stack.versions import pinned_versions

stack_app = typer.Typer(
    help="The local stack of real servers: Kafka, Pinot, Flink, and a Kubernetes API server.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True, soft_wrap=True)  # messages are not cut at 80 columns

Services = Annotated[
    list[str] | None,
    typer.Argument(
        help="groups (kafka, pinot, flink, kube) or single servers; "
        "default: up starts kafka, pinot and flink, status and down take all"
    ),
]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


def _spinner() -> Progress:
    """A one-line progress display for long downloads and builds, gone when done."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def fetch_jars(components: tuple[str, ...] = jars.COMPONENTS) -> None:
    """Resolve the jars of each component with a progress line; nothing when cached."""
    versions = pinned_versions()
    for component in components:
        if jars.is_resolved(component):
            continue
        with _spinner() as progress:
            label = {
                "kafka": f"Kafka {versions['kafka.version']}",
                "flink": f"Flink connectors {versions['flink.kafka.connector.version']}",
                "pinot": f"Pinot {versions['pinot.version']}",
            }[component]
            task = progress.add_task(f"resolving {label} jars with mvn", total=None)
            count = 0

            def downloaded(url: str, _task=task, _label=label) -> None:
                nonlocal count
                count += 1
                name = url.rsplit("/", 1)[-1]
                progress.update(_task, description=f"resolving {_label}: {count} files, {name}")

            jars.resolve(component, on_download=downloaded)
        err.print(f"resolved {label} jars into {jars.jar_dir(component)}")


def fetch_go(names: tuple[str, ...] = tuple(gobuild.builds())) -> None:
    """Build each Go program set (kube-apiserver and kubectl, etcd, helm); nothing when cached."""
    for name in names:
        if gobuild.is_built(name):
            continue
        with _spinner() as progress:
            task = progress.add_task(f"{name}: starting", total=None)

            def on_step(step: str, _t=task, _n=name) -> None:
                progress.update(_t, description=f"{_n}: {step}")
                if not err.is_terminal:  # a log (CI's) shows no live spinner: a line a step
                    err.print(f"{_n}: {step}")

            gobuild.ensure_built(name, on_step=on_step)
        err.print(
            f"built {', '.join(gobuild.builds()[name].programs)} into {gobuild.build_dir(name)}"
        )


def fetch_functions() -> None:
    """Build the pipeline's own jar (flink_jobs/java) with a progress line; nothing when cached."""
    if jars.is_functions_built():
        return
    with _spinner() as progress:
        task = progress.add_task(f"building {jars.FUNCTIONS_JAR} with mvn", total=None)

        def on_step(step: str) -> None:
            progress.update(task, description=f"{jars.FUNCTIONS_JAR}: {step}")

        jar = jars.functions_jar(on_step=on_step)
    err.print(f"built {jars.FUNCTIONS_JAR} into {jar.parent}")


@stack_app.command()
def fetch() -> None:
    """Resolve every server's jars from Maven Central, build the pipeline's own jar and the Go
    programs, into ~/.cache."""
    try:
        fetch_jars()
        fetch_functions()
        fetch_go()
    except (MissingTool, ResolutionFailed, gobuild.BuildFailed) as exc:
        raise _fail(str(exc)) from None


@stack_app.command()
def up(services: Services = None) -> None:
    """Start the servers (idempotent) and wait until each answers its health check."""
    cfg = StackConfig()
    services = services or list(supervisor.PIPELINE_GROUPS)
    try:
        selected = supervisor.select(cfg, services)
        fetch_jars(tuple(c for c in jars.COMPONENTS if any(s.name.startswith(c) for s in selected)))
        fetch_go(tuple({GO_BUILD_OF[s.name] for s in selected if s.name in GO_BUILD_OF}))
        with console.status("starting the stack...") as spinner:

            def event(name: str, what: str) -> None:
                console.print(f"  {name}: {what}")
                spinner.update(f"waiting for {name}...")

            result = supervisor.up(cfg, services, on_event=event)
    except (
        MissingTool,
        ResolutionFailed,
        gobuild.BuildFailed,
        supervisor.StartFailed,
        ValueError,
    ) as exc:
        raise _fail(str(exc)) from None
    _print_status(result, cfg)


@stack_app.command()
def down(services: Services = None) -> None:
    """Stop the servers, dependants first; no process and no port is left."""
    cfg = StackConfig()
    try:
        stopped = supervisor.down(cfg, services, on_event=lambda n, w: console.print(f"  {n}: {w}"))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    console.print(f"stopped {len(stopped)} server(s)" if stopped else "nothing was running")


@stack_app.command()
def status(services: Services = None) -> None:
    """Show each server: pid, health, URL and log file. Exits 1 if any is not healthy."""
    cfg = StackConfig()
    try:
        result = supervisor.status(cfg, services)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _print_status(result, cfg)
    if not all(s.healthy for s in result):
        raise typer.Exit(1)


@stack_app.command()
def logs(
    service: Annotated[str, typer.Argument(help="one server, e.g. kafka or pinot-controller")],
    lines: Annotated[int, typer.Option("-n", "--lines", help="how many last lines")] = 50,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="keep printing")] = False,
) -> None:
    """Print a server's log."""
    cfg = StackConfig()
    by_name = {s.name: s for s in supervisor.all_services(cfg)}
    if service not in by_name:
        raise _fail(f"unknown server {service!r}; choose from: {', '.join(by_name)}")
    log_file = supervisor.process_of(by_name[service]).log_file
    if not log_file.exists():
        raise _fail(f"{service} has no log yet ({log_file}): start it with `advertisex stack up`")
    cmd = ["tail", f"-n{lines}", *(["-F"] if follow else []), str(log_file)]
    if follow:
        os.execvp(cmd[0], cmd)
    sys.stdout.write(subprocess.run(cmd, capture_output=True, text=True).stdout)


def _print_status(result: list[supervisor.ServiceStatus], cfg: StackConfig) -> None:
    table = Table(title="AdvertiseX local stack")
    for col in ("service", "server", "state", "pid", "url"):
        table.add_column(col, overflow="fold")
    colour = {"healthy": "green", "unhealthy": "yellow", "stopped": "red"}
    group_of = {name: group for group, names in supervisor.GROUPS.items() for name in names}
    shown: set[str] = set()
    for s in result:
        group = group_of[s.name]
        label = "" if group in shown else group.capitalize()
        shown.add(group)
        url = s.url or ""
        if s.name == "pinot-controller" and url:
            url += " (query console)"
        elif s.name == "flink-jobmanager" and url:
            url += " (web UI)"
        table.add_row(label, s.name, f"[{colour[s.state]}]{s.state}[/]", str(s.pid or "-"), url)
    console.print(table)
    console.print(f"state and logs: {cfg.state_dir}  (advertisex stack logs <server>)")
