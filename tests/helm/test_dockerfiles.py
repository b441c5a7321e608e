"""The two Dockerfiles (not built here: no Docker) are pinned, agree with the repository's
version pins and with the chart, and copy only paths that exist."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from helm_chart import CHART, ROOT

from advertisex.stack.versions import pinned_versions

OPERATOR = ROOT / "operator" / "Dockerfile"
FLINK = ROOT / "flink_jobs" / "Dockerfile"
DOCKERFILES = [OPERATOR, FLINK]


def _instructions(path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _arg_defaults(path) -> dict[str, str]:
    defaults = {}
    for word, rest in _instructions(path):
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            defaults.setdefault(name, value)
    return defaults


def _base_images(path) -> list[str]:
    """Each FROM image with the ARG defaults filled in; build stages named by AS left out."""
    args, stages, images = _arg_defaults(path), set(), []
    for word, rest in _instructions(path):
        if word == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            if image not in stages:
                images.append(image)
            if len(parts) == 3 and parts[1].upper() == "AS":
                stages.add(parts[2])
    return images


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_base_image_is_pinned(path):
    images = _base_images(path)
    assert images
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag, f"{image} has no tag"
        assert tag != "latest"
        # A full version, not a moving major or minor line.
        assert re.search(r"\d+\.\d+\.\d+", tag), f"{image} is not pinned to a patch release"


def test_the_python_image_matches_the_project_and_is_shared():
    # The operator passes its interpreter's path to `flink run -pyexec`; the TaskManagers
    # run the Python UDF workers with it: the same image gives the same path and version.
    operator, flink = _arg_defaults(OPERATOR), _arg_defaults(FLINK)
    assert operator["PYTHON_IMAGE"] == flink["PYTHON_IMAGE"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.12"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", operator["PYTHON_IMAGE"])
    assert any(
        word == "COPY" and rest.startswith("--from=python /usr/local/")
        for word, rest in _instructions(FLINK)
    )


def test_flink_image_follows_the_pom():
    versions = pinned_versions()
    args = _arg_defaults(FLINK)
    assert args["FLINK_VERSION"] == versions["flink.version"]
    assert f"flink:{versions['flink.version']}-java17" in _base_images(FLINK)
    runs = " ".join(rest for word, rest in _instructions(FLINK) if word == "RUN")
    # PyFlink at the cluster's version (and pyproject pins the same one).
    assert '"apache-flink==${FLINK_VERSION}"' in runs
    # The connectors come from the repository's poms, not from versions written here.
    assert "-f /build/jvm/flink/pom.xml dependency:copy-dependencies" in runs
    assert "-DincludeScope=runtime" in runs
    copies = [rest for word, rest in _instructions(FLINK) if word == "COPY"]
    assert "advertisex/stack/jvm/ /build/jvm/" in copies
    assert "--from=jars /build/jars/ /opt/flink/lib/" in copies
    assert "cp /opt/flink/opt/flink-python-*.jar /opt/flink/lib/" in runs
    assert versions["flink.kafka.connector.version"] not in FLINK.read_text()


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name)
def test_copied_paths_exist(path):
    for word, rest in _instructions(path):
        if word == "COPY" and not rest.startswith("--from="):
            *sources, _dest = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"{path.parent.name}/Dockerfile: COPY {source}"


def test_operator_image_resolves_the_jars_and_runs_as_the_charts_user():
    instructions = _instructions(OPERATOR)
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    # A JDK to build the functions jar (flink_jobs/java), the runtime keeps a JRE.
    assert "openjdk-17-jdk-headless" in runs and "openjdk-17-jre-headless" in runs
    assert "maven" in runs
    assert "from advertisex.stack.jars import resolve, functions_jar" in runs
    assert 'resolve("flink"), functions_jar()' in runs
    envs = " ".join(rest for word, rest in instructions if word == "ENV")
    assert "ADVERTISEX_CACHE=/opt/advertisex/cache" in envs
    # The last USER is numeric (runAsNonRoot can check it) and is the chart's runAsUser.
    user = [rest for word, rest in instructions if word == "USER"][-1]
    uid = int(user.split(":")[0])
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert uid != 0
    assert values["podSecurityContext"]["runAsUser"] == uid
    assert values["podSecurityContext"]["runAsNonRoot"] is True


def test_operator_entrypoint_runs_the_charts_module():
    (entrypoint,) = [rest for word, rest in _instructions(OPERATOR) if word == "ENTRYPOINT"]
    command = yaml.safe_load(entrypoint)
    assert command[:3] == ["kopf", "run", "--standalone"]
    assert command[command.index("-m") + 1] == "advertisex_operator.handlers"
    assert "--liveness=http://0.0.0.0:8080/healthz" in command
