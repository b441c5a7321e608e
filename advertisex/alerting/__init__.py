"""Alerting shared by the operator and the data-quality monitor: one alert model
(`alert`), an Alertmanager-compatible webhook channel (`alertmanager`) and Prometheus
metrics (`metrics`). It imports nothing else of ours."""

from .alert import FIRING, RESOLVED, Alert, AlertBook, fingerprint
from .alertmanager import (
    AlertGroup,
    DeliveryResult,
    WebhookReceiver,
    group_alerts,
    group_key,
    webhook_payload,
)

__all__ = [
    "FIRING",
    "RESOLVED",
    "Alert",
    "AlertBook",
    "AlertGroup",
    "DeliveryResult",
    "WebhookReceiver",
    "fingerprint",
    "group_alerts",
    "group_key",
    "webhook_payload",
]
