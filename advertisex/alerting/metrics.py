"""Prometheus metrics of alerts and consumer lag, on a registry of our own.

The metrics live on `REGISTRY` (this module's, not prometheus_client's global default) or
on a registry passed in, so a test can make a fresh one. `alerting_metrics(registry)`
registers the metrics once per registry and returns the same object on later calls.

- `advertisex_alerts_firing{alertname, severity, namespace, name}`: alerts firing now
  (an alert's `namespace` and `name` labels; "" when it has none). A label set that
  stopped firing stays at 0 until `forget_resource` removes it.
- `advertisex_alert_notifications_total{receiver, status, outcome}`: webhook bodies sent,
  by the body's status (firing | resolved) and the outcome (success | failure).
- `advertisex_consumer_lag_records{namespace, name, group, topic}`: records behind (sum
  over the topic's partitions).
- `advertisex_consumer_lag_seconds{namespace, name, group, topic}`: how old the oldest
  unread record is (worst partition of the topic).
- `advertisex_consumer_lag_status{namespace, name, group, status}`: 1 for the group's
  current status, 0 for the others (Burrow's statuses, `LAG_STATUSES`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from .alert import Alert
from .alertmanager import DeliveryResult

REGISTRY = CollectorRegistry(auto_describe=True)

# Burrow's partition statuses, as the lag evaluator names them.
LAG_STATUSES = ("OK", "WARN", "REWIND", "STALL", "STOP")

_ALERT_LABELS = ("alertname", "severity", "namespace", "name")
_LAG_LABELS = ("namespace", "name", "group", "topic")


class AlertingMetrics:
    """The metrics, registered on one registry. Use `alerting_metrics()` to get one."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.alerts_firing = Gauge(
            "advertisex_alerts_firing",
            "Alerts firing now.",
            _ALERT_LABELS,
            registry=registry,
        )
        self.notifications = Counter(
            "advertisex_alert_notifications",
            "Alert notifications (webhook bodies) sent, by status and outcome.",
            ("receiver", "status", "outcome"),
            registry=registry,
        )
        self.lag_records = Gauge(
            "advertisex_consumer_lag_records",
            "Records a consumer group has not committed yet, per topic.",
            _LAG_LABELS,
            registry=registry,
        )
        self.lag_seconds = Gauge(
            "advertisex_consumer_lag_seconds",
            "Age of the oldest record a consumer group has not committed, per topic.",
            _LAG_LABELS,
            registry=registry,
        )
        self.lag_status = Gauge(
            "advertisex_consumer_lag_status",
            "The consumer group's lag status: 1 for the current one, 0 for the others.",
            ("namespace", "name", "group", "status"),
            registry=registry,
        )
        self._lock = threading.Lock()
        self._alert_series: set[tuple[str, ...]] = set()
        # (namespace, name, group) -> topics with series
        self._lag_topics: dict[tuple[str, str, str], set[str]] = {}

    def set_alerts_firing(self, alerts: Iterable[Alert]) -> None:
        """Set the gauge from every alert firing now (resolved ones are skipped): series of
        alerts no longer in the list go to 0."""
        counts: dict[tuple[str, ...], int] = {}
        for alert in alerts:
            if alert.firing:
                key = tuple(alert.labels.get(k, "") for k in _ALERT_LABELS)
                counts[key] = counts.get(key, 0) + 1
        with self._lock:
            for key in self._alert_series - counts.keys():
                self.alerts_firing.labels(*key).set(0)
            for key, count in counts.items():
                self.alerts_firing.labels(*key).set(count)
            self._alert_series |= counts.keys()

    def record_deliveries(self, results: Iterable[DeliveryResult]) -> None:
        """Count what `WebhookReceiver.send` returned."""
        for result in results:
            self.notifications.labels(result.receiver, result.status, result.outcome).inc()

    def set_consumer_lag(
        self,
        namespace: str,
        name: str,
        group: str,
        records_by_topic: Mapping[str, int],
        seconds_by_topic: Mapping[str, float | None],
        status: str,
    ) -> None:
        """Set one consumer group's lag. Topics left out lose their series; a topic whose
        seconds are None (unknown) has no seconds series."""
        if status not in LAG_STATUSES:
            raise ValueError(f"lag status {status!r} is not one of {LAG_STATUSES}")
        resource = (namespace, name, group)
        with self._lock:
            for topic in self._lag_topics.get(resource, set()) - set(records_by_topic):
                self._remove(self.lag_records, (*resource, topic))
                self._remove(self.lag_seconds, (*resource, topic))
            for topic, records in records_by_topic.items():
                self.lag_records.labels(*resource, topic).set(records)
                seconds = seconds_by_topic.get(topic)
                if seconds is None:
                    self._remove(self.lag_seconds, (*resource, topic))
                else:
                    self.lag_seconds.labels(*resource, topic).set(seconds)
            self._lag_topics[resource] = set(records_by_topic)
            for each in LAG_STATUSES:
                self.lag_status.labels(*resource, each).set(1 if each == status else 0)

    def forget_resource(self, namespace: str, name: str) -> None:
        """Remove every series of one resource (e.g. when it is deleted)."""
        with self._lock:
            for key in [k for k in self._alert_series if k[2:] == (namespace, name)]:
                self._remove(self.alerts_firing, key)
                self._alert_series.discard(key)
            for resource in [r for r in self._lag_topics if r[:2] == (namespace, name)]:
                for topic in self._lag_topics.pop(resource):
                    self._remove(self.lag_records, (*resource, topic))
                    self._remove(self.lag_seconds, (*resource, topic))
                for each in LAG_STATUSES:
                    self._remove(self.lag_status, (*resource, each))

    @staticmethod
    def _remove(metric: Gauge, labels: tuple[str, ...]) -> None:
        try:
            metric.remove(*labels)
        except KeyError:
            pass


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, AlertingMetrics] = (
    weakref.WeakKeyDictionary()
)
_registry_lock = threading.Lock()


def alerting_metrics(registry: CollectorRegistry | None = None) -> AlertingMetrics:
    """The metrics on `registry` (default: this module's `REGISTRY`), registered on the
    first call for that registry."""
    registry = REGISTRY if registry is None else registry
    with _registry_lock:
        metrics = _by_registry.get(registry)
        if metrics is None:
            metrics = _by_registry[registry] = AlertingMetrics(registry)
        return metrics


def set_alerts_firing(alerts: Iterable[Alert], registry: CollectorRegistry | None = None) -> None:
    alerting_metrics(registry).set_alerts_firing(alerts)


def record_deliveries(
    results: Iterable[DeliveryResult], registry: CollectorRegistry | None = None
) -> None:
    alerting_metrics(registry).record_deliveries(results)


def set_consumer_lag(
    namespace: str,
    name: str,
    group: str,
    records_by_topic: Mapping[str, int],
    seconds_by_topic: Mapping[str, float | None],
    status: str,
    registry: CollectorRegistry | None = None,
) -> None:
    alerting_metrics(registry).set_consumer_lag(
        namespace, name, group, records_by_topic, seconds_by_topic, status
    )


def serve_metrics(port: int, addr: str = "0.0.0.0", registry: CollectorRegistry | None = None):
    """Serve the registry's metrics over HTTP (`/metrics`, and any path) on a daemon thread.
    The metrics are registered first, so they show before the first value is set. Returns
    prometheus_client's (server, thread); `server.server_port` is the port bound (useful
    with port 0), `server.shutdown()` stops it."""
    metrics = alerting_metrics(registry)
    return start_http_server(port, addr=addr, registry=metrics.registry)
