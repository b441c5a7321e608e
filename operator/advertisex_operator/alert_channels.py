"""Where the operator's alerts go, for every kind of check (consumer lag, data quality):
the Alertmanager-format webhooks of the chart and of the resource, and Prometheus.

Each check keeps its own AlertBook and passes its transitions here; what fires is kept per
resource and kind, so the `advertisex_alerts_firing` gauge shows every check's alerts.
"""

from __future__ import annotations

import threading

from advertisex.alerting.alert import Alert
from advertisex.alerting.alertmanager import WebhookReceiver
from advertisex.alerting.metrics import alerting_metrics, serve_metrics
from advertisex_operator.settings import OperatorSettings
from advertisex_operator.spec import FlinkSqlJobSpec

_firing: dict[tuple[str, str, str], list[Alert]] = {}
_firing_lock = threading.Lock()


def start_metrics(port: int) -> None:
    if port:
        serve_metrics(port)


def receivers(spec: FlinkSqlJobSpec, settings: OperatorSettings) -> list[WebhookReceiver]:
    return [
        WebhookReceiver(r.name, r.url, tuple(r.group_by), external_url=settings.external_url)
        for r in [*settings.receivers, *spec.alert_receivers]
    ]


def publish(
    transitions: list[Alert],
    firing: list[Alert],
    spec: FlinkSqlJobSpec,
    *,
    namespace: str,
    name: str,
    kind: str,
    settings: OperatorSettings,
) -> None:
    """Send the transitions to every receiver; `firing` is what this check fires now."""
    if transitions:
        for receiver in receivers(spec, settings):
            alerting_metrics().record_deliveries(receiver.send(transitions))
    with _firing_lock:
        _firing[(namespace, name, kind)] = list(firing)
        alerting_metrics().set_alerts_firing([a for alerts in _firing.values() for a in alerts])


def forget(namespace: str, name: str) -> None:
    """The resource is gone: its alerts and metrics go too."""
    with _firing_lock:
        for key in [k for k in _firing if k[:2] == (namespace, name)]:
            del _firing[key]
        alerting_metrics().set_alerts_firing([a for alerts in _firing.values() for a in alerts])
    alerting_metrics().forget_resource(namespace, name)
