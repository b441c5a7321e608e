"""Read the pinned versions from the one place they live: the parent pom."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

JVM_DIR = Path(__file__).parent / "jvm"
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@cache
def pinned_versions() -> dict[str, str]:
    """The `<properties>` of jvm/pom.xml, e.g. {'kafka.version': '4.2.2', ...}."""
    root = ET.parse(JVM_DIR / "pom.xml").getroot()
    props = root.find("m:properties", _NS)
    if props is None:
        return {}
    return {el.tag.split("}", 1)[1]: (el.text or "").strip() for el in props}
