"""Versions are pinned once (jvm/pom.xml); the Python side must agree with it."""

import tomllib
from importlib.metadata import version
from pathlib import Path

from advertisex.stack.versions import pinned_versions

ROOT = Path(__file__).parents[2]


def test_pyflink_pin_matches_the_pom():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(d for d in deps if d.startswith("apache-flink=="))
    assert pin == f"apache-flink=={pinned_versions()['flink.version']}"
    assert version("apache-flink") == pinned_versions()["flink.version"]


def test_connector_is_built_for_this_flink_line():
    versions = pinned_versions()
    flink_minor = ".".join(versions["flink.version"].split(".")[:2])
    assert versions["flink.kafka.connector.version"].endswith(f"-{flink_minor}")
    assert versions["kafka.version"].startswith("4.")
