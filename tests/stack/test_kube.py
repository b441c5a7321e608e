"""The local control plane: etcd and the kube-apiserver built from Go modules, as pinned."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from kube_tools import kubectl, kubectl_json

from advertisex.stack.versions import pinned_versions

CRD = Path(__file__).parents[2] / "helm" / "advertisex" / "crds" / "flinksqljobs.advertisex.io.yaml"


def test_the_api_server_is_the_pinned_kubernetes(kube):
    version = json.loads(kubectl(kube, "version", "-o", "json").stdout)
    expected = "v" + pinned_versions()["kubernetes.version"]
    assert version["serverVersion"]["gitVersion"] == expected
    assert version["clientVersion"]["gitVersion"] == expected


def test_anonymous_requests_are_refused(kube):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    url = f"{kube.kube_apiserver_url}/api/v1/namespaces/default/secrets"
    try:
        urllib.request.urlopen(url, context=context, timeout=5)
        raise AssertionError("an anonymous client listed secrets")
    except urllib.error.HTTPError as exc:
        assert exc.code in (401, 403)


def test_the_crd_schema_refuses_a_bad_spec_naming_the_field(kube):
    kubectl(kube, "apply", "-f", str(CRD))
    kubectl(kube, "wait", "--for=condition=Established", "crd/flinksqljobs.advertisex.io")
    job = {
        "apiVersion": "advertisex.io/v1alpha1",
        "kind": "FlinkSqlJob",
        "metadata": {"name": "no-savepoints", "namespace": "default"},
        "spec": {"job": {"pipeline": "advertisex-pipeline", "upgradeMode": "savepoint"}},
    }
    refused = kubectl(kube, "apply", "-f", "-", stdin=yaml.safe_dump(job), check=False)
    assert refused.returncode != 0
    assert "spec.savepoints: Invalid value" in refused.stderr
    assert "spec.savepoints.directory is required unless spec.job.upgradeMode is stateless" in (
        refused.stderr
    )
    job["spec"]["job"]["pipeline"] = "other"
    refused = kubectl(kube, "apply", "-f", "-", stdin=yaml.safe_dump(job), check=False)
    assert 'spec.job.pipeline: Unsupported value: "other"' in refused.stderr


def test_defaults_come_from_the_schema(kube):
    kubectl(kube, "apply", "-f", str(CRD))
    kubectl(kube, "wait", "--for=condition=Established", "crd/flinksqljobs.advertisex.io")
    job = {
        "apiVersion": "advertisex.io/v1alpha1",
        "kind": "FlinkSqlJob",
        "metadata": {"name": "defaults", "namespace": "default"},
        "spec": {
            "job": {"pipeline": "advertisex-pipeline", "upgradeMode": "stateless"},
            "deletionPolicy": "cancel",
        },
    }
    kubectl(kube, "apply", "-f", "-", stdin=yaml.safe_dump(job))
    stored = kubectl_json(kube, "get", "fsj", "defaults")["spec"]["job"]
    assert (stored["parallelism"], stored["state"], stored["allowNonRestoredState"]) == (
        1,
        "running",
        False,
    )
    kubectl(kube, "delete", "fsj", "defaults")
