"""Build the Kubernetes control plane's programs from Go modules, once, into the cache.

Each build is a module of ours (a wrapper `main` in advertisex/stack/go/<name>) whose go.mod
is written here from the versions pinned in jvm/pom.xml, so those stay the one place:

- kubernetes: kube-apiserver and kubectl. k8s.io/kubernetes cannot be required as it is:
  its go.mod points each staging module (k8s.io/api, client-go, ...) at v0.0.0 through a
  local replace, so ours replaces each of them with the published v0.<minor>.<patch>.
- etcd: etcdmain from go.etcd.io/etcd/server/v3.
- helm: helm.sh/helm/v3's own main, as a `tool` of the module.

The output folder is named after a digest of the sources, the versions and the Go version;
modules and build objects are kept in the cache too, so a second run costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from advertisex.paths import cache_dir
from advertisex.stack.tools import MissingTool
from advertisex.stack.versions import pinned_versions

GO_DIR = Path(__file__).parent / "go"
_DONE = ".built"


class BuildFailed(RuntimeError):
    """go could not fetch or build a module; the message names the log."""


@dataclass(frozen=True)
class GoBuild:
    name: str  # the folder under advertisex/stack/go
    programs: tuple[str, ...]  # binaries it makes, each from ./cmd/<program> or a tool
    requires: dict[str, str]  # module -> version
    replaces: dict[str, str]  # module -> version
    tools: dict[str, str]  # program -> package built as a tool of the module
    ldflags: str = ""


def go_binary() -> str:
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if not go:
        raise MissingTool(
            "go was not found: kube-apiserver, etcd, kubectl and helm are built from Go "
            "modules. Install Go 1.24 or newer (apt-get install golang-go) or put it on PATH."
        )
    return go


def go_env() -> dict[str, str]:
    base = cache_dir() / "go"
    return {
        **os.environ,
        "GOMODCACHE": str(base / "mod"),
        "GOCACHE": str(base / "build"),
        "GOPATH": str(base / "path"),
        # Module files are read-only by default, which makes the cache hard to delete.
        "GOFLAGS": "-modcacherw -buildvcs=false",
        "CGO_ENABLED": "0",
    }


def _run(cmd: list[str], cwd: Path, log: Path) -> str:
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, env=go_env(), capture_output=True, text=True)
        out.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise BuildFailed(f"`{' '.join(cmd[:3])}` failed in {cwd} (log: {log}):\n{tail}")
    return proc.stdout


@cache
def _go_version() -> str:
    return subprocess.run(
        [go_binary(), "env", "GOVERSION"], capture_output=True, text=True
    ).stdout.strip()


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """The modules k8s.io/kubernetes's go.mod replaces with a folder of its own tree."""
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", kubernetes_gomod, re.M)))


def builds() -> dict[str, GoBuild]:
    v = pinned_versions()
    kube = v["kubernetes.version"]
    major, minor, _ = kube.split(".")
    stamp = "k8s.io/component-base/version"
    return {
        "kubernetes": GoBuild(
            "kubernetes",
            ("kube-apiserver", "kubectl"),
            {"k8s.io/kubernetes": f"v{kube}"},
            {},  # the staging modules, read from k8s.io/kubernetes's go.mod at build time
            {},
            # Without these, clients see v0.0.0-master and kubectl warns of a version skew.
            ldflags=f"-X {stamp}.gitVersion=v{kube} -X {stamp}.gitMajor={major} "
            f"-X {stamp}.gitMinor={minor}",
        ),
        "etcd": GoBuild(
            "etcd", ("etcd",), {"go.etcd.io/etcd/server/v3": f"v{v['etcd.version']}"}, {}, {}
        ),
        "helm": GoBuild(
            "helm",
            ("helm",),
            {"helm.sh/helm/v3": f"v{v['helm.version']}"},
            {},
            {"helm": "helm.sh/helm/v3/cmd/helm"},
            ldflags=f"-X helm.sh/helm/v3/internal/version.version=v{v['helm.version']}",
        ),
    }


def _digest(build: GoBuild) -> str:
    h = hashlib.sha256(json.dumps([build.__dict__, _go_version()], sort_keys=True).encode())
    src = GO_DIR / build.name
    if src.exists():
        for path in sorted(src.rglob("*")):
            if path.is_file():
                h.update(str(path.relative_to(src)).encode() + path.read_bytes())
    return h.hexdigest()[:12]


def build_dir(name: str) -> Path:
    return cache_dir() / "go" / f"{name}-{_digest(builds()[name])}"


def binary(program: str) -> Path:
    """Where a program lands once built (see ensure_built)."""
    for build in builds().values():
        if program in build.programs:
            return build_dir(build.name) / "bin" / program
    raise ValueError(f"unknown program {program!r}")


def is_built(name: str) -> bool:
    return (build_dir(name) / _DONE).exists()


def _gomod(build: GoBuild, replaces: dict[str, str]) -> str:
    lines = [f"module advertisex.local/{build.name}", "", "go 1.24", ""]
    lines += [f"require {mod} {ver}" for mod, ver in build.requires.items()]
    lines += [f"replace {mod} => {mod} {ver}" for mod, ver in sorted(replaces.items())]
    lines += [f"tool {pkg}" for pkg in build.tools.values()]
    return "\n".join(lines) + "\n"


def ensure_built(name: str, on_step: Callable[[str], None] = lambda step: None) -> Path:
    """The folder whose bin/ holds the build's programs, building them first if needed."""
    build = builds()[name]
    target = build_dir(name)
    if (target / _DONE).exists():
        return target
    go = go_binary()
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    src = GO_DIR / name
    if src.exists():
        shutil.copytree(src, work)
    work.mkdir(parents=True, exist_ok=True)
    log = target.with_name(target.name + ".log")
    log.write_text("")
    replaces = dict(build.replaces)
    if name == "kubernetes":
        on_step("downloading k8s.io/kubernetes's go.mod")
        mod = build.requires["k8s.io/kubernetes"]
        info = json.loads(
            _run([go, "mod", "download", "-json", f"k8s.io/kubernetes@{mod}"], work, log)
        )
        staging_version = "v0." + mod.split(".", 1)[1]
        replaces |= {m: staging_version for m in staging_modules(Path(info["GoMod"]).read_text())}
    (work / "go.mod").write_text(_gomod(build, replaces))
    on_step("resolving modules (go mod tidy)")
    _run([go, "mod", "tidy"], work, log)
    for program in build.programs:
        on_step(f"building {program}")
        package = build.tools.get(program, f"./cmd/{program}")
        _run(
            [go, "build", "-trimpath", "-ldflags", build.ldflags, "-o", f"bin/{program}", package],
            work,
            log,
        )
    (work / _DONE).write_text(_go_version() + "\n")
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return target
