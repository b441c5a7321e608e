"""The README's first command, after the install: `advertisex demo` on the session's test
stack (the same ports and state folder through ADVERTISEX_* variables, so the demo finds
the servers up, as on a second run)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from advertisex.jobs.flink_rest import FlinkRest

ADVERTISEX = str(Path(sys.executable).parent / "advertisex")


def test_the_demo_brings_traffic_through_to_the_report(flink, pinot):
    cfg = pinot
    env = os.environ | {
        f"ADVERTISEX_{name.upper()}": str(port) for name, port in cfg.port_fields().items()
    }
    env["ADVERTISEX_STATE_DIR"] = str(cfg.state_dir)
    rest = FlinkRest(cfg.flink_rest_url)
    try:
        result = subprocess.run(
            [ADVERTISEX, "demo", "--duration", "60", "--seed", "3"],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out = result.stdout
        held = re.search(r"Pinot holds ([\d,]+) of the ([\d,]+) messages on the raw topics", out)
        assert held and held.group(1) == held.group(2) and held.group(2) != "0", out[-3000:]
        # The report: a row per campaign with its ratios, and the top websites.
        assert "CTR" in out and "win rate" in out.lower()
        assert re.search(r"cmp-\d{4}", out)
        assert f"{cfg.pinot_controller_url}/#/query" in out
    finally:
        for job in rest.jobs():
            if job["name"] == "advertisex-pipeline" and job["state"] == "RUNNING":
                rest.cancel(job["id"])
