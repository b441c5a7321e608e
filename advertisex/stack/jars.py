"""Resolve each server's jars from Maven Central with `mvn`, once, into the cache, and build
the pipeline's own jar (flink_jobs/java) the same way.

A component's folder is named after a digest of its poms, so a changed pin resolves anew
and an unchanged one costs nothing: the second run does not even start Maven. The
functions jar's folder is named after a digest of everything that goes into it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from advertisex.contract.schemas import SCHEMA_DIR
from advertisex.paths import cache_dir
from advertisex.stack.tools import mvn_binary
from advertisex.stack.versions import JVM_DIR

COMPONENTS = ("kafka", "flink", "pinot")
_DONE = ".resolved"
# The package is installed editable from the repository, so the folder sits two levels up.
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "flink_jobs" / "java"
FUNCTIONS_JAR = "advertisex-flink-functions.jar"
# The schema files flink_jobs/java/pom.xml packages into the jar.
_PACKAGED_SCHEMAS = ("*.json", "*.avsc", "outputs/*.json")


class ResolutionFailed(RuntimeError):
    """Maven could not resolve a component's jars."""


class BuildFailed(ResolutionFailed):
    """Maven could not build the functions jar (a ResolutionFailed, so callers that report
    one report both)."""


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

    def downloaded(line: str) -> None:
        if on_download and line.startswith("Downloaded from"):
            on_download(line.split(":", 1)[1].strip().split(" ")[0])

    code = _run_maven(cmd, log_path, downloaded)
    if code != 0:
        raise ResolutionFailed(
            f"mvn could not resolve the {component} jars (exit {code}); see {log_path}:\n"
            + _errors(log_path)
        )
    (partial / _DONE).write_text(" ".join(cmd) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def classpath(component: str) -> str:
    """A java class path of every jar of the resolved component."""
    return str(resolve(component) / "*")


def functions_digest(
    java_dir: Path = FUNCTIONS_DIR,
    parent_pom: Path = JVM_DIR / "pom.xml",
    schema_dir: Path = SCHEMA_DIR,
) -> str:
    """A digest of what the functions jar is built from: its pom, every file under src/,
    the parent pom with the pinned versions, and the schema files it packages."""
    h = hashlib.sha256()
    files = [("pom.xml", java_dir / "pom.xml"), ("parent/pom.xml", parent_pom)]
    files += [
        (f"src/{p.relative_to(java_dir / 'src')}", p)
        for p in sorted((java_dir / "src").rglob("*"))
        if p.is_file()
    ]
    files += [
        (f"schemas/{p.relative_to(schema_dir)}", p)
        for pattern in _PACKAGED_SCHEMAS
        for p in sorted(schema_dir.glob(pattern))
    ]
    for name, path in files:
        # Names as well as contents, each length-prefixed: a renamed or moved file counts.
        data = path.read_bytes()
        h.update(f"{name}\0{len(data)}\0".encode() + data)
    return h.hexdigest()[:12]


def functions_jar_path() -> Path:
    """Where the functions jar of the current sources lands (see functions_jar)."""
    return cache_dir() / "jars" / f"functions-{functions_digest()}" / FUNCTIONS_JAR


def is_functions_built() -> bool:
    return (functions_jar_path().parent / _DONE).exists()


def functions_jar(on_step: Callable[[str], None] | None = None) -> Path:
    """The pipeline's own jar (flink_jobs/java), built with `mvn package` first if needed.

    on_step is called with what Maven is doing (downloads, compiling, packaging).
    """
    jar = functions_jar_path()
    target = jar.parent
    if (target / _DONE).exists():
        return jar
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    log_path = target.with_name(target.name + ".mvn.log")
    cmd = [
        mvn_binary(),
        "-B",
        "-f",
        str(FUNCTIONS_DIR / "pom.xml"),
        "package",
        f"-Dmaven.repo.local={cache_dir() / 'm2'}",
        f"-Dadx.build.dir={partial}",
    ]

    def step(line: str) -> None:
        if on_step is None:
            return
        if line.startswith("Downloaded from"):
            on_step("downloading " + line.rsplit("/", 1)[-1].split(" ")[0])
        elif line.startswith("[INFO] --- "):  # a plugin goal starts: compile, jar, ...
            on_step(line.removeprefix("[INFO] --- ").split(" ")[0])

    code = _run_maven(cmd, log_path, step)
    if code != 0 or not (partial / FUNCTIONS_JAR).exists():
        raise BuildFailed(
            f"mvn could not build {FUNCTIONS_JAR} from {FUNCTIONS_DIR} (exit {code}); "
            f"see {log_path}:\n" + _errors(log_path, limit=10)
        )
    (partial / _DONE).write_text(" ".join(cmd) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return jar


def _run_maven(cmd: list[str], log_path: Path, on_line: Callable[[str], None]) -> int:
    """Run mvn with its output in log_path, each line also given to on_line; the exit code."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            on_line(line)
        return proc.wait()


def _errors(log_path: Path, limit: int = 5) -> str:
    return "\n".join([ln for ln in log_path.read_text().splitlines() if "[ERROR]" in ln][:limit])
