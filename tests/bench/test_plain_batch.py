"""bench/plain_batch.py, the plain Python row of batch_throughput.py, applies the same
contract as `advertisex batch`: on a small simulated folder with every anomaly knob on, its
outputs equal the simulator's complete ground truth (the truth the batch golden test holds
the Flink job to), and they equal the Flink batch job's outputs."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1]
sys.path.insert(0, str(TESTS.parent / "bench"))  # the bench is a script, no package
sys.path.insert(0, str(TESTS / "flink_jobs"))
import plain_batch  # noqa: E402
from golden import compare  # noqa: E402  (tests/flink_jobs/golden.py)

from advertisex.ingest.config import Anomalies, SimulationConfig  # noqa: E402
from advertisex.ingest.simulator import Simulator  # noqa: E402
from advertisex.ingest.sinks import FileSink  # noqa: E402

# Yesterday's midnight and the batch golden test's seed: traffic with conversions.
START = (int(time.time()) // 86_400 - 1) * 86_400_000
DURATION = 300


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[Path, dict]:
    sim = Simulator(
        SimulationConfig(
            start_ms=START,
            seed=7,
            duration_s=DURATION,
            bid_rate=40,
            anomalies=Anomalies.everything(DURATION),
        )
    )
    folder = tmp_path_factory.mktemp("plain-in")
    sink = FileSink(folder, part_size=2_000)  # several part files per source
    sink.write_campaigns(sim.campaigns())
    for message in sim.events():
        sink.write(message)
    sink.close()
    return folder, sim.truth.complete().to_dict()


def read(out: Path) -> dict[str, list[dict]]:
    return {
        name: [json.loads(line) for line in (out / name / "part-0.jsonl").read_text().splitlines()]
        for name in plain_batch.OUTPUTS
    }


@pytest.fixture(scope="module")
def plain_outputs(simulated, tmp_path_factory) -> dict[str, list[dict]]:
    out = tmp_path_factory.mktemp("plain-out")
    counts = plain_batch.run(simulated[0], out)
    outputs = read(out)
    assert {name: len(rows) for name, rows in outputs.items()} == counts
    return outputs


def test_plain_outputs_equal_the_complete_ground_truth(plain_outputs, simulated):
    truth = simulated[1]
    assert compare(plain_outputs, truth, from_files=True) == []
    # The run exercises what the comparison covers.
    assert len(truth["attributed_clicks"]) > 50
    assert len(truth["attributed_conversions"]) > 0
    assert sum(s["duplicates"] for s in truth["sources"].values()) > 0
    assert len(truth["dead_letters"]) > 0
    assert len(plain_outputs["campaign_metrics_1m"]) == len(truth["campaign_metrics_1m"])


def test_median_delay_rounds_to_two_digits_and_takes_the_middle():
    def median(delays: list[int]) -> float | None:
        return plain_batch.median_delay(Counter(plain_batch.two_digits(d) for d in delays))

    assert median([]) is None
    assert median([1234]) == 1200
    assert median([10, 20, 999, 1_000_000]) == (20 + 1000) / 2
    assert median([-1234, 5, 5]) == 5
    assert median([95, 996, 12_345]) == 1000


@pytest.mark.flink
def test_plain_outputs_equal_the_flink_batch_jobs(plain_outputs, simulated, tmp_path):
    from flink_jobs.batch import run_batch

    run_batch(simulated[0], tmp_path, on_step=lambda _: None)
    flink = read(tmp_path)

    def ids(outputs: dict, name: str, field: str) -> Counter:
        return Counter(row[field] for row in outputs[name])

    for name, field in (
        ("impressions", "impression_id"),
        ("clicks", "event_id"),
        ("conversions", "event_id"),
        ("bid_requests", "request_id"),
    ):
        assert ids(plain_outputs, name, field) == ids(flink, name, field), name

    def pairs(outputs: dict, name: str, other: str) -> dict:
        return {row["event_id"]: row[other] for row in outputs[name]}

    for name, other in (
        ("attributed_clicks", "impression_id"),
        ("attributed_conversions", "click_id"),
    ):
        assert pairs(plain_outputs, name, other) == pairs(flink, name, other), name

    def metrics(outputs: dict) -> dict:
        rows = {}
        for row in outputs["campaign_metrics_1m"]:
            row = dict(row)
            row["conversion_value"] = round(row["conversion_value"], 6)
            for ratio in ("ctr", "cvr", "win_rate"):
                row[ratio] = None if row[ratio] is None else round(row[ratio], 12)
            rows[(row["campaign_id"], row["window_start_ms"])] = row
        return rows

    assert metrics(plain_outputs) == metrics(flink)

    def dq_totals(outputs: dict) -> dict:
        totals: dict[str, Counter] = {}
        for row in outputs["dq_metrics"]:
            t = totals.setdefault(row["source"], Counter())
            for f in ("received", "valid", "invalid", "duplicates", "late", "unattributed"):
                t[f] += row[f]
            t.update({"invalid:" + k: n for k, n in (row["invalid_by_reason"] or {}).items()})
        return totals

    assert dq_totals(plain_outputs) == dq_totals(flink)

    def dead(outputs: dict) -> Counter:
        return Counter(
            (r["source"], r["reason"], r["dead_letter_id"], r["detail"], r["raw_payload"])
            for r in outputs["dead_letters"]
        )

    assert dead(plain_outputs) == dead(flink)
