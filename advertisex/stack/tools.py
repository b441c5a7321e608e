"""Checks for the programs the stack runs with: java and mvn."""

from __future__ import annotations

import os
import re
import shutil
import subprocess


class MissingTool(RuntimeError):
    """A program the stack needs is not installed, or is too old."""


MIN_JAVA = 17


def java_binary() -> str:
    """The java to run the servers with: $JAVA_HOME/bin/java, else the one on PATH (17+)."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise MissingTool(
            "java was not found: Kafka 4 and Pinot need Java 17 or newer. Install it "
            "(apt-get install openjdk-17-jdk-headless) or set JAVA_HOME."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < MIN_JAVA:
        raise MissingTool(
            f"{java} is not Java {MIN_JAVA}+ ({out.splitlines()[:1]}): set JAVA_HOME."
        )
    return java


def mvn_binary() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise MissingTool(
            "mvn was not found: the stack's jars are resolved from Maven Central with Maven. "
            "Install it (apt-get install maven)."
        )
    return mvn
