"""Kafka client security settings: one dict of Java client properties that travels (from
the operator, through an environment variable, into the pipeline job), and the same
settings as kafka-python keyword arguments.

The Java properties are what Flink's Kafka tables take (as `properties.<key>` options)
and what any other Java client takes; kafka_python_config() reads them back for the
Python clients (topic creation, the campaign dimension), so both see one source.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

PROPERTIES_ENV = "ADVERTISEX_KAFKA_PROPERTIES"

SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}

# Kafka parses sasl.jaas.config with java.io.StreamTokenizer: in a quoted value a
# backslash escapes the next character (\n, \r, \t stand for control characters), and a
# raw line break ends the value.
_JAAS_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JAAS_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "a": "\a", "v": "\v"}
_JAAS_OPTION = re.compile(r'([\w.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))', re.DOTALL)


def jaas_quote(value: str) -> str:
    """value as a double-quoted JAAS option value."""
    return '"' + "".join(_JAAS_ESCAPES.get(c, c) for c in value) + '"'


def java_client_properties(
    security_protocol: str,
    sasl_mechanism: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> dict[str, str]:
    """The Java Kafka client properties for a protocol and, with SASL, a mechanism and
    credentials.

    PLAINTEXT gives {} (the clients' default); SSL gives security.protocol only (the JVM's
    default trust store). SASL_PLAINTEXT and SASL_SSL need all of mechanism, username and
    password. A mechanism without SASL is ignored; credentials without SASL are refused
    (they would never be sent).
    """
    if security_protocol not in SECURITY_PROTOCOLS:
        raise ValueError(
            f"security protocol {security_protocol!r} is not one of {', '.join(SECURITY_PROTOCOLS)}"
        )
    if not security_protocol.startswith("SASL_"):
        if username is not None or password is not None:
            raise ValueError(
                f"a username and password were given with security protocol "
                f"{security_protocol}, which sends none: use SASL_PLAINTEXT or SASL_SSL"
            )
        return {} if security_protocol == "PLAINTEXT" else {"security.protocol": security_protocol}
    if sasl_mechanism is None:
        raise ValueError(f"security protocol {security_protocol} needs a SASL mechanism")
    if sasl_mechanism not in LOGIN_MODULES:
        raise ValueError(
            f"SASL mechanism {sasl_mechanism!r} is not one of {', '.join(LOGIN_MODULES)}"
        )
    missing = [
        name for name, value in (("username", username), ("password", password)) if not value
    ]
    if missing:
        raise ValueError(
            f"SASL mechanism {sasl_mechanism} needs a username and a password: "
            f"the {' and the '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            "missing or empty"
        )
    jaas = (
        f"{LOGIN_MODULES[sasl_mechanism]} required "
        f"username={jaas_quote(username)} password={jaas_quote(password)};"
    )
    return {
        "security.protocol": security_protocol,
        "sasl.mechanism": sasl_mechanism,
        "sasl.jaas.config": jaas,
    }


def jaas_options(jaas_config: str) -> dict[str, str]:
    """The key=value options of a sasl.jaas.config entry, quoted values unescaped."""
    options = {}
    for match in _JAAS_OPTION.finditer(jaas_config):
        key, quoted, bare = match.groups()
        options[key] = bare if quoted is None else _jaas_unescape(quoted)
    return options


def _jaas_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _JAAS_UNESCAPES.get(m.group(1), m.group(1)), text, flags=re.S)


def kafka_python_config(properties: Mapping[str, str]) -> dict:
    """The same settings as kafka-python keyword arguments (security_protocol,
    sasl_mechanism, sasl_plain_username, sasl_plain_password); {} for {}.

    Only these settings are translated: other Java properties (bootstrap, SSL stores,
    timeouts) have no place here and are left out.
    """
    config: dict = {}
    if "security.protocol" in properties:
        config["security_protocol"] = properties["security.protocol"]
    if "sasl.mechanism" in properties:
        config["sasl_mechanism"] = properties["sasl.mechanism"]
    if "sasl.jaas.config" in properties:
        options = jaas_options(properties["sasl.jaas.config"])
        for key in ("username", "password"):
            if key not in options:
                raise ValueError(f"sasl.jaas.config has no {key}")
        config["sasl_plain_username"] = options["username"]
        config["sasl_plain_password"] = options["password"]
    if config.get("sasl_mechanism") and "sasl_plain_username" not in config:
        raise ValueError("sasl.mechanism is set but sasl.jaas.config is missing")
    return config


def properties_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The Java client properties in PROPERTIES_ENV (a JSON object of strings); {} if the
    variable is unset or empty."""
    text = environ.get(PROPERTIES_ENV, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{PROPERTIES_ENV} is not JSON ({error.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(
            f"{PROPERTIES_ENV} must be a JSON object of strings, not {type(value).__name__}"
        )
    wrong = sorted(k for k, v in value.items() if not isinstance(v, str))
    if wrong:
        raise ValueError(f"{PROPERTIES_ENV}: the values of {', '.join(wrong)} are not strings")
    return value


def properties_env(properties: Mapping[str, str]) -> dict[str, str]:
    """The environment that hands properties to properties_from_env(); {} for {}."""
    return {PROPERTIES_ENV: json.dumps(dict(properties))} if properties else {}
