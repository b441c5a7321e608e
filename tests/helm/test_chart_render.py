"""The chart as the real helm renders it: RBAC scope, the operator's command and config.

Each test renders helm/advertisex with `helm template` (the pinned helm, built from Go
modules) and checks the objects a cluster would get.
"""

from __future__ import annotations

import json
import os
import re

import kopf.cli
import pytest
import yaml
from helm_chart import CHART, RELEASE, RELEASE_NAMESPACE, ROOT

OPERATOR = f"{RELEASE}-advertisex-operator"
JOBS_SA = f"{RELEASE}-advertisex-flink-jobs"
CRDS_CLUSTER_ROLE = f"{RELEASE_NAMESPACE}-{RELEASE}-advertisex-crds"

ENV_CONTRACT = {
    "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_BOOTSTRAP",
    "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_SECURITY_PROTOCOL",
    "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_SASL_MECHANISM",
    "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_CREDENTIALS_SECRET",
    "ADVERTISEX_OPERATOR_DEFAULT_FLINK_REST_URL",
    "ADVERTISEX_OPERATOR_RECEIVERS",
    "ADVERTISEX_OPERATOR_EXTERNAL_URL",
    "ADVERTISEX_OPERATOR_RECONCILE_INTERVAL_S",
    "ADVERTISEX_OPERATOR_METRICS_PORT",
}


def operator_container(rendered) -> dict:
    deployment = rendered.one("Deployment", OPERATOR, RELEASE_NAMESPACE)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def kopf_params(command: list[str]) -> dict:
    """The command parsed by the installed kopf's own CLI (an unknown flag raises)."""
    assert command[:2] == ["kopf", "run"]
    return kopf.cli.run.make_context("run", command[2:]).params


def rules_of(role: dict) -> list[dict]:
    return role.get("rules") or []


def operator_bindings(rendered) -> list[dict]:
    return [
        b
        for b in rendered.of_kind("RoleBinding") + rendered.of_kind("ClusterRoleBinding")
        if any(s["name"] == OPERATOR for s in b["subjects"])
    ]


# --- lint -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [[], ["--set", "watchNamespaces={a,b}"]], ids=["cluster-wide", "namespaced"]
)
def test_helm_lint_passes_strictly(helm, args):
    result = helm("lint", "--strict", str(CHART), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_the_crd_is_rendered_with_include_crds(render):
    rendered = render()
    (crd,) = rendered.of_kind("CustomResourceDefinition")
    assert crd["metadata"]["name"] == "flinksqljobs.advertisex.io"


# --- scope: watchNamespaces drives RBAC and the command alike -------------------------------


def test_cluster_wide_by_default(render):
    rendered = render()
    command = operator_container(rendered)["command"]
    params = kopf_params(command)
    assert params["clusterwide"] is True
    assert params["namespaces"] == ()
    assert "--all-namespaces" in command

    cluster_roles = {r["metadata"]["name"]: r for r in rendered.of_kind("ClusterRole")}
    operator_role = f"{RELEASE_NAMESPACE}-{RELEASE}-advertisex-operator"
    assert set(cluster_roles) == {CRDS_CLUSTER_ROLE, operator_role}
    bindings = {b["metadata"]["name"]: b for b in rendered.of_kind("ClusterRoleBinding")}
    assert set(bindings) == {CRDS_CLUSTER_ROLE, operator_role}
    for name, binding in bindings.items():
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": name,
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": OPERATOR, "namespace": RELEASE_NAMESPACE}
        ]
    # kopf -A follows the namespaces.
    assert {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]} in (
        rules_of(cluster_roles[operator_role])
    )
    # No namespaced Role for the operator: the ClusterRole covers every namespace.
    assert [r["metadata"]["name"] for r in rendered.of_kind("Role")] == [JOBS_SA]


