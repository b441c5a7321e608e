"""The operator end to end, on the real API server, Flink session cluster and Kafka.

`helm install` the chart; run the operator as a process beside it (no kubelet runs its pod),
with the command of the chart's Deployment and the environment of its ConfigMap; apply the
example job; then upgrade, suspend, resume, kill, hold and delete it, and read the outcome
from the API server, Flink and a webhook server standing in for Alertmanager.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from kafka_outputs import PARTITIONS, send_messages
from kafka_reader import read_to_end
from kube_tools import helm, kubectl, kubectl_json, service_account_kubeconfig, wait_for

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.pacing import paced
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import KafkaSink
from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.stack.process import port_free

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "flinksqljob-pipeline.yaml"
CHART = ROOT / "helm" / "advertisex"


class Webhook:
    """An Alertmanager webhook receiver: keeps every JSON body posted to it."""

    def __init__(self):
        self.payloads: list[dict] = []
        received = self.payloads

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def with_status(self, status: str) -> list[dict]:
        return [p for p in self.payloads if p["status"] == status]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def installed(kube, flink, tmp_path_factory):
    """The chart installed for one namespace, and the operator running beside it."""
    cfg = kube
    namespace = f"jobs-{uuid.uuid4().hex[:6]}"
    webhook = Webhook()
    metrics_port = free_port()
    kubectl(cfg, "create", "namespace", namespace)
    helm(
        cfg,
        "install",
        "adx",
        str(CHART),
        "--namespace",
        namespace,
        "--set",
        f"watchNamespaces={{{namespace}}}",
        "--set",
        f"flink.restUrl={flink.flink_rest_url}",
        "--set",
        f"kafka.bootstrapServers={flink.kafka_bootstrap}",
        "--set",
        "operator.reconcileIntervalSeconds=1",
        "--set",
        f"operator.metricsPort={metrics_port}",
        "--set-json",
        f'alerts.receivers=[{{"name":"test","url":"{webhook.url}"}}]',
    )
    deployment = kubectl_json(cfg, "-n", namespace, "get", "deployment", "adx-advertisex-operator")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    config_map = next(
        source["configMapRef"]["name"]
        for source in container["envFrom"]
        if "configMapRef" in source
    )
    env = kubectl_json(cfg, "-n", namespace, "get", "configmap", config_map)["data"]
    command = [*container.get("command", []), *container.get("args", [])]
    assert command[:2] == ["kopf", "run"], command
    home = tmp_path_factory.mktemp("operator")
    log = home / "operator.log"
    # The operator acts as its ServiceAccount: the chart's RBAC is all it has.
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    identity = service_account_kubeconfig(cfg, namespace, account, home / "kubeconfig")
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "kopf"), *command[1:]],
            env={**os.environ, **env, "KUBECONFIG": identity},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for("the operator's /metrics", lambda: not port_free("127.0.0.1", metrics_port), 60)
        yield {
            "cfg": cfg,
            "flink": flink,
            "namespace": namespace,
            "webhook": webhook,
            "metrics": f"http://127.0.0.1:{metrics_port}/metrics",
            "log": log,
            "process": process,
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        webhook.server.shutdown()


def example_job(prefix: str) -> dict:
    """The example as a user applies it, with a topic prefix of this test's own."""
    docs = [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d and d["kind"] == "FlinkSqlJob"]
    job = docs[0]
    job["spec"]["job"]["topicPrefix"] = prefix
    # Small window and interval so the hold below is seen in seconds, not minutes.
    job["spec"]["lagAlert"] = {
        "maxLagRecords": 50,
        "maxLagSeconds": 5,
        "window": 3,
        "intervalSeconds": 1,
    }
    # Its own receiver's address exists only in a cluster; the chart's (this test's) stays.
    job["spec"]["alertReceivers"] = []
    # dq_metrics windows of 4 s; the monitor is switched on later (step 6), on the fly.
    job["spec"]["job"]["dqWindowSeconds"] = 4
    job["spec"]["dataQuality"] = {"enabled": False}
    job["spec"]["savepoints"]["directory"] = Path(
        f"/tmp/advertisex-e2e-{prefix}savepoints"
    ).as_uri()
    return job


def status_of(env, name: str) -> dict:
    found = kubectl(
        env["cfg"], "-n", env["namespace"], "get", "fsj", name, "-o", "json", check=False
    )
    return json.loads(found.stdout).get("status", {}) if found.returncode == 0 else {}


def events_of(env, name: str) -> list[tuple[str, str, str]]:
    listed = kubectl_json(
        env["cfg"],
        "-n",
        env["namespace"],
        "get",
        "events",
        "--field-selector",
        f"involvedObject.name={name}",
    )
    return [(e["type"], e["reason"], e["message"]) for e in listed["items"]]


