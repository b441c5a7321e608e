"""The local stack's settings: ports, memory and the state folder, one set of defaults.

Every field can be set from the environment as ADVERTISEX_<FIELD> (for example
ADVERTISEX_KAFKA_PORT=19092, ADVERTISEX_STATE_DIR=/tmp/stack). The defaults are the
servers' usual ports and heaps that fit a 2-core, 24 GiB machine with room for the tests.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from advertisex.paths import default_state_dir


class StackConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADVERTISEX_", frozen=True)

    state_dir: Path = Field(default_factory=default_state_dir, description="logs, data, pids")
    host: str = Field("127.0.0.1", description="every server listens on loopback only")
    startup_timeout_s: float = Field(240.0, description="how long `up` waits for one server")

    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "1g"
    kafka_partitions: int = Field(4, description="default partitions of auto-created topics")

    zookeeper_port: int = Field(2123, description="Pinot's ZooKeeper (Pinot's own default)")
    zookeeper_heap: str = "256m"
    pinot_controller_port: int = Field(9000, description="REST API and the query console")
    pinot_controller_heap: str = "1g"
    pinot_broker_port: int = Field(8099, description="SQL queries")
    pinot_broker_heap: str = "1g"
    pinot_server_port: int = Field(8098, description="the broker-to-server query port")
    pinot_server_admin_port: int = Field(8097, description="the server's REST and health API")
    pinot_server_heap: str = "2g"

    flink_rest_port: int = Field(8081, description="web UI and REST API")
    flink_rpc_port: int = 6123
    flink_jobmanager_memory: str = Field("1600m", description="jobmanager.memory.process.size")
    flink_taskmanager_memory: str = Field("4g", description="taskmanager.memory.process.size")
    flink_taskmanager_slots: int = 4

    etcd_port: int = Field(2379, description="etcd for the local kube-apiserver")
    etcd_peer_port: int = 2380
    kube_apiserver_port: int = Field(6443, description="the local Kubernetes API (HTTPS)")

    def port_fields(self) -> dict[str, int]:
        return {
            name: getattr(self, name) for name in type(self).model_fields if name.endswith("_port")
        }

    def shifted(self, offset: int, **changes) -> StackConfig:
        """A copy with every port moved by offset: a second stack beside the first (tests)."""
        ports = {name: port + offset for name, port in self.port_fields().items()}
        return self.model_copy(update={**ports, **changes})

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def zookeeper_address(self) -> str:
        return f"{self.host}:{self.zookeeper_port}"

    @property
    def pinot_controller_url(self) -> str:
        return f"http://{self.host}:{self.pinot_controller_port}"

    @property
    def pinot_broker_url(self) -> str:
        return f"http://{self.host}:{self.pinot_broker_port}"

    @property
    def kube_apiserver_url(self) -> str:
        return f"https://{self.host}:{self.kube_apiserver_port}"

    @property
    def flink_rest_url(self) -> str:
        return f"http://{self.host}:{self.flink_rest_port}"
