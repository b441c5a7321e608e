"""Contract 2.6 known_crawler: the JVM port (io.advertisex.contract.CrawlerAgents) against
the Python reference, on every example agent the crawler list carries and on browsers."""

from __future__ import annotations

import json
import subprocess

import crawleruseragents

from advertisex.contract.invalid_traffic import crawler_patterns, known_crawler
from advertisex.ingest.model import CRAWLER_AGENTS, USER_AGENTS
from advertisex.stack.jars import functions_jar
from advertisex.stack.tools import java_binary

BROWSERS = (
    *USER_AGENTS.values(),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
)


def java_answers(agents: list[str], tmp_path) -> list[bool]:
    patterns = tmp_path / "patterns.json"
    patterns.write_text(json.dumps(crawler_patterns()))
    out = subprocess.run(
        [java_binary(), "-cp", str(functions_jar()), "io.advertisex.contract.CrawlerAgents"]
        + [str(patterns)],
        input="".join(agent + "\n" for agent in agents),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    assert len(out) == len(agents)
    return [answer == "1" for answer in out]


def test_java_and_python_judge_every_listed_example_and_browser_alike(tmp_path):
    examples = [
        instance
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        for instance in entry.get("instances", [])
        if "\n" not in instance and "\r" not in instance
    ]
    agents = [*examples, *CRAWLER_AGENTS, *BROWSERS]
    python = [known_crawler(agent) for agent in agents]
    java = java_answers(agents, tmp_path)
    differ = [a for a, p, j in zip(agents, python, java, strict=True) if p != j]
    assert not differ, f"{len(differ)} agents judged differently, e.g. {differ[:3]}"
    # Not a vacuous agreement: nearly every listed example is a crawler, no browser is.
    assert sum(python[: len(examples)]) > 0.95 * len(examples)
    assert not any(python[-len(BROWSERS) :])
