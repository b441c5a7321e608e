"""`up`, `status` and `down` on real processes: idempotence, clear failures, nothing left."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

from advertisex.stack import supervisor
from advertisex.stack.process import port_free
from advertisex.stack.tools import MissingTool, java_binary


def test_up_is_idempotent(kafka):
    before = {s.name: s.pid for s in supervisor.status(kafka, ["kafka"])}
    events = []
    after = supervisor.up(kafka, ["kafka"], on_event=lambda n, w: events.append((n, w)))
    assert ("kafka", "already running") in events
    assert not any("started" in what for _, what in events)
    assert {s.name: s.pid for s in after} == before
    assert [s.state for s in after] == ["healthy"]


def test_down_leaves_no_process_and_no_port(stack_config, tmp_path):
    cfg = stack_config.shifted(1000, state_dir=tmp_path / "own")
    [started] = supervisor.up(cfg, ["kafka"])
    assert started.state == "healthy"
    pid = started.pid
    assert not port_free(cfg.host, cfg.kafka_port)

    assert supervisor.down(cfg) == ["kafka"]

    assert not Path(f"/proc/{pid}").exists()
    assert port_free(cfg.host, cfg.kafka_port)
    assert port_free(cfg.host, cfg.kafka_controller_port)
    assert [s.state for s in supervisor.status(cfg, ["kafka"])] == ["stopped"]
    assert supervisor.down(cfg) == []


def test_port_in_use_is_named(stack_config, tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        cfg = stack_config.shifted(2000, state_dir=tmp_path / "s").model_copy(
            update={"kafka_port": port}
        )
        with pytest.raises(supervisor.StartFailed) as failure:
            supervisor.up(cfg, ["kafka"])
    message = str(failure.value)
    assert f"kafka: port {port} on 127.0.0.1 is already in use" in message
    assert "ADVERTISEX_KAFKA_PORT=<port>" in message
    assert not (tmp_path / "s" / "kafka" / "pid").exists()


def test_server_that_fails_to_start_points_at_its_log(stack_config, tmp_path):
    cfg = stack_config.shifted(3000, state_dir=tmp_path / "s").model_copy(
        update={"kafka_heap": "lots"}
    )
    with pytest.raises(supervisor.StartFailed) as failure:
        supervisor.up(cfg, ["kafka"])
    message = str(failure.value)
    assert message.startswith("kafka exited with code 1 before it became healthy")
    assert str(tmp_path / "s" / "kafka" / "kafka.log") in message
    assert "Invalid maximum heap size: -Xmxlots" in message
    assert supervisor.down(cfg) == []


def test_missing_java_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(MissingTool, match="java was not found.*set JAVA_HOME"):
        java_binary()


def test_unknown_service_lists_the_choices(stack_config):
    with pytest.raises(ValueError, match="unknown service 'kafak'; choose from: kafka, pinot"):
        supervisor.select(stack_config, ["kafak"])


def test_cli_status_reports_the_running_servers(kafka):
    env = {
        **os.environ,
        "ADVERTISEX_STATE_DIR": str(kafka.state_dir),
        **{f"ADVERTISEX_{k.upper()}": str(v) for k, v in kafka.port_fields().items()},
        "COLUMNS": "200",
    }
    result = subprocess.run(
        ["advertisex", "stack", "status", "kafka"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    [row] = [line for line in result.stdout.splitlines() if "│ kafka " in line]
    assert "healthy" in row and f"kafka://127.0.0.1:{kafka.kafka_port}" in row

    log = subprocess.run(
        ["advertisex", "stack", "logs", "kafka", "-n", "5"], env=env, capture_output=True, text=True
    )
    assert log.returncode == 0, log.stderr
    written = set((kafka.state_dir / "kafka" / "kafka.log").read_text().splitlines())
    shown = log.stdout.splitlines()
    assert len(shown) == 5 and all(line in written for line in shown)
    unknown = subprocess.run(
        ["advertisex", "stack", "logs", "kafak"], env=env, capture_output=True, text=True
    )
    assert unknown.returncode == 1
    assert "unknown server 'kafak'; choose from: kafka, pinot-zookeeper" in unknown.stderr

    bad = subprocess.run(
        ["advertisex", "stack", "up", "kafak"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert "unknown service 'kafak'" in bad.stderr