def test_watch_namespaces_gives_a_role_in_each_and_namespace_flags(render):
    rendered = render("--set", "watchNamespaces={a,b}")
    command = operator_container(rendered)["command"]
    params = kopf_params(command)
    assert params["clusterwide"] is False
    assert params["namespaces"] == ("a", "b")
    assert "--namespace=a" in command and "--namespace=b" in command
    assert "--all-namespaces" not in command and "-A" not in command

    roles = [r for r in rendered.of_kind("Role") if r["metadata"]["name"] == OPERATOR]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["a", "b"]
    bindings = [b for b in rendered.of_kind("RoleBinding") if b["metadata"]["name"] == OPERATOR]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["a", "b"]
    for binding in bindings:
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": OPERATOR,
        }
        # The operator runs in the release's namespace, whatever namespace it watches.
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": OPERATOR, "namespace": RELEASE_NAMESPACE}
        ]

    # The only cluster-wide grant left: list/watch of the CRDs.
    (cluster_role,) = rendered.of_kind("ClusterRole")
    assert cluster_role["metadata"]["name"] == CRDS_CLUSTER_ROLE
    assert rules_of(cluster_role) == [
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": ["list", "watch"],
        }
    ]
    (cluster_binding,) = rendered.of_kind("ClusterRoleBinding")
    assert cluster_binding["roleRef"]["name"] == CRDS_CLUSTER_ROLE
    # No namespaces rule in namespaced mode.
    for role in rendered.of_kind("Role"):
        assert all("namespaces" not in r["resources"] for r in rules_of(role))


def test_operator_rules_are_the_same_in_both_scopes(render):
    cluster_wide = render()
    namespaced = render("--set", "watchNamespaces={a}")
    operator_cluster_role = next(
        r for r in cluster_wide.of_kind("ClusterRole") if r["metadata"]["name"].endswith("operator")
    )
    role = namespaced.one("Role", OPERATOR, "a")
    namespaces_rule = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}
    assert [r for r in rules_of(operator_cluster_role) if r != namespaces_rule] == rules_of(role)


def test_operator_rules_grant_what_kopf_needs_and_no_more(render):
    role = render("--set", "watchNamespaces={a}").one("Role", OPERATOR, "a")
    grants = {
        (group, resource): sorted(rule["verbs"])
        for rule in rules_of(role)
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert grants == {
        ("advertisex.io", "flinksqljobs"): sorted(["get", "list", "watch", "patch", "update"]),
        ("advertisex.io", "flinksqljobs/status"): sorted(["get", "patch", "update"]),
        ("advertisex.io", "flinksqljobs/finalizers"): ["update"],
        ("", "events"): ["create"],
        ("events.k8s.io", "events"): ["create"],
        ("", "secrets"): ["get"],
    }


@pytest.mark.parametrize("args", [[], ["--set", "watchNamespaces={a,b}"]])
def test_secrets_are_only_get_and_nothing_is_a_wildcard(render, args):
    rendered = render(*args)
    secret_rules = []
    for role in rendered.of_kind("Role") + rendered.of_kind("ClusterRole"):
        for rule in rules_of(role):
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
            if "secrets" in rule["resources"]:
                secret_rules.append(rule)
    assert secret_rules, "no rule reads the Kafka credentials"
    for rule in secret_rules:
        assert rule["verbs"] == ["get"]
        assert rule["resources"] == ["secrets"]


def test_no_kopf_peering_rules(render):
    rendered = render()
    for role in rendered.of_kind("Role") + rendered.of_kind("ClusterRole"):
        for rule in rules_of(role):
            assert not any(g in ("kopf.dev", "zalando.org") for g in rule["apiGroups"])
    assert kopf_params(operator_container(rendered)["command"])["standalone"] is True


def test_watch_namespaces_must_be_exact_names(helm):
    # kopf would take a glob, RBAC cannot grant one: the schema refuses it.
    result = helm("template", RELEASE, str(CHART), "--set", "watchNamespaces={dev-*}")
    assert result.returncode != 0
    assert "watchNamespaces" in result.stderr


# --- every RBAC rule says why ------------------------------------------------------------


def _rule_lines_without_comment(lines: list[str]) -> list[str]:
    missing = []
    for i, line in enumerate(lines):
        if re.match(r"\s*- apiGroups:", line):
            j = i - 1
            # Template control lines ({{- if ... }}) may sit between a comment and its rule.
            while j >= 0 and re.fullmatch(r"\s*\{\{-?.*-?\}\}\s*", lines[j]):
                j -= 1
            if j < 0 or not lines[j].lstrip().startswith("#"):
                missing.append(line.strip())
    return missing


def test_each_rbac_rule_has_a_comment_in_the_template():
    lines = (CHART / "templates" / "rbac.yaml").read_text().splitlines()
    assert sum(1 for line in lines if re.match(r"\s*- apiGroups:", line)) >= 10
    assert _rule_lines_without_comment(lines) == []


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--set", "watchNamespaces={a,b}", "--set", "jobServiceAccount.nativeResourceManager=true"],
    ],
)
def test_each_rbac_rule_has_a_comment_in_the_output(render, args):
    assert _rule_lines_without_comment(render(*args).text.splitlines()) == []


