"""A Flink standalone session cluster from the PyFlink distribution: one JobManager and one
TaskManager, each its own process, with our connector jars on the class path.

The wheel is a whole Flink distribution (FLINK_HOME = the `pyflink` package). We leave it
untouched: FLINK_CONF_DIR, FLINK_LOG_DIR and FLINK_LIB_DIR point into the state folder, and
that lib/ links the distribution's jars, flink-python (kept in opt/ by the wheel, needed for
Python UDFs) and the connectors resolved by Maven.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import httpx

from advertisex.stack.config import StackConfig
from advertisex.stack.jars import resolve
from advertisex.stack.service import Launch, Service
from advertisex.stack.tools import java_binary

# The distribution's own module-access flags for Java 17 (from its default config.yaml).
_JAVA_OPTS = " ".join(
    [
        "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
        "--add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED",
        "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
        "--add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED",
        "--add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED",
        "--add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED",
        "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
        *(
            f"--add-opens=java.base/{pkg}=ALL-UNNAMED"
            for pkg in (
                "java.lang",
                "java.net",
                "java.io",
                "java.nio",
                "sun.nio.ch",
                "java.lang.reflect",
                "java.text",
                "java.time",
                "java.util",
                "java.util.concurrent",
                "java.util.concurrent.atomic",
                "java.util.concurrent.locks",
            )
        ),
    ]
)


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent


def flink_config(cfg: StackConfig, home: Path) -> dict[str, object]:
    host = cfg.host
    return {
        "env.java.opts.all": _JAVA_OPTS,
        "jobmanager.bind-host": host,
        "jobmanager.rpc.address": host,
        "jobmanager.rpc.port": cfg.flink_rpc_port,
        "jobmanager.memory.process.size": cfg.flink_jobmanager_memory,
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.bind-host": host,
        "taskmanager.host": host,
        "taskmanager.memory.process.size": cfg.flink_taskmanager_memory,
        "taskmanager.numberOfTaskSlots": cfg.flink_taskmanager_slots,
        "parallelism.default": 1,
        "rest.address": host,
        "rest.bind-address": host,
        "rest.port": cfg.flink_rest_port,
        "execution.checkpointing.dir": (home / "checkpoints").as_uri(),
        "execution.checkpointing.savepoint-dir": (home / "savepoints").as_uri(),
        "io.tmp.dirs": str(home / "tmp"),
        # Python UDF workers run with the same interpreter (and packages) as the CLI.
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
    }


def _write_layout(cfg: StackConfig, home: Path) -> dict[str, str]:
    """Write conf/ and lib/ under home; return the environment for Flink's scripts."""
    dist = flink_home()
    conf, lib, log = home / "conf", home / "lib", home / "log"
    for folder in (conf, lib, log, home / "pid", home / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    jars = {
        jar.name: jar
        for jar in [
            *(dist / "lib").glob("*.jar"),
            *(dist / "opt").glob("flink-python-*.jar"),
            *resolve("flink").glob("*.jar"),
        ]
    }
    # Links are only added or dropped, never replaced: a running JobManager reads them.
    for link in lib.iterdir():
        if link.name not in jars or link.resolve() != jars[link.name]:
            link.unlink()
    for name, jar in jars.items():
        if not (lib / name).is_symlink():
            (lib / name).symlink_to(jar)
    for name in ("log4j-console.properties", "log4j.properties", "log4j-cli.properties"):
        shutil.copy(dist / "conf" / name, conf / name)
    # JSON values are valid YAML scalars, and Flink reads flattened keys from config.yaml.
    text = "".join(
        f"{key}: {json.dumps(value)}\n" for key, value in flink_config(cfg, home).items()
    )
    (conf / "config.yaml").write_text(text)
    java = Path(java_binary()).resolve()
    return {
        "FLINK_CONF_DIR": str(conf),
        "FLINK_LOG_DIR": str(log),
        "FLINK_LIB_DIR": str(lib),
        # The scripts keep pid files in /tmp by default, shared by every Flink on the machine.
        "FLINK_PID_DIR": str(home / "pid"),
        "JAVA_HOME": str(java.parent.parent),
    }


def _overview(cfg: StackConfig) -> dict | None:
    try:
        response = httpx.get(f"{cfg.flink_rest_url}/overview", timeout=3)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def flink_services(cfg: StackConfig) -> list[Service]:
    home = cfg.state_dir / "flink"
    dist = flink_home()

    def prepare_jobmanager() -> Launch:
        env = _write_layout(cfg, home)
        return Launch(["bash", str(dist / "bin" / "jobmanager.sh"), "start-foreground"], env)

    def prepare_taskmanager() -> Launch:
        env = _write_layout(cfg, home)
        return Launch(["bash", str(dist / "bin" / "taskmanager.sh"), "start-foreground"], env)

    def taskmanager_registered() -> bool:
        overview = _overview(cfg)
        return bool(overview and overview.get("taskmanagers", 0) >= 1)

    return [
        Service(
            name="flink-jobmanager",
            home=home / "jobmanager",
            prepare=prepare_jobmanager,
            healthy=lambda: _overview(cfg) is not None,
            ports={"flink_rest_port": cfg.flink_rest_port, "flink_rpc_port": cfg.flink_rpc_port},
            url=cfg.flink_rest_url,
        ),
        Service(
            name="flink-taskmanager",
            home=home / "taskmanager",
            prepare=prepare_taskmanager,
            healthy=taskmanager_registered,
            ports={},
            after=("flink-jobmanager",),
        ),
    ]
