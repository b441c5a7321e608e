"""A job's Kafka login: from the spec or the operator's defaults, and a Secret."""

from __future__ import annotations

import base64

import pytest
from advertisex_operator.kafka_access import KafkaAccessError, client_properties, effective_kafka
from advertisex_operator.settings import OperatorSettings
from advertisex_operator.spec import KafkaSpec


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secrets(store: dict):
    return lambda namespace, name: store.get((namespace, name))


SASL = KafkaSpec.model_validate(
    {
        "bootstrapServers": "kafka:9092",
        "securityProtocol": "SASL_PLAINTEXT",
        "saslMechanism": "SCRAM-SHA-512",
        "credentialsSecretRef": {"name": "login"},
    }
)


def test_the_secret_becomes_a_jaas_login():
    store = {("ads", "login"): {"username": b64("pipeline"), "password": b64('p"w')}}
    props = client_properties(SASL, "ads", secrets(store))
    assert props["security.protocol"] == "SASL_PLAINTEXT"
    assert props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="pipeline" password="p\\"w";'
    )


def test_a_missing_secret_or_key_says_which_and_how_to_fix_it():
    with pytest.raises(KafkaAccessError, match=r"Secret ads/login does not exist; create it"):
        client_properties(SASL, "ads", secrets({}))
    store = {("ads", "login"): {"username": b64("u")}}
    with pytest.raises(KafkaAccessError, match=r"has no key 'password'"):
        client_properties(SASL, "ads", secrets(store))


def test_plaintext_needs_no_secret():
    plain = KafkaSpec(bootstrap_servers="kafka:9092")
    assert client_properties(plain, "ads", secrets({})) == {}


def test_the_defaults_apply_when_the_spec_names_no_kafka():
    settings = OperatorSettings(
        default_kafka_bootstrap="k:9092",
        default_kafka_security_protocol="SASL_SSL",
        default_kafka_sasl_mechanism="PLAIN",
        default_kafka_credentials_secret="kafka-login",
    )
    kafka = effective_kafka(None, settings)
    assert (kafka.bootstrap_servers, kafka.security_protocol, kafka.sasl_mechanism) == (
        "k:9092",
        "SASL_SSL",
        "PLAIN",
    )
    assert kafka.credentials_secret_ref.name == "kafka-login"
    assert effective_kafka(SASL, settings) is SASL
