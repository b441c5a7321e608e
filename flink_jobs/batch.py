"""The pipeline in batch: a simulator-style input folder in, one JSON Lines folder per
output out, through the same SQL as the streaming job.

It runs in Flink's batch runtime on a local mini cluster (contract 2.5): the whole input
is known, so nothing is late and every window and join is complete; the first record of an
id is the first in file-name then line order. The result depends only on which records the
input holds, not on file names, file order or line order. Outputs that a stream updates
(last-click attribution, the metrics) come out as their final rows.

    python -m flink_jobs.batch INPUT_FOLDER OUTPUT_FOLDER
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pyflink.table import EnvironmentSettings, TableEnvironment

from flink_jobs.batch_input import stage
from flink_jobs.pipeline import OUTPUTS, PipelineSettings, build
from flink_jobs.tables import FileTables
from flink_jobs.udfs import CampaignSource

_PART = re.compile(r"part-.*-(\d+)(?:\..*)?$")


def _parts(folder: Path) -> list[Path]:
    """Committed part files (in-progress ones start with a dot)."""
    return sorted(p for p in folder.glob("part-*") if _PART.match(p.name))


def read_output(written: Path, name: str) -> list[dict]:
    """An output's rows, sorted by record key (the file sink's order is the planner's)."""
    rows = []
    for part in _parts(written / name):
        for line in part.read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    rows.sort(key=lambda row: row["record_key"])
    for row in rows:
        del row["record_key"]
    return rows


def run_batch(
    input_folder: Path,
    output_folder: Path,
    settings: PipelineSettings | None = None,
    on_step: Callable[[str], None] = print,
) -> dict[str, int]:
    """Run the pipeline over input_folder; write output_folder/<output>/part-0.jsonl for
    every output; return the row count per output."""
    settings = settings or PipelineSettings()
    output_folder = Path(output_folder)
    work = Path(tempfile.mkdtemp(prefix="advertisex-batch-"))
    try:
        staged, written = work / "staged", work / "written"
        counts = stage(Path(input_folder), staged)
        on_step("staged " + ", ".join(f"{n:,} {source} messages" for source, n in counts.items()))
        env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
        settings.apply(env, "advertisex-batch")
        tables = FileTables(staged, written, settings.out_of_orderness_s)
        campaigns = CampaignSource(file=str(staged / "campaigns.jsonl"))
        on_step("running the Flink job on a local mini cluster")
        build(env, tables, campaigns, settings).execute().wait()
        result = {}
        for name in OUTPUTS:
            rows = read_output(written, name)
            target = output_folder / name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            with open(target / "part-0.jsonl", "w") as out:
                for row in rows:
                    out.write(json.dumps(row, sort_keys=False) + "\n")
            result[name] = len(rows)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input_folder", type=Path)
    parser.add_argument("output_folder", type=Path)
    args = parser.parse_args(argv)
    for name, count in run_batch(args.input_folder, args.output_folder).items():
        print(f"{name:24} {count:>10,}")


if __name__ == "__main__":
    main()
