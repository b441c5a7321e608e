"""Alerts to a webhook, in the body Alertmanager's webhook receiver sends (version "4").

Anything that accepts Alertmanager's webhooks (Alertmanager-compatible bridges, incident
tools, a small HTTP service) can receive our alerts unchanged. Alerts are grouped by the
values of `group_by` labels as Alertmanager's routes group them, and one body is posted per
group. Delivery never raises: a failure is returned (and logged) so that the loop calling
`send` keeps going.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from .alert import FIRING, RESOLVED, Alert

log = logging.getLogger(__name__)

WEBHOOK_VERSION = "4"
# Go's zero time.Time, which Alertmanager sends as endsAt of an alert with no end.
ZERO_TIME = "0001-01-01T00:00:00Z"
# The key of Alertmanager's root route; a group key is "<route key>:<group labels>".
ROOT_ROUTE_KEY = "{}"
# group_by: ["..."] groups by every label (each distinct label set is a group of its own).
ALL_LABELS = "..."


def rfc3339(value: datetime | None) -> str:
    """A time as Go's RFC 3339 (nano) in UTC: no trailing zeros in the fraction, "Z"."""
    if value is None:
        return ZERO_TIME
    if value.tzinfo is None:
        raise ValueError("times must carry a time zone")
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _go_quote(value: str) -> str:
    """strconv.Quote for the characters labels carry (as model.LabelSet.String prints)."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def label_set_string(labels: Mapping[str, str]) -> str:
    """model.LabelSet.String(): `{a="1", b="2"}`, names sorted."""
    return "{" + ", ".join(f"{k}={_go_quote(labels[k])}" for k in sorted(labels)) + "}"


def group_key(group_labels: Mapping[str, str], route_key: str = ROOT_ROUTE_KEY) -> str:
    """Alertmanager's groupKey: `{}:{alertname="x", namespace="y"}` for the root route.
    Stable: it depends only on the group's label names and values."""
    return f"{route_key}:{label_set_string(group_labels)}"


def group_labels_of(alert: Alert, group_by: Sequence[str]) -> dict[str, str]:
    """The values of the group_by labels that the alert has (a missing one is left out, as
    Alertmanager does); every label when group_by is ["..."]."""
    if ALL_LABELS in group_by:
        return dict(alert.labels)
    return {name: alert.labels[name] for name in group_by if name in alert.labels}


@dataclass(frozen=True)
class AlertGroup:
    labels: dict[str, str]
    alerts: list[Alert]

    @property
    def key(self) -> str:
        return group_key(self.labels)


def group_alerts(alerts: Iterable[Alert], group_by: Sequence[str]) -> list[AlertGroup]:
    """Alerts split into groups by the values of their group_by labels; groups in the order
    of their first alert, alerts in the order given. An empty group_by makes one group."""
    groups: dict[tuple[tuple[str, str], ...], AlertGroup] = {}
    for alert in alerts:
        labels = group_labels_of(alert, group_by)
        key = tuple(sorted(labels.items()))
        if key not in groups:
            groups[key] = AlertGroup(labels, [])
        groups[key].alerts.append(alert)
    return list(groups.values())


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The pairs every map has with the same value."""
    first, *rest = maps
    return {k: v for k, v in sorted(first.items()) if all(m.get(k) == v for m in rest)}


def alert_json(alert: Alert) -> dict:
    """One alert as in the webhook body."""
    return {
        "status": alert.status,
        "labels": dict(sorted(alert.labels.items())),
        "annotations": dict(sorted(alert.annotations.items())),
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(alert.ends_at),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def webhook_payload(
    receiver: str,
    alerts: Sequence[Alert],
    group_by: Sequence[str],
    external_url: str,
    max_alerts: int = 0,
) -> dict:
    """The webhook body (version 4) for one group of alerts.

    All alerts must belong to one group of `group_by` (see `group_alerts`). `status` is
    firing if any alert fires. `max_alerts` > 0 keeps the first alerts and counts the rest
    in `truncatedAlerts`, like Alertmanager's `max_alerts`; 0 sends all.
    """
    if not alerts:
        raise ValueError("a webhook payload needs at least one alert")
    groups = group_alerts(alerts, group_by)
    if len(groups) != 1:
        keys = ", ".join(g.key for g in groups)
        raise ValueError(f"the alerts belong to {len(groups)} groups ({keys}): split them first")
    labels = groups[0].labels
    sent = list(alerts[:max_alerts]) if max_alerts > 0 else list(alerts)
    return {
        "version": WEBHOOK_VERSION,
        "groupKey": group_key(labels),
        "truncatedAlerts": len(alerts) - len(sent),
        "status": FIRING if any(a.firing for a in alerts) else RESOLVED,
        "receiver": receiver,
        "groupLabels": dict(sorted(labels.items())),
        "commonLabels": _common([a.labels for a in alerts]),
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": external_url,
        "alerts": [alert_json(a) for a in sent],
    }


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one group's notification."""

    receiver: str
    group_key: str
    status: str  # the payload's status: firing | resolved
    alerts: int
    ok: bool
    attempts: int
    http_status: int | None = None
    error: str = ""

    @property
    def outcome(self) -> str:
        return "success" if self.ok else "failure"


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