# --- service accounts ------------------------------------------------------------------------


def test_operator_and_flink_jobs_have_different_service_accounts(render):
    rendered = render("--set", "watchNamespaces={a,b}")
    pod = rendered.one("Deployment", OPERATOR)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == OPERATOR
    rendered.one("ServiceAccount", OPERATOR, RELEASE_NAMESPACE)
    # A pod can only use a ServiceAccount of its own namespace: one per watched namespace.
    jobs = [sa for sa in rendered.of_kind("ServiceAccount") if sa["metadata"]["name"] == JOBS_SA]
    assert sorted(sa["metadata"]["namespace"] for sa in jobs) == ["a", "b"]
    assert OPERATOR != JOBS_SA
    for ns in ("a", "b"):
        binding = rendered.one("RoleBinding", JOBS_SA, ns)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": JOBS_SA, "namespace": ns}]
        assert binding["roleRef"]["name"] == JOBS_SA
    # The operator's grants never reach the jobs' account, nor the other way round.
    for binding in operator_bindings(rendered):
        assert [s["name"] for s in binding["subjects"]] == [OPERATOR]


def test_flink_jobs_role_in_the_release_namespace_when_cluster_wide(render):
    rendered = render()
    role = rendered.one("Role", JOBS_SA, RELEASE_NAMESPACE)
    rendered.one("RoleBinding", JOBS_SA, RELEASE_NAMESPACE)
    rendered.one("ServiceAccount", JOBS_SA, RELEASE_NAMESPACE)
    assert rules_of(role) == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get", "list", "watch", "create", "update", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    ]


def test_native_resource_manager_adds_pod_create_and_delete(render):
    rendered = render("--set", "jobServiceAccount.nativeResourceManager=true")
    role = rendered.one("Role", JOBS_SA, RELEASE_NAMESPACE)
    pods = [r for r in rules_of(role) if r["resources"] == ["pods"]]
    assert sorted(v for r in pods for v in r["verbs"]) == sorted(
        ["get", "list", "watch", "create", "delete"]
    )


def test_existing_service_accounts_can_be_named(render):
    rendered = render(
        "--set",
        "serviceAccount.create=false",
        "--set",
        "serviceAccount.name=my-operator",
        "--set",
        "jobServiceAccount.create=false",
    )
    assert rendered.of_kind("ServiceAccount") == []
    pod = rendered.one("Deployment", OPERATOR)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "my-operator"
    for binding in rendered.of_kind("ClusterRoleBinding"):
        assert binding["subjects"][0]["name"] == "my-operator"
    assert not [r for r in rendered.of_kind("Role") if r["metadata"]["name"] == JOBS_SA]


# --- the operator's configuration ------------------------------------------------------------


