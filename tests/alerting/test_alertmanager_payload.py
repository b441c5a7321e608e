"""Alertmanager's webhook body (version 4), grouping, and delivery to a real HTTP server."""

import json
import socket
import threading
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from advertisex.alerting.alert import Alert
from advertisex.alerting.alertmanager import (
    ZERO_TIME,
    WebhookReceiver,
    group_alerts,
    group_key,
    rfc3339,
    webhook_payload,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RUNBOOK = "Check the job's checkpoints in the Flink UI"


def lag_alert(name: str, severity: str = "warning", **extra) -> Alert:
    return Alert(
        {"alertname": "ConsumerLag", "severity": severity, "namespace": "ads", "name": name},
        {"summary": "consumer lag", "description": f"{name} is behind", "runbook": RUNBOOK},
        starts_at=T0,
        **extra,
    )


def test_rfc3339_as_go_prints_it():
    assert rfc3339(T0) == "2025-03-01T12:00:00Z"
    assert rfc3339(T0 + timedelta(microseconds=500_000)) == "2025-03-01T12:00:00.5Z"
    assert rfc3339(T0 + timedelta(microseconds=123_456)) == "2025-03-01T12:00:00.123456Z"
    plus_two = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(plus_two) == "2025-03-01T12:00:00Z"
    assert rfc3339(None) == ZERO_TIME == "0001-01-01T00:00:00Z"


def test_group_key_is_alertmanagers_for_the_root_route():
    # dispatch.aggrGroup.GroupKey(): "<route key>:<model.LabelSet.String()>"
    assert group_key({"namespace": "ads", "alertname": "ConsumerLag"}) == (
        '{}:{alertname="ConsumerLag", namespace="ads"}'
    )
    assert group_key({}) == "{}:{}"
    assert group_key({"x": 'a"b\\c\nd'}) == '{}:{x="a\\"b\\\\c\\nd"}'


def test_payload_for_one_group_exactly():
    a = lag_alert("pipeline-a", generator_url="http://operator/ads/pipeline-a")
    b = lag_alert("pipeline-b").resolve(T0 + timedelta(minutes=5, seconds=1, milliseconds=250))
    payload = webhook_payload("ops", [a, b], ["alertname", "namespace"], "http://operator")
    assert payload == {
        "version": "4",
        "groupKey": '{}:{alertname="ConsumerLag", namespace="ads"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ops",
        "groupLabels": {"alertname": "ConsumerLag", "namespace": "ads"},
        "commonLabels": {"alertname": "ConsumerLag", "namespace": "ads", "severity": "warning"},
        "commonAnnotations": {"runbook": RUNBOOK, "summary": "consumer lag"},
        "externalURL": "http://operator",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "ConsumerLag",
                    "name": "pipeline-a",
                    "namespace": "ads",
                    "severity": "warning",
                },
                "annotations": {
                    "description": "pipeline-a is behind",
                    "runbook": RUNBOOK,
                    "summary": "consumer lag",
                },
                "startsAt": "2025-03-01T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://operator/ads/pipeline-a",
                "fingerprint": a.fingerprint,
            },
            {
                "status": "resolved",
                "labels": {
                    "alertname": "ConsumerLag",
                    "name": "pipeline-b",
                    "namespace": "ads",
                    "severity": "warning",
                },
                "annotations": {
                    "description": "pipeline-b is behind",
                    "runbook": RUNBOOK,
                    "summary": "consumer lag",
                },
                "startsAt": "2025-03-01T12:00:00Z",
                "endsAt": "2025-03-01T12:05:01.25Z",
                "generatorURL": "",
                "fingerprint": b.fingerprint,
            },
        ],
    }
    assert len(a.fingerprint) == 16 and a.fingerprint != b.fingerprint
    json.dumps(payload)  # a JSON body as is


def test_payload_status_is_resolved_only_when_every_alert_is():
    a = lag_alert("a").resolve(T0 + timedelta(minutes=1))
    b = lag_alert("b").resolve(T0 + timedelta(minutes=2))
    payload = webhook_payload("ops", [a, b], ["alertname"], "")
    assert payload["status"] == "resolved"
    assert payload["commonLabels"] == {
        "alertname": "ConsumerLag",
        "namespace": "ads",
        "severity": "warning",
    }


def test_common_labels_leave_out_labels_that_differ_or_are_missing():
    a = lag_alert("a")
    b = lag_alert("b", severity="critical")
    c = Alert({**b.labels, "group": "g1"}, b.annotations, starts_at=T0)
    payload = webhook_payload("ops", [a, b, c], ["alertname"], "")
    assert payload["commonLabels"] == {"alertname": "ConsumerLag", "namespace": "ads"}
    assert payload["groupLabels"] == {"alertname": "ConsumerLag"}
    assert payload["commonAnnotations"] == {"runbook": RUNBOOK, "summary": "consumer lag"}


def test_max_alerts_truncates_and_counts():
    alerts = [lag_alert(f"p{i}") for i in range(5)]
    payload = webhook_payload("ops", alerts, ["alertname"], "", max_alerts=2)
    assert payload["truncatedAlerts"] == 3
    assert [a["labels"]["name"] for a in payload["alerts"]] == ["p0", "p1"]
    assert payload["commonLabels"] == {
        "alertname": "ConsumerLag",
        "namespace": "ads",
        "severity": "warning",
    }


