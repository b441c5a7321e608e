"""Kafka security settings reach every Kafka client the pipeline job makes: the tables'
connectors, the topic creation and the campaign dimension's consumer in the JVM functions
(through a job parameter). No cluster: the job's main() runs up to submission, and the
planner checks the tables."""

import base64
import json

import pytest
from pyflink.table import TableEnvironment

from advertisex import kafka_admin
from advertisex.contract.topics import CAMPAIGN_TOPIC
from advertisex.kafka_auth import java_client_properties, kafka_python_config, properties_env
from advertisex.stack.jars import resolve
from flink_jobs import pipeline
from flink_jobs.pipeline import OUTPUTS, SOURCES
from flink_jobs.tables import (
    UPSERT_OUTPUTS,
    KafkaOptions,
    KafkaTables,
    connector_properties,
)
from flink_jobs.udfs import CampaignSource

PASSWORD = 'pa"ss\\word'
PROPERTIES = java_client_properties("SASL_SSL", "SCRAM-SHA-512", "alice", PASSWORD)
CLIENT_CONFIG = {
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_plain_username": "alice",
    "sasl_plain_password": PASSWORD,
}
SHADED_JAAS = "org.apache.flink.kafka.shaded." + PROPERTIES["sasl.jaas.config"]
SOURCE_PROPERTIES = {"group.id", "auto.offset.reset", "isolation.level"}
# The sinks' producer tuning (fuller batches within a transaction), not security.
SINK_PROPERTIES = {"linger.ms", "batch.size"}


def descriptors(tables: KafkaTables) -> dict:
    return {
        **{f"raw_{source}": tables.raw_source(source) for source in SOURCES},
        **{name: tables.output_sink(name) for name in OUTPUTS},
    }


def kafka_properties(descriptor) -> dict[str, str]:
    options = dict(descriptor.get_options())
    return {
        k.removeprefix("properties."): v for k, v in options.items() if k.startswith("properties.")
    }


def test_without_properties_the_tables_are_as_before():
    tables = KafkaTables(KafkaOptions(bootstrap="k:1"))
    for name, descriptor in descriptors(tables).items():
        own = SOURCE_PROPERTIES if name.startswith("raw_") else SINK_PROPERTIES
        expected = {"bootstrap.servers"} | own
        assert set(kafka_properties(descriptor)) == expected, name


def test_every_table_carries_the_properties():
    tables = KafkaTables(KafkaOptions(bootstrap="k:1", properties=PROPERTIES))
    connectors = set()
    for name, descriptor in descriptors(tables).items():
        connectors.add(dict(descriptor.get_options())["connector"])
        properties = kafka_properties(descriptor)
        assert properties.pop("bootstrap.servers") == "k:1"
        own = SOURCE_PROPERTIES if name.startswith("raw_") else SINK_PROPERTIES
        assert set(properties) - set(PROPERTIES) == own
        properties = {k: v for k, v in properties.items() if k not in own}
        assert properties == {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": SHADED_JAAS,
        }, name
    assert connectors == {"kafka", "upsert-kafka"}
    assert len(UPSERT_OUTPUTS) < len(OUTPUTS)
    assert PASSWORD not in repr(tables.options)


def test_the_login_module_is_the_connectors_relocated_class():
    assert connector_properties({}) == {}
    assert connector_properties({"security.protocol": "SSL"}) == {"security.protocol": "SSL"}
    plain = java_client_properties("SASL_PLAINTEXT", "PLAIN", "u", "p")
    assert connector_properties(plain)["sasl.jaas.config"] == (
        "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.plain.PlainLoginModule"
        ' required username="u" password="p";'
    )
    # Already relocated, or a module of someone else's: as given.
    shaded = {"sasl.jaas.config": SHADED_JAAS}
    assert connector_properties(shaded) == shaded
    other = {"sasl.jaas.config": 'com.example.Login required token="t";'}
    assert connector_properties(other) == other


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"bootstrap.servers": "x:1"}, "bootstrap.servers: the tables set these"),
        ({"group.id": "g", "isolation.level": "x"}, "group.id, isolation.level: the tables"),
        ({"properties.security.protocol": "SSL"}, "without the `properties.` prefix"),
    ],
)
def test_kafka_options_refuse_what_the_tables_set(properties, message):
    with pytest.raises(ValueError, match=message) as raised:
        KafkaOptions(bootstrap="k:1", properties={**PROPERTIES, **properties})
    assert "alice" not in str(raised.value)


