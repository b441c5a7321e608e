"""Fixtures that run the real servers: a stack of its own per test session.

The test stack lives in a temporary state folder on ports moved by
ADVERTISEX_TEST_PORT_OFFSET (default 20000), so it never meets a stack the user runs.
Servers start on first use and all stop when the session ends.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from kafka_reader import read_to_end  # tests/kafka_reader.py

from advertisex.stack import supervisor
from advertisex.stack.config import StackConfig
from advertisex.stack.process import MARKER_ENV, port_free


class TestStack:
    def __init__(self, cfg: StackConfig):
        self.cfg = cfg

    def ensure(self, *names: str) -> StackConfig:
        supervisor.up(self.cfg, names, on_event=_log)
        return self.cfg


def _log(name: str, what: str) -> None:
    print(f"[stack] {name}: {what}", file=sys.stderr)


@pytest.fixture(scope="session")
def stack_config(tmp_path_factory) -> StackConfig:
    offset = int(os.environ.get("ADVERTISEX_TEST_PORT_OFFSET", "20000"))
    return StackConfig().shifted(offset, state_dir=tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def stack(stack_config):
    running = TestStack(stack_config)
    try:
        yield running
    finally:
        supervisor.down(stack_config, on_event=_log)
        left = leftover_processes(stack_config.state_dir)
        assert not left, f"the test stack left processes behind: {left}"
        taken = {
            n: p
            for n, p in stack_config.port_fields().items()
            if not port_free(stack_config.host, p)
        }
        assert not taken, f"ports still open after the test stack stopped: {taken}"


# A test that uses one of these fixtures (directly or through another) starts that server.
SERVER_FIXTURES = ("kafka", "pinot", "flink", "kube")


def pytest_collection_modifyitems(items) -> None:
    """Mark each test with the servers it starts, so a quick loop can leave them out."""
    for item in items:
        for name in SERVER_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(name)


def leftover_processes(state_dir: Path) -> list[int]:
    """Pids of processes that still carry a marker of a server under state_dir."""
    needle = f"{MARKER_ENV}=".encode()
    root = str(state_dir.resolve()).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if any(v.startswith(needle) and root in v for v in environ.split(b"\0")):
                pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="session")
def kafka(stack) -> StackConfig:
    return stack.ensure("kafka")


@pytest.fixture(scope="session")
def pinot(stack) -> StackConfig:
    return stack.ensure("kafka", "pinot")


@pytest.fixture(scope="session")
def flink(stack) -> StackConfig:
    return stack.ensure("kafka", "flink")


@pytest.fixture(scope="session")
def kube(stack) -> StackConfig:
    """etcd and the real kube-apiserver; kubeconfig(cfg) is the admin's kubeconfig."""
    return stack.ensure("kube")


@pytest.fixture
def read_topic():
    """read_to_end(bootstrap, topic): a topic's messages, read to its current end."""
    return read_to_end


@pytest.fixture
def topic_name(request) -> str:
    """A topic name of this test's own."""
    return f"t-{request.node.name[:40].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:8]}"