def test_configmap_holds_the_env_contract_and_the_deployment_reads_it(render):
    rendered = render(
        "--set",
        "kafka.bootstrapServers=broker-0:9093\\,broker-1:9093",
        "--set",
        "kafka.securityProtocol=SASL_SSL",
        "--set",
        "kafka.saslMechanism=SCRAM-SHA-512",
        "--set",
        "kafka.credentialsSecretName=kafka-user",
        "--set",
        "flink.restUrl=http://flink-rest.flink:8081",
        "--set",
        "alerts.externalURL=https://grafana.example/d/lag",
        "--set",
        "operator.reconcileIntervalSeconds=7",
        "--set",
        "operator.metricsPort=9200",
    )
    data = rendered.one("ConfigMap", OPERATOR, RELEASE_NAMESPACE)["data"]
    assert set(data) == ENV_CONTRACT
    assert data == {
        "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_BOOTSTRAP": "broker-0:9093,broker-1:9093",
        "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_CREDENTIALS_SECRET": "kafka-user",
        "ADVERTISEX_OPERATOR_DEFAULT_FLINK_REST_URL": "http://flink-rest.flink:8081",
        "ADVERTISEX_OPERATOR_RECEIVERS": "[]",
        "ADVERTISEX_OPERATOR_EXTERNAL_URL": "https://grafana.example/d/lag",
        "ADVERTISEX_OPERATOR_RECONCILE_INTERVAL_S": "7",
        "ADVERTISEX_OPERATOR_METRICS_PORT": "9200",
    }
    container = operator_container(rendered)
    assert container["envFrom"] == [{"configMapRef": {"name": OPERATOR}}]
    assert {"name": "metrics", "containerPort": 9200, "protocol": "TCP"} in container["ports"]


def test_default_config(render):
    data = render().one("ConfigMap", OPERATOR, RELEASE_NAMESPACE)["data"]
    assert data == {
        "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_BOOTSTRAP": "kafka:9092",
        "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
        "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_SASL_MECHANISM": "",
        "ADVERTISEX_OPERATOR_DEFAULT_KAFKA_CREDENTIALS_SECRET": "",
        "ADVERTISEX_OPERATOR_DEFAULT_FLINK_REST_URL": "http://flink-jobmanager:8081",
        "ADVERTISEX_OPERATOR_RECEIVERS": "[]",
        "ADVERTISEX_OPERATOR_EXTERNAL_URL": "",
        "ADVERTISEX_OPERATOR_RECONCILE_INTERVAL_S": "5",
        "ADVERTISEX_OPERATOR_METRICS_PORT": "9108",
    }


def test_receivers_are_json_equal_to_the_values(render):
    receivers = [
        {
            "name": "oncall",
            "url": "http://alertmanager-webhook.monitoring:9095/alerts?team=ads&x=<1>",
            "groupBy": ["alertname", "namespace", "name"],
        },
        # Quotes, a backslash and non-ASCII text must survive the trip through YAML.
        {"name": 'ad "ops" \\ équipe ✓', "url": "https://hooks.example/é", "groupBy": []},
        {"name": "minimal", "url": "http://x:1/"},
    ]
    rendered = render("--set-json", f"alerts.receivers={json.dumps(receivers)}")
    data = rendered.one("ConfigMap", OPERATOR, RELEASE_NAMESPACE)["data"]
    assert json.loads(data["ADVERTISEX_OPERATOR_RECEIVERS"]) == receivers


def test_receivers_without_a_url_are_refused(helm):
    result = helm(
        "template", RELEASE, str(CHART), "--set-json", 'alerts.receivers=[{"name":"oncall"}]'
    )
    assert result.returncode != 0
    assert "url" in result.stderr


def test_a_config_change_rolls_the_pod(render):
    def checksum(*args):
        deployment = render(*args).one("Deployment", OPERATOR)
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    base = checksum()
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert checksum() == base
    assert checksum("--set", "kafka.bootstrapServers=other:9092") != base
    assert checksum("--set-json", 'alerts.receivers=[{"name":"a","url":"http://a/"}]') != base


# --- the operator's pod ------------------------------------------------------------------


def test_one_operator_at_a_time(render):
    spec = render().one("Deployment", OPERATOR)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_command_is_the_whole_kopf_run(render):
    command = operator_container(render())["command"]
    params = kopf_params(command)
    assert params["modules"] == ("advertisex_operator.handlers",)
    assert params["standalone"] is True
    assert params["liveness_endpoint"] == "http://0.0.0.0:8080/healthz"
    assert params["verbose"] is False and params["quiet"] is False


@pytest.mark.parametrize(
    ("level", "flag"), [("debug", "verbose"), ("warning", "quiet"), ("info", None)]
)
def test_log_level(render, level, flag):
    params = kopf_params(
        operator_container(render("--set", f"operator.logLevel={level}"))["command"]
    )
    for name in ("verbose", "quiet", "debug"):
        assert params[name] is (name == flag)


