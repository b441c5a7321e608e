"""A second, test-only Kafka broker whose client listener requires SASL/PLAIN: started in a
folder of its own on ports of its own (26092, 26093 unless told), beside the test stack,
whose defaults it leaves alone."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from advertisex.kafka_auth import jaas_quote
from advertisex.stack.config import StackConfig
from advertisex.stack.jars import classpath
from advertisex.stack.kafka import LOG4J2, server_properties
from advertisex.stack.process import ManagedProcess, port_free
from advertisex.stack.service import properties_text
from advertisex.stack.tools import java_binary

PORT = 26092
# The broker's own login on its SASL listener (inter-broker traffic).
BROKER_USER, BROKER_PASSWORD = "broker", "broker-secret"


def sasl_server_properties(
    cfg: StackConfig, data_dir: str, users: dict[str, str]
) -> dict[str, object]:
    """The stack's broker settings with the client listener on SASL_PLAINTEXT/PLAIN, which
    accepts users (name -> password)."""
    host = cfg.host
    accounts = {BROKER_USER: BROKER_PASSWORD, **users}
    jaas = " ".join(
        [
            "org.apache.kafka.common.security.plain.PlainLoginModule required",
            f"username={jaas_quote(BROKER_USER)} password={jaas_quote(BROKER_PASSWORD)}",
            *(f"user_{name}={jaas_quote(password)}" for name, password in accounts.items()),
        ]
    )
    return {
        **server_properties(cfg, data_dir),
        "listeners": (
            f"SASL_PLAINTEXT://{host}:{cfg.kafka_port},"
            f"CONTROLLER://{host}:{cfg.kafka_controller_port}"
        ),
        "advertised.listeners": f"SASL_PLAINTEXT://{host}:{cfg.kafka_port}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": _properties_escaped(jaas + ";"),
    }


def _properties_escaped(value: str) -> str:
    """value as a .properties file holds it: Java reads the file as ISO-8859-1 and takes a
    backslash for an escape."""
    escaped = []
    for c in value:
        if c == "\\":
            escaped.append("\\\\")
        elif 32 <= ord(c) < 127:
            escaped.append(c)
        else:
            units = c.encode("utf-16-be")
            escaped += [f"\\u{units[i : i + 2].hex()}" for i in range(0, len(units), 2)]
    return "".join(escaped)


@contextlib.contextmanager
def sasl_kafka(folder: Path, users: dict[str, str], port: int = PORT) -> Iterator[str]:
    """Run the broker under folder until the block ends; yields its bootstrap address."""
    cfg = StackConfig().model_copy(
        update={
            "kafka_port": port,
            "kafka_controller_port": port + 1,
            "kafka_heap": "512m",
            "state_dir": folder,
        }
    )
    for taken in (p for p in (port, port + 1) if not port_free(cfg.host, p)):
        raise RuntimeError(f"port {taken} is in use: the SASL test broker needs it")
    home = Path(folder) / "sasl-kafka"
    data_dir = home / "data"
    props_file = home / "server.properties"
    home.mkdir(parents=True, exist_ok=True)
    props_file.write_text(properties_text(sasl_server_properties(cfg, str(data_dir), users)))
    java, cp = java_binary(), classpath("kafka")
    log4j = f"-Dlog4j2.configurationFile={LOG4J2}"
    storage = [java, log4j, "-cp", cp, "kafka.tools.StorageTool"]
    cluster_id = subprocess.run(
        [*storage, "random-uuid"], check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    subprocess.run(
        [*storage, "format", "-t", cluster_id, "-c", str(props_file)],
        check=True,
        capture_output=True,
        text=True,
    )
    process = ManagedProcess("sasl-kafka", home)
    process.start([java, "-Xmx512m", "-Xms512m", log4j, "-cp", cp, "kafka.Kafka", str(props_file)])
    try:
        _wait_ready(process, cfg.kafka_bootstrap, *next(iter(users.items())))
        yield cfg.kafka_bootstrap
    finally:
        process.stop(timeout=30)


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def _wait_ready(process: ManagedProcess, bootstrap: str, user: str, password: str) -> None:
    deadline = time.monotonic() + 90
    host, port = bootstrap.rsplit(":", 1)
    while True:
        if process.exited() is not None:
            raise RuntimeError(f"the SASL test broker exited:\n{process.tail(30)}")
        if not _listening(host, int(port)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the SASL test broker is not listening:\n{process.tail(30)}")
            time.sleep(0.5)
            continue
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN",
                sasl_plain_username=user,
                sasl_plain_password=password,
                request_timeout_ms=3000,
            )
        except KafkaError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the SASL test broker is not ready:\n{process.tail(30)}"
                ) from None
            time.sleep(1)
            continue
        try:
            if admin.describe_cluster().get("brokers"):
                return
        finally:
            admin.close()