def test_payload_refuses_alerts_of_several_groups_and_none():
    with pytest.raises(ValueError, match="2 groups"):
        webhook_payload("ops", [lag_alert("a"), lag_alert("b")], ["name"], "")
    with pytest.raises(ValueError, match="at least one"):
        webhook_payload("ops", [], ["name"], "")


def test_group_alerts_by_label_values():
    other = Alert(
        {"alertname": "JobFailed", "severity": "critical", "namespace": "ads", "name": "p1"},
        {"summary": "s", "description": "d", "runbook": RUNBOOK},
        starts_at=T0,
    )
    no_ns = Alert(
        {"alertname": "ConsumerLag", "severity": "warning"},
        {"summary": "s", "description": "d", "runbook": RUNBOOK},
        starts_at=T0,
    )
    alerts = [lag_alert("p1"), other, lag_alert("p2"), no_ns]
    groups = group_alerts(alerts, ["alertname", "namespace"])
    assert [(g.labels, [a.labels.get("name") for a in g.alerts]) for g in groups] == [
        ({"alertname": "ConsumerLag", "namespace": "ads"}, ["p1", "p2"]),
        ({"alertname": "JobFailed", "namespace": "ads"}, ["p1"]),
        ({"alertname": "ConsumerLag"}, [None]),
    ]
    assert [len(g.alerts) for g in group_alerts(alerts, [])] == [4]
    assert [len(g.alerts) for g in group_alerts(alerts, ["..."])] == [1, 1, 1, 1]
    assert groups[0].key == '{}:{alertname="ConsumerLag", namespace="ads"}'


# -- delivery to a real HTTP server ---------------------------------------------------


class Recorder:
    """An HTTP server on 127.0.0.1 that records each POST and answers with the next code
    of `codes` (then 200)."""

    def __init__(self, codes=()):
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.codes = list(codes)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.bodies.append(json.loads(body))
                recorder.headers.append(dict(self.headers))
                code = recorder.codes.pop(0) if recorder.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def receiver(url: str, **kw) -> WebhookReceiver:
    return WebhookReceiver(
        "ops",
        url,
        group_by=["alertname", "name"],
        timeout=2.0,
        external_url="http://operator",
        backoff_s=0.01,
        **kw,
    )


def test_send_posts_one_exact_body_per_group():
    a, b = lag_alert("a"), lag_alert("b").resolve(T0 + timedelta(minutes=1))
    with Recorder() as server:
        results = receiver(server.url).send([a, b])
    assert server.bodies == [
        webhook_payload("ops", [a], ["alertname", "name"], "http://operator"),
        webhook_payload("ops", [b], ["alertname", "name"], "http://operator"),
    ]
    assert server.bodies[1]["status"] == "resolved"
    assert server.headers[0]["Content-Type"] == "application/json"
    assert [(r.ok, r.status, r.http_status, r.attempts, r.alerts, r.outcome) for r in results] == [
        (True, "firing", 200, 1, 1, "success"),
        (True, "resolved", 200, 1, 1, "success"),
    ]
    assert results[0].group_key == '{}:{alertname="ConsumerLag", name="a"}'


def test_send_retries_a_5xx_then_succeeds():
    with Recorder(codes=[503, 500]) as server:
        (result,) = receiver(server.url).send([lag_alert("a")])
    assert (result.ok, result.attempts, result.http_status) == (True, 3, 200)
    assert len(server.bodies) == 3 and server.bodies[0] == server.bodies[2]


def test_send_gives_up_after_the_retries_without_raising():
    with Recorder(codes=[500, 500, 500, 500]) as server:
        (result,) = receiver(server.url, retries=2).send([lag_alert("a")])
    assert (result.ok, result.attempts, result.http_status) == (False, 3, 500)
    assert result.error.startswith("HTTP 500") and result.outcome == "failure"


def test_send_does_not_retry_a_4xx():
    with Recorder(codes=[400]) as server:
        (result,) = receiver(server.url).send([lag_alert("a")])
    assert (result.ok, result.attempts, result.http_status) == (False, 1, 400)
    assert len(server.bodies) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_send_to_a_closed_port_returns_a_failure(caplog):
    sleeps = []
    hook = receiver(f"http://127.0.0.1:{closed_port()}/hook", sleep=sleeps.append)
    results = hook.send([lag_alert("a"), lag_alert("b")])
    assert [(r.ok, r.attempts, r.http_status) for r in results] == [(False, 3, None)] * 2
    assert all("ConnectError" in r.error for r in results)
    assert sleeps == [0.01, 0.02] * 2  # retried with a doubling backoff
    assert "failed after 3 attempt(s)" in caplog.text


def test_send_with_a_bad_url_returns_a_failure():
    (result,) = receiver("not a url").send([lag_alert("a")])
    assert not result.ok and result.error


def test_send_nothing_posts_nothing():
    assert receiver("http://127.0.0.1:1/").send([]) == []
