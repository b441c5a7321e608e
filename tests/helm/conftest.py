"""Fixtures for the chart tests: the real helm binary (built from Go modules, cached)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
import yaml
from helm_chart import CHART, RELEASE, RELEASE_NAMESPACE, ROOT, Rendered  # tests/helm/

from advertisex.stack import gobuild


@pytest.fixture(scope="session")
def helm() -> Callable[..., subprocess.CompletedProcess]:
    """Run the pinned helm (advertisex/stack/jvm/pom.xml helm.version) with arguments."""
    binary = gobuild.binary("helm")
    if not binary.exists():
        gobuild.ensure_built("helm")
    assert binary.exists(), f"helm was not built at {binary}"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(binary), *args], capture_output=True, text=True, timeout=120, cwd=ROOT
        )

    return run


@pytest.fixture(scope="session")
def render(helm) -> Callable[..., Rendered]:
    """`helm template rel helm/advertisex --namespace ops --include-crds ARGS`, parsed."""

    def run(*args: str) -> Rendered:
        result = helm(
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            RELEASE_NAMESPACE,
            "--include-crds",
            *args,
        )
        assert result.returncode == 0, result.stderr
        docs = [d for d in yaml.safe_load_all(result.stdout) if d]
        return Rendered(result.stdout, docs)

    return run
