"""A single-node KRaft Kafka broker (broker and controller in one process)."""

from __future__ import annotations

import subprocess
from importlib import resources

from kafka import KafkaAdminClient
from kafka.errors import RetriableError

from advertisex.stack.config import StackConfig
from advertisex.stack.jars import classpath
from advertisex.stack.service import Launch, Service, properties_text
from advertisex.stack.tools import java_binary

LOG4J2 = resources.files("advertisex.stack") / "conf" / "kafka-log4j2.yaml"


def server_properties(cfg: StackConfig, data_dir: str) -> dict[str, object]:
    host = cfg.host
    return {
        "process.roles": "broker,controller",
        "node.id": 1,
        "controller.quorum.voters": f"1@{host}:{cfg.kafka_controller_port}",
        "listeners": f"PLAINTEXT://{host}:{cfg.kafka_port},CONTROLLER://{host}:{cfg.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{cfg.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": data_dir,
        "num.partitions": cfg.kafka_partitions,
        # One node: the internal topics' default replication factor of 3 would leave
        # consumer groups, transactions and share groups unable to start.
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        # Flink's exactly-once sink asks for 1 h transactions (its default); the broker's
        # 15 min ceiling would refuse them.
        "transaction.max.timeout.ms": 3_600_000,
        # Tests and the demo start consumers right away; don't wait 3 s for more members.
        "group.initial.rebalance.delay.ms": 0,
    }


def kafka_service(cfg: StackConfig) -> Service:
    home = cfg.state_dir / "kafka"
    data_dir = home / "data"
    props_file = home / "server.properties"

    def prepare() -> Launch:
        java = java_binary()
        cp = classpath("kafka")
        home.mkdir(parents=True, exist_ok=True)
        props_file.write_text(properties_text(server_properties(cfg, str(data_dir))))
        log4j = [f"-Dlog4j2.configurationFile={LOG4J2}"]
        if not (data_dir / "meta.properties").exists():
            # KRaft storage is formatted once, with a fresh cluster id.
            cluster_id = subprocess.run(
                [java, *log4j, "-cp", cp, "kafka.tools.StorageTool", "random-uuid"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[-1]
            subprocess.run(
                [
                    java,
                    *log4j,
                    "-cp",
                    cp,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(props_file),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        return Launch(
            [
                java,
                f"-Xmx{cfg.kafka_heap}",
                f"-Xms{cfg.kafka_heap}",
                *log4j,
                "-cp",
                cp,
                "kafka.Kafka",
                str(props_file),
            ]
        )

    def healthy() -> bool:
        try:
            admin = KafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap, request_timeout_ms=3000)
        except RetriableError:  # not reachable yet
            return False
        try:
            return bool(admin.describe_cluster().get("brokers"))
        except RetriableError:
            return False
        finally:
            admin.close()

    return Service(
        name="kafka",
        home=home,
        prepare=prepare,
        healthy=healthy,
        ports={"kafka_port": cfg.kafka_port, "kafka_controller_port": cfg.kafka_controller_port},
        url=f"kafka://{cfg.kafka_bootstrap}",
    )