@dataclass
class WebhookReceiver:
    """POSTs one webhook body per group of alerts to `url`.

    A connection error, a timeout, a 5xx or a 429 is retried `retries` times after
    `backoff_s`, doubling; any other 4xx is not. `send` never raises on a delivery failure:
    it returns a `DeliveryResult` per group, and logs the failures.
    """

    name: str
    url: str
    group_by: Sequence[str] = ("alertname",)
    timeout: float = 5.0
    external_url: str = ""
    retries: int = 2
    backoff_s: float = 0.5
    max_alerts: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None  # tests may inject one
    sleep: Callable[[float], None] = time.sleep

    def payloads(self, alerts: Iterable[Alert]) -> list[dict]:
        return [
            webhook_payload(self.name, g.alerts, self.group_by, self.external_url, self.max_alerts)
            for g in group_alerts(alerts, self.group_by)
        ]

    def send(self, alerts: Iterable[Alert]) -> list[DeliveryResult]:
        payloads = self.payloads(alerts)
        if not payloads:
            return []
        headers = {"Content-Type": "application/json", "User-Agent": "advertisex-alerting"}
        headers.update(self.headers)
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            return [self._post(client, payload, headers) for payload in payloads]

    def _post(self, client: httpx.Client, payload: dict, headers: dict) -> DeliveryResult:
        body = json.dumps(payload).encode()
        attempts = 0
        status: int | None = None
        error = ""
        delay = self.backoff_s
        while True:
            attempts += 1
            retry = False
            try:
                response = client.post(self.url, content=body, headers=headers)
                status = response.status_code
                if response.is_success:
                    return self._result(payload, True, attempts, status)
                error = f"HTTP {status}: {response.text[:200]}"
                retry = _retryable(status)
            except httpx.TransportError as exc:  # connection refused, timeout, ...
                status = None
                error = f"{type(exc).__name__}: {exc}"
                retry = True
            except Exception as exc:  # a bad URL, ...: never break the caller's loop
                status = None
                error = f"{type(exc).__name__}: {exc}"
            if not retry or attempts > self.retries:
                break
            self.sleep(delay)
            delay *= 2
        log.warning(
            "alert notification to %s (%s) failed after %d attempt(s): %s",
            self.name,
            self.url,
            attempts,
            error,
        )
        return self._result(payload, False, attempts, status, error)

    def _result(
        self, payload: dict, ok: bool, attempts: int, status: int | None, error: str = ""
    ) -> DeliveryResult:
        return DeliveryResult(
            receiver=self.name,
            group_key=payload["groupKey"],
            status=payload["status"],
            alerts=len(payload["alerts"]),
            ok=ok,
            attempts=attempts,
            http_status=status,
            error=error,
        )
