"""examples/*.yaml parse, and each FlinkSqlJob in them validates against the CRD's schema.

The CRD's openAPIV3Schema is checked with jsonschema after dropping the Kubernetes-only
x-kubernetes-* keys. Like the API server (kubectl apply validates fields strictly), an
object schema refuses fields it does not list. The CEL rules (x-kubernetes-validations) are
NOT checked here: a test against a real API server checks them.
"""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml
from helm_chart import CHART, ROOT

EXAMPLES = ROOT / "examples"
CRD_FILE = CHART / "crds" / "flinksqljobs.advertisex.io.yaml"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def _crd() -> dict:
    return yaml.safe_load(CRD_FILE.read_text())


def _for_jsonschema(schema):
    """The OpenAPI v3 schema as a JSON schema: x-kubernetes-* keys dropped, and objects that
    list their properties closed to others (unless they preserve unknown fields)."""
    if isinstance(schema, list):
        return [_for_jsonschema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    out = {k: _for_jsonschema(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if "properties" in schema and "additionalProperties" not in schema and not preserve:
        out["additionalProperties"] = False
    return out


def _validator() -> jsonschema.Draft7Validator:
    crd = _crd()
    (version,) = [v for v in crd["spec"]["versions"] if v["served"] and v["storage"]]
    schema = _for_jsonschema(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    # apiVersion, kind and metadata are the API server's own, not the CRD's.
    schema["properties"].update(
        apiVersion={"const": f"{crd['spec']['group']}/{version['name']}"},
        kind={"const": crd["spec"]["names"]["kind"]},
        metadata={
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
            },
        },
    )
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _docs(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _jobs() -> list[tuple[str, dict]]:
    return [
        (f"{path.name}:{doc['metadata']['name']}", doc)
        for path in EXAMPLE_FILES
        for doc in _docs(path)
        if doc.get("kind") == "FlinkSqlJob"
    ]


def _by_name(name: str) -> dict:
    return next(doc for _, doc in _jobs() if doc["metadata"]["name"] == name)


def test_the_examples_are_there():
    names = {p.name for p in EXAMPLE_FILES}
    assert {
        "flinksqljob-pipeline.yaml",
        "kafka-credentials-secret.yaml",
        "flinksqljob-sasl.yaml",
    } <= names


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_each_example_parses_into_kubernetes_objects(path):
    docs = _docs(path)
    assert docs, f"{path.name} holds no object"
    for doc in docs:
        assert isinstance(doc, dict)
        assert doc.get("apiVersion") and doc.get("kind"), doc
        assert doc["metadata"]["name"]
        # Applied as they are into any namespace: none is pinned to one.
        assert "namespace" not in doc["metadata"]


@pytest.mark.parametrize(("where", "job"), _jobs(), ids=[w for w, _ in _jobs()])
def test_each_flinksqljob_validates_against_the_crd(where, job):
    errors = sorted(_validator().iter_errors(job), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "change",
    [
        {"job": {"pipeline": "another-job"}},
        {"job": {"pipeline": "advertisex-pipeline", "parallelism": 0}},
        {"job": {"pipeline": "advertisex-pipeline", "upgradeMode": "fast"}},
        {"job": {"pipeline": "advertisex-pipeline", "paralelism": 2}},
        {"savepoints": {"directory": "/tmp/no-scheme"}},
        {"flink": {"restUrl": "flink-jobmanager:8081"}},
        {"kafka": {"bootstrapServers": "k:9092", "saslMechanism": "GSSAPI"}},
        {"alertReceivers": [{"name": "a"}]},
    ],
    ids=[
        "unknown-pipeline",
        "zero-parallelism",
        "unknown-upgrade-mode",
        "misspelt-field",
        "savepoint-dir-not-a-uri",
        "rest-url-without-scheme",
        "unknown-sasl-mechanism",
        "receiver-without-url",
    ],
)
def test_the_schema_check_refuses_a_broken_job(change):
    job = copy.deepcopy(_by_name("advertisex-pipeline"))
    job["spec"].update(change)
    assert list(_validator().iter_errors(job)), f"accepted: {change}"


def test_pipeline_example():
    job = _by_name("advertisex-pipeline")
    spec = job["spec"]
    assert spec["job"]["pipeline"] == "advertisex-pipeline"
    assert spec["job"]["parallelism"] == 1
    assert spec["job"]["upgradeMode"] == "savepoint"
    assert spec["savepoints"]["directory"] == "file:///tmp/advertisex/savepoints"
    assert spec["lagAlert"]["maxLagRecords"] == 1000
    assert spec["lagAlert"]["maxLagSeconds"] == 60
    assert len(spec["alertReceivers"]) == 1
    # The chart's flink.restUrl and kafka values apply.
    assert "flink" not in spec and "kafka" not in spec


def test_sasl_example_names_the_example_secret():
    (secret,) = _docs(EXAMPLES / "kafka-credentials-secret.yaml")
    assert (secret["apiVersion"], secret["kind"], secret["type"]) == ("v1", "Secret", "Opaque")
    (job,) = _docs(EXAMPLES / "flinksqljob-sasl.yaml")
    kafka = job["spec"]["kafka"]
    assert kafka["securityProtocol"].startswith("SASL_")
    assert kafka["saslMechanism"]
    ref = kafka["credentialsSecretRef"]
    assert ref["name"] == secret["metadata"]["name"]
    # The keys the operator reads, by the CRD's defaults unless the ref names others.
    props = _crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    ref_schema = props["spec"]["properties"]["kafka"]["properties"]["credentialsSecretRef"]
    for key in ("usernameKey", "passwordKey"):
        wanted = ref.get(key, ref_schema["properties"][key]["default"])
        assert secret["stringData"][wanted], f"the Secret has no {wanted}"
