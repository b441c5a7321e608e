"""Kafka client security settings: the Java properties, their kafka-python form, and the
environment variable that carries them into the pipeline job."""

import json
import re
import subprocess

import pytest

from advertisex.kafka_auth import (
    PROPERTIES_ENV,
    jaas_options,
    java_client_properties,
    kafka_python_config,
    properties_env,
    properties_from_env,
)

PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
AWKWARD = "p\\a\"ss word\n=x;y'z\té"


def test_plaintext_and_ssl():
    assert java_client_properties("PLAINTEXT", None, None, None) == {}
    assert java_client_properties("SSL", None, None, None) == {"security.protocol": "SSL"}
    # A mechanism means nothing without SASL: ignored.
    assert java_client_properties("PLAINTEXT", "PLAIN", None, None) == {}
    assert kafka_python_config({}) == {}
    assert kafka_python_config({"security.protocol": "SSL"}) == {"security_protocol": "SSL"}


def test_sasl_plain():
    properties = java_client_properties("SASL_PLAINTEXT", "PLAIN", "alice", "s3cret")
    assert properties == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": f'{PLAIN} required username="alice" password="s3cret";',
    }
    assert kafka_python_config(properties) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "alice",
        "sasl_plain_password": "s3cret",
    }


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_scram(mechanism):
    properties = java_client_properties("SASL_SSL", mechanism, "bob", "pw")
    assert properties == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": f'{SCRAM} required username="bob" password="pw";',
    }
    assert kafka_python_config(properties) == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "bob",
        "sasl_plain_password": "pw",
    }


def test_credentials_are_escaped_for_jaas():
    properties = java_client_properties("SASL_PLAINTEXT", "PLAIN", 'a"b\\c', AWKWARD)
    assert properties["sasl.jaas.config"] == (
        f'{PLAIN} required username="a\\"b\\\\c" password="p\\\\a\\"ss word\\n=x;y\'z\\té";'
    )
    config = kafka_python_config(properties)
    assert config["sasl_plain_username"] == 'a"b\\c'
    assert config["sasl_plain_password"] == AWKWARD


def test_jaas_options_read_bare_and_quoted_values():
    text = f'{PLAIN} required username=alice password="a \\"b\\"" debug=true;'
    assert jaas_options(text) == {"username": "alice", "password": 'a "b"', "debug": "true"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("SASL", "PLAIN", "u", "p"), "security protocol 'SASL' is not one of PLAINTEXT, "),
        (("SASL_SSL", None, "u", "p"), "security protocol SASL_SSL needs a SASL mechanism"),
        (("SASL_SSL", "GSSAPI", "u", "p"), "SASL mechanism 'GSSAPI' is not one of PLAIN, "),
        (("SASL_SSL", "PLAIN", None, "p"), "the username is missing or empty"),
        (("SASL_SSL", "PLAIN", "u", ""), "the password is missing or empty"),
        (("SASL_SSL", "PLAIN", None, None), "the username and the password are missing"),
        (("SSL", None, "u", "p"), "with security protocol SSL, which sends none"),
        (("PLAINTEXT", None, None, "p"), "with security protocol PLAINTEXT, which sends none"),
    ],
)
def test_refusals_name_the_missing_piece(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        java_client_properties(*args)


def test_kafka_python_config_refuses_incomplete_jaas():
    with pytest.raises(ValueError, match="sasl.jaas.config has no password"):
        kafka_python_config({"sasl.jaas.config": f'{PLAIN} required username="u";'})
    with pytest.raises(ValueError, match="sasl.jaas.config is missing"):
        kafka_python_config({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"})


def test_properties_travel_through_the_environment():
    properties = java_client_properties("SASL_PLAINTEXT", "SCRAM-SHA-512", "u", AWKWARD)
    environ = properties_env(properties)
    assert list(environ) == [PROPERTIES_ENV]
    assert properties_from_env(environ) == properties
    assert properties_env({}) == {}
    assert properties_from_env({}) == {}
    assert properties_from_env({PROPERTIES_ENV: "  "}) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": "hunter2', "ADVERTISEX_KAFKA_PROPERTIES is not JSON"),
        ('["hunter2"]', "must be a JSON object of strings, not list"),
        ('{"b": 1, "a": null, "c": "hunter2"}', "the values of a, b are not strings"),
    ],
)
def test_properties_from_env_refuses_other_json(text, message):
    with pytest.raises(ValueError, match=message) as raised:
        properties_from_env({PROPERTIES_ENV: text})
    assert "hunter2" not in str(raised.value)  # values may be passwords: never shown


JAAS_READER = """
import java.util.Map;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;
public class ReadJaas {
    public static void main(String[] args) {
        var config = Map.of("sasl.jaas.config", new Password(args[0]));
        var entry = JaasContext.loadClientContext(config).configurationEntries().get(0);
        System.out.print(entry.getLoginModuleName() + "\\0" + entry.getOptions().get("username")
            + "\\0" + entry.getOptions().get("password"));
    }
}
"""


def test_kafka_reads_the_credentials_back(tmp_path):
    """Kafka's own parser of sasl.jaas.config gives back the exact username and password."""
    from advertisex.stack.jars import is_resolved, jar_dir
    from advertisex.stack.tools import MissingTool, java_binary

    try:
        java = java_binary()
    except MissingTool as missing:
        pytest.skip(str(missing))
    if not is_resolved("kafka"):
        pytest.skip("the Kafka jars are not resolved: advertisex stack fetch")
    jars = [next(jar_dir("kafka").glob(f"{name}-*.jar")) for name in ("kafka-clients", "slf4j-api")]
    source = tmp_path / "ReadJaas.java"
    source.write_text(JAAS_READER)
    for username, password in [("alice", "s3cret"), ('a"b\\c', AWKWARD), ("ü", '\\\\"')]:
        jaas = java_client_properties("SASL_SSL", "PLAIN", username, password)["sasl.jaas.config"]
        result = subprocess.run(
            [java, "-cp", ":".join(map(str, jars)), str(source), jaas],
            capture_output=True,
            check=True,
        )
        assert result.stdout.decode().split("\0") == [PLAIN, username, password], json.dumps(jaas)
