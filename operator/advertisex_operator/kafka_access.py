"""Where a job's Kafka is and how to log in: the spec or the operator's defaults, plus a Secret."""

from __future__ import annotations

import base64
from collections.abc import Callable

from advertisex.kafka_auth import java_client_properties
from advertisex_operator.settings import OperatorSettings
from advertisex_operator.spec import CredentialsRef, KafkaSpec

# (namespace, secret name) -> the Secret's data (base64 values), or None when it is missing
SecretReader = Callable[[str, str], dict[str, str] | None]


class KafkaAccessError(ValueError):
    """The job's Kafka credentials cannot be read; the message says which and how to fix it."""


def effective_kafka(spec: KafkaSpec | None, settings: OperatorSettings) -> KafkaSpec:
    if spec is not None:
        return spec
    secret = settings.default_kafka_credentials_secret
    return KafkaSpec(
        bootstrap_servers=settings.default_kafka_bootstrap,
        security_protocol=settings.default_kafka_security_protocol,
        sasl_mechanism=settings.default_kafka_sasl_mechanism or None,
        credentials_secret_ref=CredentialsRef(name=secret) if secret else None,
    )


def client_properties(
    kafka: KafkaSpec, namespace: str, read_secret: SecretReader
) -> dict[str, str]:
    """The Java client properties (security, SASL login) for the job and the lag check."""
    ref = kafka.credentials_secret_ref
    if ref is None:
        return java_client_properties(kafka.security_protocol, None, None, None)
    data = read_secret(namespace, ref.name)
    if data is None:
        raise KafkaAccessError(
            f"spec.kafka.credentialsSecretRef.name: Secret {namespace}/{ref.name} does not "
            f"exist; create it with keys {ref.username_key!r} and {ref.password_key!r}"
        )
    missing = [key for key in (ref.username_key, ref.password_key) if key not in data]
    if missing:
        raise KafkaAccessError(
            f"spec.kafka.credentialsSecretRef: Secret {namespace}/{ref.name} has no key "
            f"{', '.join(map(repr, missing))}; add it or set usernameKey/passwordKey"
        )
    username, password = (
        base64.b64decode(data[key]).decode() for key in (ref.username_key, ref.password_key)
    )
    return java_client_properties(kafka.security_protocol, kafka.sasl_mechanism, username, password)
