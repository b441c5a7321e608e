"""Bring the local stack up and down: start what is missing, wait until it answers, stop all.

`up` is idempotent: a server that already runs (found by its pid file) is only checked.
Servers start as soon as those they need are healthy, so independent ones start together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from advertisex.stack.config import StackConfig
from advertisex.stack.flink import flink_services
from advertisex.stack.kafka import kafka_service
from advertisex.stack.kube import kube_services
from advertisex.stack.pinot import pinot_services
from advertisex.stack.process import ManagedProcess, port_free
from advertisex.stack.service import Service

GROUPS = {
    "kafka": ("kafka",),
    "pinot": ("pinot-zookeeper", "pinot-controller", "pinot-broker", "pinot-server"),
    "flink": ("flink-jobmanager", "flink-taskmanager"),
    "kube": ("etcd", "kube-apiserver"),
}
# What `stack up` starts when no group is named: the servers the pipeline and demo need.
PIPELINE_GROUPS = ("kafka", "pinot", "flink")


class StartFailed(RuntimeError):
    """A server could not be started; the message names it, its port or its log file."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    healthy: bool
    url: str | None
    log_file: str

    @property
    def state(self) -> str:
        if self.pid is None:
            return "stopped"
        return "healthy" if self.healthy else "unhealthy"


def all_services(cfg: StackConfig) -> list[Service]:
    return [kafka_service(cfg), *pinot_services(cfg), *flink_services(cfg), *kube_services(cfg)]


def select(cfg: StackConfig, names: Iterable[str] | None = None) -> list[Service]:
    """The services named (a group such as `pinot`, or one server), with what they need."""
    services = all_services(cfg)
    by_name = {s.name: s for s in services}
    if not names:
        return services
    wanted: set[str] = set()
    for name in names:
        if name in GROUPS:
            wanted.update(GROUPS[name])
        elif name in by_name:
            wanted.add(name)
        else:
            known = ", ".join([*GROUPS, *by_name])
            raise ValueError(f"unknown service {name!r}; choose from: {known}")
    stack = list(wanted)
    while stack:  # add dependencies
        for dep in by_name[stack.pop()].after:
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)
    return [s for s in services if s.name in wanted]


def process_of(service: Service) -> ManagedProcess:
    return ManagedProcess(service.name, service.home)


def status(cfg: StackConfig, names: Iterable[str] | None = None) -> list[ServiceStatus]:
    result = []
    for svc in select(cfg, names):
        proc = process_of(svc)
        pid = proc.pid()
        result.append(
            ServiceStatus(
                svc.name, pid, pid is not None and svc.healthy(), svc.url, str(proc.log_file)
            )
        )
    return result


def _env_name(field: str) -> str:
    return f"ADVERTISEX_{field.upper()}"


def _check_ports(cfg: StackConfig, services: list[Service]) -> None:
    for svc in services:
        for field, port in svc.ports.items():
            if not port_free(cfg.host, port):
                raise StartFailed(
                    f"{svc.name}: port {port} on {cfg.host} is already in use by another "
                    f"process. Stop that process (`ss -ltnp 'sport = :{port}'` shows it), or "
                    f"run the stack on another port: {_env_name(field)}=<port>."
                )


def up(
    cfg: StackConfig,
    names: Iterable[str] | None = None,
    on_event: Callable[[str, str], None] = lambda name, what: None,
) -> list[ServiceStatus]:
    """Start every selected server that is not running and wait until all are healthy."""
    services = select(cfg, names)
    running = {s.name for s in services if process_of(s).pid() is not None}
    _check_ports(cfg, [s for s in services if s.name not in running])
    pending = [s for s in services if s.name not in running]
    waiting = {s.name: (s, time.monotonic()) for s in services if s.name in running}
    healthy: set[str] = set()
    for name in running:
        on_event(name, "already running")
    while pending or waiting:
        for svc in [s for s in pending if all(d in healthy for d in s.after)]:
            launch = svc.prepare()
            pid = process_of(svc).start(launch.argv, launch.env)
            on_event(svc.name, f"started (pid {pid})")
            pending.remove(svc)
            waiting[svc.name] = (svc, time.monotonic())
        for name, (svc, since) in list(waiting.items()):
            proc = process_of(svc)
            if svc.healthy():
                healthy.add(name)
                del waiting[name]
                on_event(name, f"healthy after {time.monotonic() - since:.1f}s")
            elif proc.pid() is None:
                code = proc.exited()
                raise StartFailed(
                    f"{name} exited{'' if code is None else f' with code {code}'} before it "
                    f"became healthy (ports {_ports(svc)}); its log, {proc.log_file}, ends:\n"
                    f"{proc.tail(15)}"
                )
            elif time.monotonic() - since > cfg.startup_timeout_s:
                raise StartFailed(
                    f"{name} did not become healthy within {cfg.startup_timeout_s:.0f}s "
                    f"(ports {_ports(svc)}); see {proc.log_file}, which ends:\n{proc.tail(15)}"
                )
        if pending or waiting:
            time.sleep(0.5)
    return status(cfg, names)


def _ports(svc: Service) -> str:
    return ", ".join(str(p) for p in svc.ports.values())


def down(
    cfg: StackConfig,
    names: Iterable[str] | None = None,
    on_event: Callable[[str, str], None] = lambda name, what: None,
) -> list[str]:
    """Stop the selected servers, dependants first; return the names of those that ran."""
    stopped = []
    for svc in reversed(select(cfg, names)):
        if process_of(svc).stop():
            stopped.append(svc.name)
            on_event(svc.name, "stopped")
    for svc in select(cfg, names):
        for port in svc.ports.values():
            deadline = time.monotonic() + 10
            while not port_free(cfg.host, port) and time.monotonic() < deadline:
                time.sleep(0.2)
    return stopped
