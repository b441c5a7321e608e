"""Resolve each server's jars from Maven Central with `mvn`, once, into the cache.

A component's folder is named after a digest of its poms, so a changed pin resolves anew
and an unchanged one costs nothing: the second run does not even start Maven.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from advertisex.paths import cache_dir
from advertisex.stack.tools import mvn_binary
from advertisex.stack.versions import JVM_DIR

COMPONENTS = ("kafka", "flink", "pinot")
_DONE = ".resolved"


class ResolutionFailed(RuntimeError):
    """Maven could not resolve a component's jars."""


def _digest(component: str) -> str:
    h = hashlib.sha256()
    for pom in (JVM_DIR / "pom.xml", JVM_DIR / component / "pom.xml"):
        h.update(pom.read_bytes())
    return h.hexdigest()[:12]


def jar_dir(component: str) -> Path:
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
    return cache_dir() / "jars" / f"{component}-{_digest(component)}"


def is_resolved(component: str) -> bool:
    return (jar_dir(component) / _DONE).exists()


def resolve(component: str, on_download: Callable[[str], None] | None = None) -> Path:
    """The folder holding the component's runtime jars, resolving them first if needed.

    on_download is called with each artifact Maven downloads, to show progress.
    """
    target = jar_dir(component)
    if (target / _DONE).exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    log_path = target.with_name(target.name + ".mvn.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn_binary(),
        "-B",
        "-f",
        str(JVM_DIR / component / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={partial}",
        f"-Dmaven.repo.local={cache_dir() / 'm2'}",
    ]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if on_download and line.startswith("Downloaded from"):
                on_download(line.split(":", 1)[1].strip().split(" ")[0])
        code = proc.wait()
    if code != 0:
        errors = [ln for ln in log_path.read_text().splitlines() if "[ERROR]" in ln][:5]
        raise ResolutionFailed(
            f"mvn could not resolve the {component} jars (exit {code}); see {log_path}:\n"
            + "\n".join(errors)
        )
    (partial / _DONE).write_text(" ".join(cmd) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def classpath(component: str) -> str:
    """A java class path of every jar of the resolved component."""
    return str(resolve(component) / "*")
