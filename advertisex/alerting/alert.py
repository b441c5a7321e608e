"""One alert model, and a book that turns "what is wrong now" into notifications.

An alert is identified by its labels alone: the fingerprint is Alertmanager's
(`model.LabelSet.Fingerprint()` of prometheus/common: FNV-1a 64 over the label names in
sorted order, each name and value followed by the byte 0xff, printed as 16 hex digits), so
the same alert gets the same fingerprint in every process and every run, and a receiver
can match ours with Alertmanager's.

`AlertBook.update(active, now)` is called with every alert that is active now (a
condition evaluated on each loop); it returns only the transitions that a receiver must
hear about: an alert that starts firing, an alert that stopped (resolved), and optionally a
reminder for an alert still firing after `repeat_interval`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

FIRING = "firing"
RESOLVED = "resolved"
Status = Literal["firing", "resolved"]

REQUIRED_LABELS = ("alertname", "severity")
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook")

# Alertmanager's default repeat_interval.
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# FNV-1a 64-bit, as prometheus/common/model/fnv.go.
_FNV_OFFSET64 = 0xCBF29CE484222325
_FNV_PRIME64 = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: 16 lowercase hex digits."""
    h = _FNV_OFFSET64
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                h = ((h ^ byte) * _FNV_PRIME64) & _MASK64
            h = ((h ^ _SEPARATOR) * _FNV_PRIME64) & _MASK64
    return f"{h:016x}"


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must carry a time zone (e.g. datetime.now(timezone.utc))")
    return value


@dataclass(frozen=True)
class Alert:
    """One alert. Labels identify it (and make its fingerprint); annotations describe it.

    Labels must include `alertname` and `severity`; annotations `summary`, `description`
    and a one-line `runbook` (what to do). A label with an empty value is dropped, as in
    Prometheus, where an empty value is the same as no label. Times must be time-zone aware.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    status: Status = FIRING
    generator_url: str = ""
    fingerprint: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        labels = {str(k): str(v) for k, v in self.labels.items() if v is not None and v != ""}
        for name in labels:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"label name {name!r} is not a valid Prometheus label name")
        missing = [k for k in REQUIRED_LABELS if not labels.get(k)]
        if missing:
            raise ValueError(f"an alert needs the labels {missing}")
        annotations = {str(k): str(v) for k, v in self.annotations.items()}
        missing = [k for k in REQUIRED_ANNOTATIONS if not annotations.get(k, "").strip()]
        if missing:
            raise ValueError(f"alert {labels['alertname']} needs the annotations {missing}")
        if "\n" in annotations["runbook"].strip():
            raise ValueError(f"alert {labels['alertname']}: the runbook must be one line")
        if self.status not in (FIRING, RESOLVED):
            raise ValueError(f"status must be {FIRING!r} or {RESOLVED!r}, not {self.status!r}")
        _aware(self.starts_at, "starts_at")
        if self.ends_at is not None:
            _aware(self.ends_at, "ends_at")
        elif self.status == RESOLVED:
            raise ValueError("a resolved alert needs ends_at")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "annotations", annotations)
        object.__setattr__(self, "fingerprint", fingerprint(labels))

    def __hash__(self) -> int:
        return hash((self.fingerprint, self.status, self.starts_at, self.ends_at))

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]

    @property
    def severity(self) -> str:
        return self.labels["severity"]

    @property
    def firing(self) -> bool:
        return self.status == FIRING

    def resolve(self, at: datetime) -> Alert:
        """This alert, resolved at `at`."""
        return replace(self, status=RESOLVED, ends_at=_aware(at, "at"))


@dataclass
class _Entry:
    alert: Alert  # as firing, with starts_at = first seen
    last_sent: datetime


class AlertBook:
    """Deduplicates alerts across evaluations; returns only what changed.

    - an alert active now and not firing before: returned as firing, `starts_at` = the
      `now` of the update that first saw it (the book owns startsAt: the alert's own
      `starts_at` is replaced);
    - still active: not returned, unless `repeat_interval` (None = never) has passed since
      it was last returned; then it is returned again with its first `starts_at`. Its
      annotations follow the latest evaluation;
    - firing before and not active now: returned resolved, `ends_at` = `now`, and
      forgotten, so the same alert active later fires again with a new `starts_at`.

    `firing=` seeds the book with alerts already notified (e.g. kept in a resource's status
    across an operator restart), so they are not announced again.
    """

    def __init__(
        self,
        repeat_interval: timedelta | None = DEFAULT_REPEAT_INTERVAL,
        firing: Iterable[Alert] = (),
    ):
        if repeat_interval is not None and repeat_interval <= timedelta(0):
            raise ValueError("repeat_interval must be positive (or None for never)")
        self.repeat_interval = repeat_interval
        self._entries: dict[str, _Entry] = {}
        for alert in firing:
            if alert.firing:
                self._entries[alert.fingerprint] = _Entry(alert, alert.starts_at)

    def update(self, active: Iterable[Alert], now: datetime) -> list[Alert]:
        """The transitions since the last update: newly firing (and repeated) alerts in the
        order given, then resolved ones in the order they fired."""
        _aware(now, "now")
        current: dict[str, Alert] = {}
        for alert in active:
            if not alert.firing:
                raise ValueError(
                    f"update() takes the alerts active now; {alert.alertname} is resolved"
                )
            current[alert.fingerprint] = alert  # the same alert twice: the last one wins
        out: list[Alert] = []
        for fp, alert in current.items():
            entry = self._entries.get(fp)
            if entry is None:
                started = replace(alert, starts_at=now, ends_at=None)
                self._entries[fp] = _Entry(started, now)
                out.append(started)
                continue
            entry.alert = replace(alert, starts_at=entry.alert.starts_at, ends_at=None)
            if self.repeat_interval is not None and now - entry.last_sent >= self.repeat_interval:
                entry.last_sent = now
                out.append(entry.alert)
        for fp in [fp for fp in self._entries if fp not in current]:
            out.append(self._entries.pop(fp).alert.resolve(now))
        return out

    def firing(self) -> list[Alert]:
        """The alerts firing now (as last returned or updated), in the order they fired."""
        return [entry.alert for entry in self._entries.values()]

    def __len__(self) -> int:
        return len(self._entries)
