"""Apache Pinot's four roles, each its own JVM: ZooKeeper, controller, broker and server.

Started through PinotAdministrator with a properties file per role that binds it to
loopback; the server consumes our Kafka through the pinot-kafka plugin on the class path.
"""

from __future__ import annotations

import socket
from importlib import resources

import httpx

from advertisex.stack.config import StackConfig
from advertisex.stack.jars import classpath
from advertisex.stack.service import Launch, Service, properties_text
from advertisex.stack.tools import java_binary

ADMIN = "org.apache.pinot.tools.admin.PinotAdministrator"
CLUSTER = "AdvertiseX"
LOG4J2 = resources.files("advertisex.stack") / "conf" / "pinot-log4j2.xml"

# What Pinot's own launcher opens up on Java 17 (Netty, Chronicle, direct memory).
_OPENS = [
    f"--add-opens=java.base/{pkg}=ALL-UNNAMED"
    for pkg in (
        "java.nio",
        "sun.nio.ch",
        "java.lang",
        "java.util",
        "java.lang.reflect",
        "jdk.internal.misc",
    )
] + [
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
]


def _role_conf(cfg: StackConfig, role: str, data: str) -> dict[str, object]:
    host, zk = cfg.host, cfg.zookeeper_address
    if role == "controller":
        port = cfg.pinot_controller_port
        return {
            "controller.helix.cluster.name": CLUSTER,
            "controller.zk.str": zk,
            "controller.host": host,
            "controller.port": port,
            "controller.access.protocols": "http",
            "controller.access.protocols.http.host": host,
            "controller.access.protocols.http.port": port,
            "controller.data.dir": f"{data}/deepstore",
            "controller.local.temp.dir": f"{data}/tmp",
        }
    common = {
        "pinot.zk.server": zk,
        "pinot.cluster.name": CLUSTER,
        "pinot.set.instance.id.to.hostname": "true",
    }
    if role == "broker":
        port = cfg.pinot_broker_port
        return {
            **common,
            "pinot.broker.hostname": host,
            "pinot.broker.client.queryPort": port,
            "pinot.broker.client.access.protocols": "http",
            "pinot.broker.client.access.protocols.http.host": host,
            "pinot.broker.client.access.protocols.http.port": port,
        }
    admin = cfg.pinot_server_admin_port
    return {
        **common,
        "pinot.server.netty.host": host,
        "pinot.server.netty.port": cfg.pinot_server_port,
        "pinot.server.adminapi.port": admin,
        "pinot.server.adminapi.access.protocols": "http",
        "pinot.server.adminapi.access.protocols.http.host": host,
        "pinot.server.adminapi.access.protocols.http.port": admin,
        "pinot.server.grpc.enable": "false",
        "pinot.server.instance.dataDir": f"{data}/index",
        "pinot.server.instance.segmentTarDir": f"{data}/segments",
        "pinot.server.instance.realtime.alloc.offheap": "true",
    }


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _zookeeper_serving(host: str, port: int) -> bool:
    """ZooKeeper answers its `srvr` four-letter word once it serves clients."""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"srvr")
            return sock.recv(64).startswith(b"Zookeeper version")
    except OSError:
        return False


def pinot_services(cfg: StackConfig) -> list[Service]:
    root = cfg.state_dir / "pinot"

    def jvm(role: str, heap: str) -> list[str]:
        return [
            java_binary(),
            f"-Xms{min_heap(heap)}",
            f"-Xmx{heap}",
            *_OPENS,
            f"-Djava.io.tmpdir={root / role / 'tmp'}",
            f"-Dlog4j2.configurationFile={LOG4J2}",
            # ZooKeeper's admin HTTP server would take port 8080.
            "-Dzookeeper.admin.enableServer=false",
            "-Dio.netty.tryReflectionSetAccessible=true",
            "-cp",
            classpath("pinot"),
            ADMIN,
        ]

    def prepare_zookeeper() -> Launch:
        home = root / "zookeeper"
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        return Launch(
            [
                *jvm("zookeeper", cfg.zookeeper_heap),
                "StartZookeeper",
                "-zkPort",
                str(cfg.zookeeper_port),
                "-dataDir",
                str(home / "data"),
            ]
        )

    def role_launcher(role: str, command: str, heap: str):
        def prepare() -> Launch:
            home = root / role
            (home / "tmp").mkdir(parents=True, exist_ok=True)
            conf = home / f"{role}.conf"
            conf.write_text(properties_text(_role_conf(cfg, role, str(home / "data"))))
            return Launch([*jvm(role, heap), command, "-configFileName", str(conf)])

        return prepare

    return [
        Service(
            name="pinot-zookeeper",
            home=root / "zookeeper",
            prepare=prepare_zookeeper,
            healthy=lambda: _zookeeper_serving(cfg.host, cfg.zookeeper_port),
            ports={"zookeeper_port": cfg.zookeeper_port},
            url=f"zk://{cfg.zookeeper_address}",
        ),
        Service(
            name="pinot-controller",
            home=root / "controller",
            prepare=role_launcher("controller", "StartController", cfg.pinot_controller_heap),
            healthy=lambda: _http_ok(f"{cfg.pinot_controller_url}/health"),
            ports={"pinot_controller_port": cfg.pinot_controller_port},
            after=("pinot-zookeeper",),
            url=cfg.pinot_controller_url,
        ),
        Service(
            name="pinot-broker",
            home=root / "broker",
            prepare=role_launcher("broker", "StartBroker", cfg.pinot_broker_heap),
            healthy=lambda: _http_ok(f"{cfg.pinot_broker_url}/health"),
            ports={"pinot_broker_port": cfg.pinot_broker_port},
            after=("pinot-controller",),
            url=cfg.pinot_broker_url,
        ),
        Service(
            name="pinot-server",
            home=root / "server",
            prepare=role_launcher("server", "StartServer", cfg.pinot_server_heap),
            healthy=lambda: _http_ok(f"http://{cfg.host}:{cfg.pinot_server_admin_port}/health"),
            ports={
                "pinot_server_port": cfg.pinot_server_port,
                "pinot_server_admin_port": cfg.pinot_server_admin_port,
            },
            after=("pinot-controller", "kafka"),
        ),
    ]


def min_heap(heap: str) -> str:
    """Start with a quarter of the maximum heap (at least 128m), so idle roles stay small."""
    units = {"k": 1 / 1024, "m": 1, "g": 1024}
    mb = float(heap[:-1]) * units[heap[-1].lower()] if heap[-1].isalpha() else int(heap) / 2**20
    return f"{max(128, int(mb / 4))}m"
