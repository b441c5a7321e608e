"""`advertisex monitor`: watch the pipeline's data-quality metrics and print alerts as they
fire and resolve; optionally send them to Alertmanager-format webhooks and serve /metrics."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from advertisex.alerting.alert import Alert
from advertisex.alerting.alertmanager import WebhookReceiver
from advertisex.alerting.metrics import alerting_metrics, serve_metrics
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.monitor.dq_reader import DqReader, DqTopicUnavailable
from advertisex.monitor.monitor import Monitor
from advertisex.monitor.monitor_loop import MonitorLoop
from advertisex.monitor.reconcile import Reconciler, ReconcileSettings
from advertisex.monitor.settings import MonitorSettings
from advertisex.monitor.watermarks import WatermarkReader
from advertisex.stack.config import StackConfig

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _settings(pairs: list[str]) -> tuple[MonitorSettings, ReconcileSettings]:
    values: dict[str, str] = {}
    known = [*MonitorSettings.model_fields, *ReconcileSettings.model_fields]
    for pair in pairs:
        key, sep, value = pair.partition("=")
        field = key.strip().replace("-", "_")
        if not sep or field not in known:
            raise typer.BadParameter(
                f"--set {pair!r}: use FIELD=VALUE with a field of: {', '.join(known)}"
            )
        values[field] = value.strip()
    try:
        return tuple(
            model(**{k: v for k, v in values.items() if k in model.model_fields})
            for model in (MonitorSettings, ReconcileSettings)
        )
    except ValidationError as exc:
        problems = "; ".join(f"--set {e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(problems) from None


def print_alert(alert: Alert) -> None:
    colour = "red" if alert.firing else "green"
    when = (alert.starts_at if alert.firing else alert.ends_at).strftime("%H:%M:%S")
    labels = ", ".join(f"{k}={v}" for k, v in alert.labels.items() if k not in ("alertname",))
    console.print(
        f"{when} [bold {colour}]{alert.status.upper():8}[/] {alert.alertname} ({labels}): "
        f"{alert.annotations['summary']}",
        highlight=False,
    )
    if alert.firing:
        console.print(f"         runbook: {alert.annotations['runbook']}", highlight=False)


def monitor(
    bootstrap: Annotated[str | None, typer.Option(help="Kafka; default the local stack's")] = None,
    topic_prefix: Annotated[str, typer.Option(help="the pipeline's topic prefix")] = "",
    pinot_broker: Annotated[
        str | None, typer.Option(help="Pinot's broker for the reconciliation; default local")
    ] = None,
    table_prefix: Annotated[str, typer.Option(help="the Pinot tables' prefix")] = "",
    flink_rest: Annotated[
        str | None, typer.Option(help="Flink's REST API, for the watermark; default local")
    ] = None,
    job_name: Annotated[
        str, typer.Option(help="the Flink job whose watermark lag is watched")
    ] = "advertisex-pipeline",
    watermark: Annotated[
        bool, typer.Option(help="watch the job's watermark lag (Flink's REST API)")
    ] = True,
    reconcile: Annotated[
        bool, typer.Option(help="compare raw-topic counts with Pinot per source and interval")
    ] = True,
    window_s: Annotated[
        float | None, typer.Option(help="the job's --dq-window-s (default 60)")
    ] = None,
    history: Annotated[
        float, typer.Option(help="minutes of dq_metrics read at start to learn baselines")
    ] = 120,
    receiver: Annotated[
        list[str] | None, typer.Option(help="an Alertmanager-format webhook URL, repeatable")
    ] = None,
    metrics_port: Annotated[
        int, typer.Option(help="serve /metrics for Prometheus here; 0: off")
    ] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="a threshold or window, FIELD=VALUE (see docs/monitor.md)"),
    ] = None,
    run_for: Annotated[
        float | None, typer.Option("--for", help="stop after this many seconds")
    ] = None,
) -> None:
    """Watch the data-quality metrics: volume per source (drops, spikes, silence), invalid,
    duplicate, late and unattributed rates, event-time delays, the job's watermark lag, and
    each campaign's CTR and win rate against its own baseline. Prints each alert when it
    fires and when it resolves; Ctrl-C stops."""
    pairs = list(set_ or [])
    if window_s is not None:
        pairs.append(f"window_s={window_s}")
    settings, reconcile_settings = _settings(pairs)
    stack = StackConfig()
    servers = bootstrap or stack.kafka_bootstrap
    try:
        reader = DqReader(servers, topic_prefix)
        campaigns = DqReader(servers, topic_prefix, output="campaign_metrics_1m")
    except DqTopicUnavailable as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    since_ms = int((time.time() - history * 60) * 1000)
    reader.seek_to_time(since_ms)
    campaigns.seek_to_time(since_ms)
    receivers = [WebhookReceiver(f"webhook-{i}", url) for i, url in enumerate(receiver or [])]
    if metrics_port:
        serve_metrics(metrics_port)
    reconciler = None
    if reconcile:
        reconciler = Reconciler.connect(
            servers,
            pinot_broker or stack.pinot_broker_url,
            topic_prefix,
            table_prefix,
            settings=reconcile_settings,
            window_s=settings.window_s,
        )
    watch = Monitor(settings, {"pipeline": topic_prefix or "default"}, reconciler=reconciler)
    watermarks = None
    if watermark:
        rest = FlinkRest(flink_rest or stack.flink_rest_url, timeout=5)
        watermarks = WatermarkReader(rest, job_name=job_name)
    reconcile_error = watermark_error = None
    err.print(
        f"watching {reader.topic} on {servers} in windows of {settings.window_s:g} s "
        f"(judged {settings.grace_s:g} s after they end; {settings.warmup_windows} windows "
        "of warm-up per source)",
        highlight=False,
    )
    deadline = None if run_for is None else time.monotonic() + run_for
    loop = MonitorLoop(watch, reader, campaigns, watermarks, poll_ms=250)
    try:
        while deadline is None or time.monotonic() < deadline:
            step = loop.step(int(time.time() * 1000))
            if step.unreadable:
                raise DqTopicUnavailable(step.unreadable)
            if step.watermark is not None and step.watermark.error != watermark_error:
                watermark_error = step.watermark.error
                if watermark_error:
                    err.print(f"[yellow]watermark not read:[/] {watermark_error}")
            if not step.judged:
                continue  # still reading the history
            changed = step.transitions
            if watch.reconcile_error != reconcile_error:
                reconcile_error = watch.reconcile_error
                if reconcile_error:
                    err.print(f"[yellow]reconciliation paused:[/] {reconcile_error}")
            for alert in changed:
                print_alert(alert)
            if changed:
                for r in receivers:
                    alerting_metrics().record_deliveries(r.send(changed))
                alerting_metrics().set_alerts_firing(watch.firing())
    except KeyboardInterrupt:
        pass
    except DqTopicUnavailable as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        loop.close()
    firing = watch.firing()
    err.print(f"stopped; {len(firing)} alert(s) firing", highlight=False)
