"""What the supervisor needs to know of a server: how to launch it and how to tell it is up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    name: str
    home: Path
    ports: dict[str, int]  # what each port is for -> port
    prepare: Callable[[], Launch]  # writes config (formats storage...) and returns the command
    healthy: Callable[[], bool]  # a cheap check that the server answers its clients
    after: tuple[str, ...] = ()  # services that must be healthy before this one starts
    url: str | None = None  # what a user opens or points a client at


def properties_text(props: dict[str, object]) -> str:
    """A Java .properties file from a dict."""
    return "".join(f"{key}={value}\n" for key, value in props.items())
