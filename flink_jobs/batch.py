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
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from json.decoder import scanstring
from pathlib import Path

from pyflink.common.configuration import Configuration
from pyflink.table import EnvironmentSettings, TableEnvironment

from flink_jobs.batch_input import stage
from flink_jobs.pipeline import OUTPUTS, PipelineSettings, build
from flink_jobs.tables import FileTables
from flink_jobs.udfs import CampaignSource

_PART = re.compile(r"part-.*-(\d+)(?:\..*)?$")


def _parts(folder: Path) -> list[Path]:
    """Committed part files (in-progress ones start with a dot)."""
    return sorted(p for p in folder.glob("part-*") if _PART.match(p.name))


_KEY_START = '{"record_key":"'


def _without_key(line: str) -> str:
    """A sink line without its leading record_key: Flink's JSON format writes the sink's
    columns in schema order, record_key first (flink_jobs/tables.py _output_schema)."""
    if not line.startswith(_KEY_START):
        raise ValueError(f"a batch output line that does not start with its key: {line[:80]!r}")
    _, end = scanstring(line, len(_KEY_START))
    rest = line[end:]
    return "{" + rest[1:] if rest.startswith(",") else "{" + rest


def copy_output(written: Path, name: str, target: Path) -> int:
    """Write an output's rows to target as JSON Lines, each as Flink wrote it without its
    record_key, part file after part file: streamed, so memory does not grow with the
    output. Returns the row count. The order is the planner's (the outputs are sets)."""
    rows = 0
    with open(target, "w", encoding="utf-8") as out:
        for part in _parts(written / name):
            with open(part, encoding="utf-8") as lines:
                for line in lines:
                    if line.strip():
                        out.write(_without_key(line.rstrip("\n")) + "\n")
                        rows += 1
    return rows


# Managed memory of the local mini cluster's TaskManager, where batch sorts, hash joins and
# hash aggregates keep their data before they spill to disk (Flink's default: 128 MB).
MANAGED_MEMORY = "1g"


def default_parallelism() -> int:
    """One task per CPU: the mini cluster runs in this machine's one JVM."""
    return os.cpu_count() or 1


def mini_cluster_configuration() -> Configuration:
    """What the local mini cluster must know when it starts (set before the environment is
    made: TableConfig entries set later do not reach it)."""
    config = Configuration()
    config.set_string("taskmanager.memory.managed.size", MANAGED_MEMORY)
    return config


def run_batch(
    input_folder: Path,
    output_folder: Path,
    settings: PipelineSettings | None = None,
    on_step: Callable[[str], None] = print,
) -> dict[str, int]:
    """Run the pipeline over input_folder; write output_folder/<output>/part-0.jsonl for
    every output; return the row count per output."""
    settings = settings or PipelineSettings()
    if settings.parallelism is None:
        settings = settings.model_copy(update={"parallelism": default_parallelism()})
    output_folder = Path(output_folder)
    work = Path(tempfile.mkdtemp(prefix="advertisex-batch-"))
    try:
        staged, written = work / "staged", work / "written"
        # A staged file is one split, read by one source task: a file per task.
        counts = stage(Path(input_folder), staged, files=settings.parallelism)
        on_step("staged " + ", ".join(f"{n:,} {source} messages" for source, n in counts.items()))
        env = TableEnvironment.create(
            EnvironmentSettings.new_instance()
            .in_batch_mode()
            .with_configuration(mini_cluster_configuration())
            .build()
        )
        settings.apply(env, "advertisex-batch")
        tables = FileTables(staged, written, settings.out_of_orderness_s)
        campaigns = CampaignSource(file=str(staged / "campaigns.jsonl"))
        on_step("running the Flink job on a local mini cluster")
        build(env, tables, campaigns, settings).execute().wait()
        result = {}
        for name in OUTPUTS:
            target = output_folder / name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            result[name] = copy_output(written, name, target / "part-0.jsonl")
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