def test_ensure_topics_gives_the_admin_client_the_config(monkeypatch):
    made = []

    class Admin:
        def __init__(self, **kwargs):
            made.append(kwargs)

        def list_topics(self):
            return ["t"]

        def close(self):
            pass

    monkeypatch.setattr(kafka_admin, "KafkaAdminClient", Admin)
    spec = kafka_admin.TopicSpec("t", 1)
    assert kafka_admin.ensure_topics("k:1", [spec]) == []
    assert kafka_admin.ensure_topics("k:1", [spec], CLIENT_CONFIG) == []
    assert kafka_admin.reconcile_topics("k:1", [], CLIENT_CONFIG) == []
    assert made[0] == {"bootstrap_servers": "k:1"}
    assert made[1] == {"bootstrap_servers": "k:1", **CLIENT_CONFIG}
    assert made[2] == {"bootstrap_servers": "k:1", "bootstrap_timeout_ms": 10_000, **CLIENT_CONFIG}


def test_the_campaign_source_travels_to_the_task_managers_as_a_job_parameter():
    properties = connector_properties(PROPERTIES)
    source = CampaignSource(bootstrap="k:1", topic="campaigns", properties=properties)
    # URL-safe base64 of JSON: Flink's `key:value,key:value` map syntax cannot hold JSON.
    parameter = source.job_parameter()
    assert not set(parameter) & set(":,")
    assert json.loads(base64.urlsafe_b64decode(parameter)) == {
        "bootstrap": "k:1",
        "topic": "campaigns",
        "properties": {**PROPERTIES, "sasl.jaas.config": SHADED_JAAS},
    }
    assert json.loads(
        base64.urlsafe_b64decode(CampaignSource(file="/c.jsonl").job_parameter())
    ) == {
        "file": "/c.jsonl",
        "properties": {},
    }
    assert PASSWORD not in repr(source)


class Submitted(Exception):
    """Raised where main() would submit the job."""


@pytest.fixture
def run_main(monkeypatch):
    """main() up to submission: what it gave ensure_topics and build, and its statement set
    (planned with the Kafka connector on the class path, as `flink run` plans it)."""
    seen = {}
    jars = ";".join(j.resolve().as_uri() for j in resolve("flink").glob("*.jar"))
    create, real_build = TableEnvironment.create, pipeline.build

    def create_with_jars(settings):
        env = create(settings)
        env.get_config().set("pipeline.jars", jars)
        return env

    def ensure_topics(bootstrap, specs, client_config=None):
        seen["ensure_topics"] = (bootstrap, client_config)
        return []

    def build(env, tables, campaigns, settings):
        seen.update(tables=tables, campaigns=campaigns, env=env)
        seen["statements"] = real_build(env, tables, campaigns, settings)
        raise Submitted

    monkeypatch.setattr(pipeline.TableEnvironment, "create", staticmethod(create_with_jars))
    monkeypatch.setattr(pipeline, "ensure_topics", ensure_topics)
    monkeypatch.setattr(pipeline, "build", build)

    def run(environ: dict[str, str]) -> dict:
        monkeypatch.delenv("ADVERTISEX_KAFKA_PROPERTIES", raising=False)
        for key, value in environ.items():
            monkeypatch.setenv(key, value)
        with pytest.raises(Submitted):
            pipeline.main(["--bootstrap", "k:1", "--topic-prefix", "p."])
        return seen

    return run


def test_main_passes_the_environments_properties_to_every_client(run_main):
    seen = run_main(properties_env(PROPERTIES))
    assert seen["ensure_topics"] == ("k:1", CLIENT_CONFIG)
    assert seen["tables"].options.properties == PROPERTIES
    # The JVM's campaign consumer is the connector's relocated client: relocated login module.
    assert seen["campaigns"].properties == {**PROPERTIES, "sasl.jaas.config": SHADED_JAAS}
    assert seen["campaigns"].topic == "p." + CAMPAIGN_TOPIC
    parameters = seen["env"].get_config().get("pipeline.global-job-parameters", "")
    assert parameters.split(",")[0] == "adx.campaigns:" + seen["campaigns"].job_parameter()
    # The Kafka connectors accept every table's options (unknown ones would be refused).
    plan = seen["statements"].explain()
    assert plan.count("TableSourceScan(table=[[default_catalog, default_database, raw_") >= 3


def test_main_without_the_variable_is_as_before(run_main):
    seen = run_main({})
    assert seen["ensure_topics"] == ("k:1", {})
    assert seen["tables"].options.properties == {}
    assert seen["campaigns"].properties == {}
    assert kafka_python_config({}) == {}


def test_main_refuses_a_malformed_variable(run_main, monkeypatch):
    monkeypatch.setenv("ADVERTISEX_KAFKA_PROPERTIES", "not json")
    with pytest.raises(ValueError, match="ADVERTISEX_KAFKA_PROPERTIES is not JSON"):
        pipeline.main(["--bootstrap", "k:1"])
