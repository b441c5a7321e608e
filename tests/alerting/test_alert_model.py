"""The alert model: Alertmanager's fingerprint, validation, and the book's transitions."""

import ast
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from advertisex.alerting.alert import RESOLVED, Alert, AlertBook, fingerprint

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LABELS = {"alertname": "ConsumerLag", "severity": "warning", "namespace": "ads", "name": "pipeline"}
NOTES = {"summary": "lag", "description": "the group is behind", "runbook": "look at it"}


def reference_fnv1a64(labels: dict[str, str]) -> str:
    """The fingerprint written out plainly: FNV-1a 64 over "name 0xff value 0xff" for the
    names in sorted order (prometheus/common model.labelSetToFingerprint)."""
    data = b"".join(
        name.encode() + b"\xff" + labels[name].encode() + b"\xff" for name in sorted(labels)
    )
    h = 14695981039346656037
    for byte in data:
        h ^= byte
        h = (h * 1099511628211) % 2**64
    return format(h, "016x")


def alert(**labels) -> Alert:
    return Alert({**LABELS, **labels}, NOTES, starts_at=T0)


# Values printed by prometheus/common v0.62.0 (Go): model.LabelSet{...}.Fingerprint().String()
GO_FINGERPRINTS = [
    (LABELS, "a6bbef0c57b37edf"),
    ({}, "cbf29ce484222325"),
    ({"a": "ü"}, "ffd1cb2f240bec9b"),
]


@pytest.mark.parametrize(("labels", "expected"), GO_FINGERPRINTS)
def test_fingerprint_is_alertmanagers(labels, expected):
    assert reference_fnv1a64(labels) == expected
    assert fingerprint(labels) == expected


def test_fingerprint_of_an_alert_depends_on_its_labels_only_not_their_order():
    reordered = dict(reversed(list(LABELS.items())))
    a = Alert(LABELS, NOTES, starts_at=T0)
    b = Alert(reordered, {**NOTES, "summary": "other"}, starts_at=T0 + timedelta(hours=1))
    assert list(reordered) != list(LABELS)
    assert a.fingerprint == b.fingerprint == "a6bbef0c57b37edf"
    assert alert(severity="critical").fingerprint != a.fingerprint


def test_fingerprint_is_the_same_in_another_process_with_another_hash_seed():
    code = (
        "from advertisex.alerting.alert import fingerprint;"
        "print(fingerprint({'severity': 'warning', 'alertname': 'X', 'topic': 'clicks'}))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert outputs == {
        reference_fnv1a64({"alertname": "X", "severity": "warning", "topic": "clicks"})
    }


def test_an_empty_label_value_is_no_label():
    assert alert(group="").labels == LABELS
    assert alert(group="").fingerprint == alert().fingerprint


@pytest.mark.parametrize(
    ("labels", "annotations", "message"),
    [
        ({"severity": "warning"}, NOTES, "alertname"),
        ({"alertname": "X"}, NOTES, "severity"),
        (LABELS, {"summary": "s", "description": "d"}, "runbook"),
        (LABELS, {**NOTES, "runbook": "  "}, "runbook"),
        (LABELS, {**NOTES, "runbook": "step one\nstep two"}, "one line"),
        ({**LABELS, "bad-name": "x"}, NOTES, "label name"),
    ],
)
def test_an_alert_without_its_required_fields_is_refused(labels, annotations, message):
    with pytest.raises(ValueError, match=message):
        Alert(labels, annotations, starts_at=T0)


def test_times_need_a_zone_and_resolved_needs_an_end():
    with pytest.raises(ValueError, match="time zone"):
        Alert(LABELS, NOTES, starts_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="ends_at"):
        Alert(LABELS, NOTES, starts_at=T0, status=RESOLVED)
    resolved = alert().resolve(T0 + timedelta(minutes=5))
    assert (resolved.status, resolved.ends_at) == ("resolved", T0 + timedelta(minutes=5))
    assert resolved.fingerprint == alert().fingerprint


def test_labels_are_copied_not_shared():
    labels = dict(LABELS)
    a = Alert(labels, NOTES, starts_at=T0)
    labels["alertname"] = "Changed"
    assert a.labels["alertname"] == "ConsumerLag"


# -- the book -------------------------------------------------------------------------


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_book_fires_once_does_not_repeat_and_resolves_once():
    book = AlertBook(repeat_interval=None)
    lag = alert(name="a")
    later_text = Alert(lag.labels, {**NOTES, "description": "now 900 behind"}, starts_at=at(9))

    fired = book.update([lag], at(1))
    assert [(a.fingerprint, a.status, a.starts_at, a.ends_at) for a in fired] == [
        (lag.fingerprint, "firing", at(1), None)
    ]
    assert book.update([lag], at(2)) == []
    assert book.update([later_text], at(500)) == []  # no repeat_interval: never again
    assert [a.annotations["description"] for a in book.firing()] == ["now 900 behind"]
    assert book.firing()[0].starts_at == at(1)  # first seen, kept

    resolved = book.update([], at(501))
    assert [(a.status, a.starts_at, a.ends_at) for a in resolved] == [("resolved", at(1), at(501))]
    assert resolved[0].annotations["description"] == "now 900 behind"
    assert book.update([], at(502)) == []
    assert book.firing() == []


def test_book_refires_after_resolve_with_a_new_start():
    book = AlertBook()
    lag = alert()
    book.update([lag], at(0))
    book.update([], at(10))
    again = book.update([lag], at(20))
    assert [(a.status, a.starts_at) for a in again] == [("firing", at(20))]


def test_book_repeats_a_firing_alert_after_the_repeat_interval():
    book = AlertBook(repeat_interval=timedelta(hours=4))
    assert book.repeat_interval == timedelta(hours=4)
    lag = alert()
    assert len(book.update([lag], at(0))) == 1
    assert book.update([lag], at(239)) == []
    repeated = book.update([lag], at(240))
    assert [(a.status, a.starts_at) for a in repeated] == [("firing", at(0))]
    assert book.update([lag], at(241)) == []
    assert len(book.update([lag], at(480))) == 1


def test_book_returns_new_and_resolved_together_and_keeps_the_others_quiet():
    book = AlertBook()
    a, b, c = alert(name="a"), alert(name="b"), alert(name="c")
    book.update([a, b], at(0))
    changes = book.update([b, c], at(1))
    assert [(x.labels["name"], x.status) for x in changes] == [("c", "firing"), ("a", "resolved")]
    assert [x.labels["name"] for x in book.firing()] == ["b", "c"]
    assert len(book) == 2


def test_book_seeded_with_notified_alerts_does_not_announce_them_again():
    notified = Alert(LABELS, NOTES, starts_at=at(-30))
    book = AlertBook(firing=[notified])
    assert book.update([alert()], at(0)) == []
    resolved = book.update([], at(1))
    assert [(x.status, x.starts_at, x.ends_at) for x in resolved] == [("resolved", at(-30), at(1))]


def test_book_refuses_resolved_alerts_as_active_and_naive_times():
    book = AlertBook()
    with pytest.raises(ValueError, match="resolved"):
        book.update([alert().resolve(at(1))], at(1))
    with pytest.raises(ValueError, match="time zone"):
        book.update([], datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        AlertBook(repeat_interval=timedelta(0))


def test_alerting_imports_nothing_else_of_ours():
    package = Path(__file__).parents[2] / "advertisex" / "alerting"
    ours = ("advertisex", "advertisex_operator", "flink_jobs")
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in ours, f"{path.name} imports {name}"