def test_liveness_probe_calls_kopfs_health_endpoint(render):
    for port, args in ((8080, []), (9000, ["--set", "operator.healthPort=9000"])):
        container = operator_container(render(*args))
        probe = container["livenessProbe"]["httpGet"]
        assert probe == {"path": "/healthz", "port": port}
        assert {"name": "health", "containerPort": port, "protocol": "TCP"} in container["ports"]
        liveness = kopf_params(container["command"])["liveness_endpoint"]
        assert liveness == f"http://0.0.0.0:{port}/healthz"


def test_resources_and_security(render):
    rendered = render()
    container = operator_container(rendered)
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert container["resources"]["limits"] == {"memory": "1Gi"}
    pod = rendered.one("Deployment", OPERATOR)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_scheduling_values_reach_the_pod(render):
    pod = render(
        "--set",
        "nodeSelector.pool=ops",
        "--set-json",
        'tolerations=[{"key":"dedicated","operator":"Equal","value":"ops","effect":"NoSchedule"}]',
    ).one("Deployment", OPERATOR)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "ops"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert "affinity" not in pod


def test_metrics_service(render):
    rendered = render()
    service = rendered.one("Service", OPERATOR, RELEASE_NAMESPACE)
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9108"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9108, "targetPort": "metrics", "protocol": "TCP"}
    ]
    pod_labels = rendered.one("Deployment", OPERATOR)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_labels(render):
    for doc in render().docs:
        if doc["kind"] == "CustomResourceDefinition":
            continue
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "advertisex"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"


# --- image pinning ---------------------------------------------------------------------------


def test_image_is_the_pinned_tag(render):
    image = operator_container(render())["image"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert image == f"advertisex/operator:{chart['appVersion']}"


@pytest.mark.parametrize("tag", ["latest", "Latest", ""])
def test_a_moving_image_tag_fails_the_render(helm, tag):
    result = helm("template", RELEASE, str(CHART), "--set-string", f"image.tag={tag}")
    assert result.returncode != 0
    assert "image.tag must be a pinned version" in result.stderr


def test_latest_appears_nowhere(render):
    rendered = render("--set", "watchNamespaces={a,b}")
    assert ":latest" not in rendered.text
    files = [
        *CHART.rglob("*"),
        ROOT / "operator" / "Dockerfile",
        ROOT / "flink_jobs" / "Dockerfile",
        *(ROOT / "examples").glob("*"),
    ]
    for path in files:
        if path.is_file():
            assert ":latest" not in path.read_text(), path


def test_the_operator_reads_the_configmap_as_rendered(render, monkeypatch):
    # The env contract from the other side: the operator's own settings model, fed the
    # rendered ConfigMap as the pod's environment (envFrom).
    from advertisex_operator.settings import OperatorSettings

    receivers = [{"name": "oncall", "url": "http://hook:9095/", "groupBy": ["alertname"]}]
    rendered = render(
        "--set-json",
        f"alerts.receivers={json.dumps(receivers)}",
        "--set",
        "kafka.credentialsSecretName=kafka-user",
        "--set",
        "operator.reconcileIntervalSeconds=7",
    )
    data = rendered.one("ConfigMap", OPERATOR, RELEASE_NAMESPACE)["data"]
    for name in list(os.environ):
        if name.startswith("ADVERTISEX_OPERATOR_"):
            monkeypatch.delenv(name)
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    settings = OperatorSettings()
    assert settings.default_kafka_bootstrap == "kafka:9092"
    assert settings.default_kafka_security_protocol == "PLAINTEXT"
    assert settings.default_kafka_sasl_mechanism == ""
    assert settings.default_kafka_credentials_secret == "kafka-user"
    assert settings.default_flink_rest_url == "http://flink-jobmanager:8081"
    assert [r.model_dump(by_alias=True) for r in settings.receivers] == receivers
    assert settings.external_url == ""
    assert settings.reconcile_interval_s == 7
    assert settings.metrics_port == 9108
