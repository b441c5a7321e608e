"""The pipeline in batch: a simulator-style input folder in, one JSON Lines folder per
output out, through the same SQL as the streaming job.

It runs in Flink's streaming runtime over bounded input on a local mini cluster: the
watermark, and so lateness and every join and window, then behave exactly as they do on
Kafka (Flink's batch runtime has no watermark, so late records could not be told apart).
Outputs that are updated (last-click attribution, the metrics) are written as a
debezium-json changelog and folded here into their final rows, as an upsert table would
hold them.

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
from flink_jobs.tables import UPSERT_OUTPUTS, FileTables
from flink_jobs.udfs import CampaignSource

_PART = re.compile(r"part-.*-(\d+)(?:\..*)?$")


def _parts(folder: Path) -> list[Path]:
    """Committed part files in the order they were written (in-progress ones start with .)."""
    found = [p for p in folder.glob("part-*") if _PART.match(p.name)]
    return sorted(found, key=lambda p: (p.name.rsplit("-", 1)[0], int(_PART.match(p.name)[1])))


def fold(written: Path, name: str) -> list[dict]:
    """An output's final rows: appended rows as they are; a changelog folded per key."""
    rows: dict[str, dict] = {}
    appended: list[dict] = []
    for part in _parts(written / name):
        for line in part.read_text().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if name not in UPSERT_OUTPUTS:
                row.pop("record_key")
                appended.append(row)
                continue
            # debezium-json: an insert or update-after carries "after"; a delete or
            # update-before carries "before" with op "d".
            if row["op"] == "d":
                rows.pop(row["before"]["record_key"], None)
            else:
                after = row["after"]
                rows[after.pop("record_key")] = after
    return appended if name not in UPSERT_OUTPUTS else [rows[k] for k in sorted(rows)]


def run_batch(
    input_folder: Path,
    output_folder: Path,
    settings: PipelineSettings | None = None,
    on_step: Callable[[str], None] = print,
) -> dict[str, int]:
    """Run the pipeline over input_folder; write output_folder/<output>/part-0.jsonl for
    every output; return the row count per output."""
    settings = settings or PipelineSettings(checkpoint_interval="1 s")
    output_folder = Path(output_folder)
    work = Path(tempfile.mkdtemp(prefix="advertisex-batch-"))
    try:
        staged, written = work / "staged", work / "written"
        counts = stage(Path(input_folder), staged)
        on_step("staged " + ", ".join(f"{n:,} {source} messages" for source, n in counts.items()))
        env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
        settings.apply(env, "advertisex-batch")
        # One reader keeps each file's order, as one Kafka partition would.
        env.get_config().set("parallelism.default", "1")
        tables = FileTables(staged, written, settings.out_of_orderness_s)
        campaigns = CampaignSource(file=str(staged / "campaigns.jsonl"))
        on_step("running the Flink job on a local mini cluster")
        build(env, tables, campaigns, settings).execute().wait()
        result = {}
        for name in OUTPUTS:
            rows = fold(written, name)
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
