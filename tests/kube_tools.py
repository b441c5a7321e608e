"""The real kubectl and helm against the test API server (tests/conftest.py `kube`)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

from advertisex.stack import gobuild
from advertisex.stack.config import StackConfig
from advertisex.stack.kube import kubeconfig

T = TypeVar("T")


def kubectl(cfg: StackConfig, *args: str, stdin: str | None = None, check: bool = True):
    """kubectl's CompletedProcess (text); check raises with its stderr on failure."""
    binary = gobuild.ensure_built("kubernetes") / "bin" / "kubectl"
    done = subprocess.run(
        [str(binary), f"--kubeconfig={kubeconfig(cfg)}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def kubectl_json(cfg: StackConfig, *args: str) -> dict:
    return json.loads(kubectl(cfg, *args, "-o", "json").stdout)


def service_account_kubeconfig(cfg: StackConfig, namespace: str, account: str, path) -> str:
    """A kubeconfig that acts as the ServiceAccount (a token from the TokenRequest API), so
    what runs with it has exactly the RBAC its chart grants."""
    token = kubectl(cfg, "-n", namespace, "create", "token", account, "--duration=2h").stdout
    config = json.loads(kubectl(cfg, "config", "view", "--raw", "-o", "json").stdout)
    config["users"] = [{"name": account, "user": {"token": token.strip()}}]
    for context in config["contexts"]:
        context["context"]["user"] = account
        context["context"]["namespace"] = namespace
    path.write_text(json.dumps(config))
    return str(path)


def helm(cfg: StackConfig, *args: str) -> str:
    binary = gobuild.ensure_built("helm") / "bin" / "helm"
    done = subprocess.run(
        [str(binary), f"--kubeconfig={kubeconfig(cfg)}", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 180, every: float = 0.5
) -> T:
    """probe() until it returns something truthy; fail naming what and the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
