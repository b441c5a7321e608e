"""The chart tests' shared names: where the chart is, the release they render, and the
parsed output of `helm template` (fixtures in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[2]
CHART = ROOT / "helm" / "advertisex"
RELEASE = "rel"
RELEASE_NAMESPACE = "ops"


@dataclass
class Rendered:
    """What `helm template` printed, as text and as parsed documents."""

    text: str
    docs: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name: str, namespace: str | None = None) -> dict:
        found = [
            d
            for d in self.of_kind(kind)
            if d["metadata"]["name"] == name
            and (namespace is None or d["metadata"].get("namespace") == namespace)
        ]
        assert len(found) == 1, f"{len(found)} {kind} named {name} in {namespace}"
        return found[0]