def condition(status: dict, type_: str) -> dict:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def wait_condition(env, name: str, type_: str, value: str, timeout: float = 120) -> dict:
    """The status once its type_ condition has value; on timeout the error shows the status."""
    seen: dict = {}

    def probe():
        seen["status"] = status_of(env, name)
        return condition(seen["status"], type_).get("status") == value and seen["status"]

    try:
        return wait_for(f"{type_} {value}", probe, timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; status: {json.dumps(seen.get('status'), indent=1)}") from None


def patch_spec(env, name: str, spec: dict) -> None:
    kubectl(
        env["cfg"],
        "-n",
        env["namespace"],
        "patch",
        "fsj",
        name,
        "--type=merge",
        "-p",
        json.dumps({"spec": spec}),
    )


def wait_stable(env, name: str, not_job: str | None = None) -> dict:
    def stable():
        status = status_of(env, name)
        job = status.get("jobStatus", {})
        if status.get("lifecycleState") == "STABLE" and job.get("jobId") not in (None, not_job):
            return status
        return None

    return wait_for(f"{name} STABLE with a new job", stable, timeout=240)


def produce(env, prefix: str, seed: int, seconds: int) -> list:
    """Clean simulated traffic (no anomaly knob on) onto the raw topics; the messages sent."""
    sim = Simulator(
        SimulationConfig(
            start_ms=int(time.time() * 1000),
            seed=seed,
            duration_s=seconds,
            bid_rate=20,
            diurnal=False,  # the same volume at whatever hour the test runs
        )
    )
    messages = list(sim.events())
    send_messages(env["flink"].kafka_bootstrap, prefix, messages, sim.campaigns())
    return messages


def produce_live(env, prefix: str, seed: int, seconds: int, **knobs) -> None:
    """Simulated traffic sent as it happens (speed 1), so that dq_metrics' arrival windows
    see its rate; knobs are the simulator's anomaly knobs."""
    start_ms = int(time.time() * 1000)
    config = SimulationConfig(
        start_ms=start_ms,
        seed=seed,
        duration_s=seconds,
        bid_rate=40,
        diurnal=False,  # the same volume at whatever hour the test runs
        anomalies=Anomalies(**knobs),
    )
    sink = KafkaSink(env["flink"].kafka_bootstrap, topic_prefix=prefix)
    try:
        for message in paced(Simulator(config).events(), start_ms, speed=1.0):
            sink.write(message)
    finally:
        sink.close()


def caught_up(status: dict, since: float) -> bool:
    """A lag check after `since` (epoch s) saw every partition of the job's topics
    committed to its end (within the transaction marker)."""
    lag = status.get("lag") or {}
    if "evaluatedAt" not in lag or datetime.fromisoformat(lag["evaluatedAt"]).timestamp() < since:
        return False
    partitions = lag.get("partitions") or []
    return len(partitions) == 3 * PARTITIONS and all(p["lag"] <= 1 for p in partitions)


def duplicates_counted(env, prefix: str, source: str) -> int:
    """dq_metrics' duplicates of source, summed over the latest row of each window."""
    latest = {}
    for record in read_to_end(env["flink"].kafka_bootstrap, prefix + "dq_metrics"):
        latest[record.key] = json.loads(record.value) if record.value else None
    return sum(r["duplicates"] for r in latest.values() if r and r["source"] == source)


def test_the_operator_runs_upgrades_recovers_alerts_and_deletes(installed):
    env = installed
    cfg, ns, webhook = env["cfg"], env["namespace"], env["webhook"]
    rest = FlinkRest(env["flink"].flink_rest_url)
    prefix = f"op{uuid.uuid4().hex[:6]}."
    ensure_topics(env["flink"].kafka_bootstrap, raw_topic_specs(PARTITIONS, prefix=prefix))
    job = example_job(prefix)
    name = job["metadata"]["name"]

    # The chart's objects are on the API server.
    assert (
        kubectl_json(cfg, "get", "crd", "flinksqljobs.advertisex.io")["spec"]["group"]
        == "advertisex.io"
    )
    roles = kubectl_json(cfg, "-n", ns, "get", "roles")["items"]
    assert any(r["metadata"]["name"].startswith("adx-") for r in roles)

    # 1. kubectl apply: the job runs and the status says so.
    kubectl(cfg, "-n", ns, "apply", "-f", "-", stdin=yaml.safe_dump(job))
    status = wait_stable(env, name)
    first = status["jobStatus"]["jobId"]
    assert rest.state(first) == "RUNNING"
    assert status["jobStatus"]["jobName"] == f"{ns}.{name}"
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "SpecValid")["status"] == "True"
    assert ("Normal", "Created", "submitting the job without state") in events_of(env, name)
    sent = produce(env, prefix, seed=1, seconds=20)
    seen_before = next(m for m in sent if m.source == "impressions")
    # The job has read it all and committed its offsets (at a checkpoint): no lag.
    sent_at = time.time() + 1  # evaluatedAt has whole seconds
    wait_for("the lag back to 0", lambda: caught_up(status_of(env, name), sent_at), timeout=120)

    # 2. Parallelism 1 -> 2: stop with a savepoint, resubmit from it.
    patch_spec(env, name, {"job": {"parallelism": 2}})
    status = wait_stable(env, name, not_job=first)
    second = status["jobStatus"]["jobId"]
    savepoint = status["jobStatus"]["savepointHistory"][0]
    assert savepoint["reason"] == "Upgrading"
    assert rest.state(first) == "FINISHED"
    restored = rest.checkpoints(second)["latest"]["restored"]
    assert restored["external_path"] == savepoint["path"]
    assert {v["parallelism"] for v in rest.job(second)["vertices"]} == {2}
    assert any(r == "SavepointTaken" and savepoint["path"] in m for _, r, m in events_of(env, name))
    # With its state: an impression the first job saw, sent again, is a duplicate now.
    assert duplicates_counted(env, prefix, "impressions") == 0
    send_messages(env["flink"].kafka_bootstrap, prefix, [seen_before])
    wait_for("the redelivery counted", lambda: duplicates_counted(env, prefix, "impressions") == 1)
    copies = [
        r
        for r in read_to_end(env["flink"].kafka_bootstrap, prefix + "impressions")
        if r.key == seen_before.key.encode()
    ]
    assert len(copies) == 1

    # 3. Suspend (a savepoint, no job), then resume from that savepoint.
    patch_spec(env, name, {"job": {"state": "suspended"}})
    status = wait_for(
        "SUSPENDED", lambda: (s := status_of(env, name)).get("lifecycleState") == "SUSPENDED" and s
    )
    suspend_savepoint = status["jobStatus"]["savepointHistory"][0]
    assert suspend_savepoint["reason"] == "Suspending" and "jobId" not in status["jobStatus"]
    assert rest.state(second) == "FINISHED"
    patch_spec(env, name, {"job": {"state": "running"}})
    status = wait_stable(env, name, not_job=second)
    third = status["jobStatus"]["jobId"]
    assert (
        rest.checkpoints(third)["latest"]["restored"]["external_path"] == suspend_savepoint["path"]
    )

    # 4. Kill the Flink job behind the operator's back: it is brought back.
    rest.cancel(third)
    status = wait_stable(env, name, not_job=third)
    assert status["restarts"]["lastReason"].startswith("the Flink job was CANCELED")
    assert any(r == "Recovered" for _, r, _ in events_of(env, name))

    # Nothing so far was lag: upgrades, a suspension and a recovery raise no alert.
    assert webhook.payloads == []

    # 5. Hold the job (its TaskManager stopped) while producing: the lag alert fires.
    taskmanager = _taskmanager_pid(env["flink"])
    os.kill(taskmanager, signal.SIGSTOP)
    try:
        produce(env, prefix, seed=2, seconds=30)
        wait_condition(env, name, "LagHealthy", "False")
        wait_for("a firing webhook", lambda: webhook.with_status("firing"), timeout=60)
    finally:
        os.kill(taskmanager, signal.SIGCONT)
    firing = webhook.with_status("firing")[0]
    alert = firing["alerts"][0]
    assert alert["labels"]["alertname"] == "ConsumerLag"
    assert (alert["labels"]["namespace"], alert["labels"]["name"]) == (ns, name)
    assert alert["annotations"]["runbook"]
    assert any(r == "LagAlertFiring" for _, r, _ in events_of(env, name))
    assert 'advertisex_alerts_firing{alertname="ConsumerLag"' in httpx.get(env["metrics"]).text
    resolved = wait_for("a resolved webhook", lambda: webhook.with_status("resolved"), timeout=180)
    assert resolved[0]["alerts"][0]["fingerprint"] == alert["fingerprint"]
    wait_condition(env, name, "LagHealthy", "True", timeout=30)
    assert any(r == "LagAlertResolved" for _, r, _ in events_of(env, name))
    assert [p["status"] for p in webhook.payloads] == ["firing", "resolved"]

    # 6. Data quality: switched on by a spec change (no resubmission), with thresholds from
    # the resource. Volume baselines are out of this test (bursts of test traffic are not a
    # steady rate; tests/monitor tests them): 20 % malformed records fire the invalid-rate
    # alert, and clean traffic resolves it.
    job_before = status_of(env, name)["jobStatus"]["jobId"]
    patch_spec(
        env,
        name,
        {
            "dataQuality": {
                "enabled": True,
                "thresholds": {
                    "invalidRateMax": 0.1,
                    "graceS": 3,
                    "volumeMinBaseline": 1e9,
                    "silenceMinBaseline": 1e9,
                },
            }
        },
    )
    wait_condition(env, name, "DataQualityHealthy", "True", timeout=60)
    produce_live(env, prefix, seed=3, seconds=16, malformed=0.2)
    status = wait_condition(env, name, "DataQualityHealthy", "False", timeout=30)
    unhealthy = condition(status, "DataQualityHealthy")
    assert "InvalidRecordRate" in unhealthy["reason"], unhealthy
    firing_now = {(f["alertname"], f["source"]) for f in status["dataQuality"]["firing"]}
    assert ("InvalidRecordRate", "bid_requests") in firing_now, firing_now
    produce_live(env, prefix, seed=4, seconds=16)
    wait_condition(env, name, "DataQualityHealthy", "True", timeout=30)
    assert status_of(env, name)["jobStatus"]["jobId"] == job_before
    quality = [
        (p["status"], a["labels"]["source"])
        for p in webhook.payloads
        for a in p["alerts"]
        if a["labels"]["alertname"] == "InvalidRecordRate"
    ]
    assert ("firing", "bid_requests") in quality and ("resolved", "bid_requests") in quality
    invalid = next(
        a
        for p in webhook.payloads
        for a in p["alerts"]
        if a["labels"]["alertname"] == "InvalidRecordRate"
    )
    assert (invalid["labels"]["namespace"], invalid["labels"]["name"]) == (ns, name)
    assert invalid["annotations"]["runbook"]
    reasons = [(t, r, m) for t, r, m in events_of(env, name)]
    assert any(
        (t, r) == ("Warning", "DataQualityAlertFiring") and m.startswith("InvalidRecordRate: ")
        for t, r, m in reasons
    )
    assert any(r == "DataQualityAlertResolved" for _, r, _ in reasons)
    assert not [
        p
        for p in webhook.payloads
        if p["alerts"][0]["labels"]["alertname"]
        not in (
            "ConsumerLag",
            "InvalidRecordRate",
            "InvalidReasonRate",
        )
    ], webhook.payloads

    # 7. A spec the schema refuses never reaches the operator; one it refuses is marked.
    bad = json.loads(json.dumps(job))
    bad["metadata"]["name"] = "bad-parallelism"
    bad["spec"]["job"]["parallelism"] = 0
    refused = kubectl(cfg, "-n", ns, "apply", "-f", "-", stdin=yaml.safe_dump(bad), check=False)
    assert refused.returncode != 0
    assert (
        "spec.job.parallelism" in refused.stderr and "greater than or equal to 1" in refused.stderr
    )
    sasl = json.loads(json.dumps(job))
    sasl["metadata"]["name"] = "no-mechanism"
    sasl["spec"]["kafka"] = {
        "bootstrapServers": env["flink"].kafka_bootstrap,
        "securityProtocol": "SASL_PLAINTEXT",
        "credentialsSecretRef": {"name": "kafka-login"},
    }
    kubectl(cfg, "-n", ns, "apply", "-f", "-", stdin=yaml.safe_dump(sasl))
    refusal = condition(wait_condition(env, "no-mechanism", "SpecValid", "False"), "SpecValid")
    assert refusal["reason"] == "InvalidSpec"
    assert refusal["message"].startswith("spec.kafka.saslMechanism is required")
    assert any(
        t == "Warning" and m == refusal["message"] for t, _, m in events_of(env, "no-mechanism")
    )
    kubectl(cfg, "-n", ns, "delete", "fsj", "no-mechanism", "--wait=true")

    # 8. Delete: the job is stopped with a savepoint and the resource is gone.
    last = status_of(env, name)["jobStatus"]["jobId"]
    kubectl(cfg, "-n", ns, "delete", "fsj", name, "--wait=true", "--timeout=180s")
    assert kubectl(cfg, "-n", ns, "get", "fsj", name, check=False).returncode != 0
    assert rest.state(last) == "FINISHED"
    assert any(r == "Deleting" for _, r, _ in events_of(env, name))


def _taskmanager_pid(flink_cfg) -> int:
    from advertisex.stack import supervisor

    [service] = [
        s
        for s in supervisor.select(flink_cfg, ["flink-taskmanager"])
        if s.name == "flink-taskmanager"
    ]
    # The launcher script's group: its java process is the one holding the slots.
    group = supervisor.process_of(service).pid()
    java = subprocess.run(
        ["pgrep", "-g", str(group), "java"], capture_output=True, text=True
    ).stdout.split()
    return int(java[0])
