"""Prometheus metrics of alerts and consumer lag, on fresh registries."""

from datetime import UTC, datetime

import httpx
import prometheus_client
import pytest
from prometheus_client import CollectorRegistry

from advertisex.alerting import metrics as m
from advertisex.alerting.alert import Alert
from advertisex.alerting.alertmanager import DeliveryResult

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NOTES = {"summary": "s", "description": "d", "runbook": "r"}


def alert(alertname="ConsumerLag", severity="warning", name="p1", **more) -> Alert:
    labels = {"alertname": alertname, "severity": severity, "namespace": "ads", "name": name}
    return Alert({**labels, **more}, NOTES, starts_at=T0)


def value(registry, metric, **labels):
    return registry.get_sample_value(metric, labels)


def test_metrics_are_registered_once_per_registry_and_not_on_the_default_one():
    registry = CollectorRegistry()
    assert m.alerting_metrics(registry) is m.alerting_metrics(registry)
    assert m.alerting_metrics() is m.alerting_metrics(m.REGISTRY)
    assert m.alerting_metrics(CollectorRegistry()) is not m.alerting_metrics(registry)
    default_names = {metric.name for metric in prometheus_client.REGISTRY.collect()}
    assert not any(name.startswith("advertisex_") for name in default_names)


def test_alerts_firing_counts_by_labels_and_drops_to_zero():
    registry = CollectorRegistry()
    m.set_alerts_firing(
        [alert(), alert(group="g2"), alert(name="p2", severity="critical")], registry
    )
    labels = {"alertname": "ConsumerLag", "namespace": "ads"}
    assert value(registry, "advertisex_alerts_firing", **labels, severity="warning", name="p1") == 2
    assert (
        value(registry, "advertisex_alerts_firing", **labels, severity="critical", name="p2") == 1
    )
    m.set_alerts_firing([alert(name="p2", severity="critical").resolve(T0)], registry)
    assert value(registry, "advertisex_alerts_firing", **labels, severity="warning", name="p1") == 0
    assert (
        value(registry, "advertisex_alerts_firing", **labels, severity="critical", name="p2") == 0
    )


def test_alert_without_namespace_has_empty_labels():
    registry = CollectorRegistry()
    lone = Alert({"alertname": "DataQuality", "severity": "info"}, NOTES, starts_at=T0)
    m.set_alerts_firing([lone], registry)
    assert (
        value(
            registry,
            "advertisex_alerts_firing",
            alertname="DataQuality",
            severity="info",
            namespace="",
            name="",
        )
        == 1
    )


def test_notifications_are_counted_by_receiver_status_and_outcome():
    registry = CollectorRegistry()
    ok = DeliveryResult("ops", "{}:{}", "firing", 1, ok=True, attempts=1, http_status=200)
    failed = DeliveryResult("ops", "{}:{}", "resolved", 2, ok=False, attempts=3)
    m.record_deliveries([ok, ok, failed], registry)
    name = "advertisex_alert_notifications_total"
    assert value(registry, name, receiver="ops", status="firing", outcome="success") == 2
    assert value(registry, name, receiver="ops", status="resolved", outcome="failure") == 1


def test_consumer_lag_per_topic_and_status_one_hot():
    registry = CollectorRegistry()
    group = {"namespace": "ads", "name": "p1", "group": "pipeline"}
    m.set_consumer_lag(
        "ads",
        "p1",
        "pipeline",
        {"impressions": 120, "clicks": 1},
        {"impressions": 42.5, "clicks": None},
        "WARN",
        registry,
    )
    records = "advertisex_consumer_lag_records"
    seconds = "advertisex_consumer_lag_seconds"
    assert value(registry, records, **group, topic="impressions") == 120
    assert value(registry, records, **group, topic="clicks") == 1
    assert value(registry, seconds, **group, topic="impressions") == 42.5
    assert value(registry, seconds, **group, topic="clicks") is None
    statuses = {
        s: value(registry, "advertisex_consumer_lag_status", **group, status=s)
        for s in m.LAG_STATUSES
    }
    assert statuses == {"OK": 0, "WARN": 1, "REWIND": 0, "STALL": 0, "STOP": 0}

    m.set_consumer_lag("ads", "p1", "pipeline", {"clicks": 0}, {"clicks": 0.0}, "OK", registry)
    assert value(registry, records, **group, topic="impressions") is None  # topic gone
    assert value(registry, seconds, **group, topic="clicks") == 0
    assert value(registry, "advertisex_consumer_lag_status", **group, status="OK") == 1
    assert value(registry, "advertisex_consumer_lag_status", **group, status="WARN") == 0


def test_forget_resource_removes_its_series_only():
    registry = CollectorRegistry()
    metrics = m.alerting_metrics(registry)
    metrics.set_alerts_firing([alert(name="p1"), alert(name="p2")])
    metrics.set_consumer_lag("ads", "p1", "g", {"t": 5}, {"t": 1.0}, "OK")
    metrics.set_consumer_lag("ads", "p2", "g", {"t": 7}, {"t": 2.0}, "OK")
    metrics.forget_resource("ads", "p1")
    common = {"alertname": "ConsumerLag", "severity": "warning", "namespace": "ads"}
    assert value(registry, "advertisex_alerts_firing", **common, name="p1") is None
    assert value(registry, "advertisex_alerts_firing", **common, name="p2") == 1
    lag = {"namespace": "ads", "group": "g", "topic": "t"}
    assert value(registry, "advertisex_consumer_lag_records", **lag, name="p1") is None
    assert value(registry, "advertisex_consumer_lag_records", **lag, name="p2") == 7
    status = {"namespace": "ads", "group": "g", "status": "OK"}
    assert value(registry, "advertisex_consumer_lag_status", **status, name="p1") is None


def test_unknown_lag_status_is_refused():
    with pytest.raises(ValueError, match="BROKEN"):
        m.set_consumer_lag("ads", "p1", "g", {}, {}, "BROKEN", CollectorRegistry())


def test_serve_metrics_over_http():
    registry = CollectorRegistry()
    m.set_consumer_lag("ads", "p1", "g", {"t": 3}, {"t": 0.5}, "OK", registry)
    server, thread = m.serve_metrics(0, addr="127.0.0.1", registry=registry)
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
    assert (
        'advertisex_consumer_lag_records{group="g",name="p1",namespace="ads",topic="t"} 3.0' in text
    )
    assert "# TYPE advertisex_alerts_firing gauge" in text
    assert "# TYPE advertisex_alert_notifications_total counter" in text
