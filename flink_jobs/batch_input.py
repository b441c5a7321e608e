"""Stage a batch input folder for the pipeline: one JSON Lines file per source, one line
per message (its bytes in base64, which Flink's JSON format reads into a BYTES column), with
where the message was.

The batch job reads messages as the streaming job reads Kafka: raw bytes and a location
for dead letters (file and line, which also decide which duplicate comes first). The event
time is read from the payload by the job itself, as in streaming.
"""

from __future__ import annotations

import json
import shutil
from base64 import b64encode
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from advertisex.ingest.avro_blocks import read_datums
from advertisex.ingest.replay import ReplayError, campaign_rows, located_csv_records

INPUT_FILES = {"impressions": "*.jsonl", "clicks_conversions": "*.csv", "bid_requests": "*.avro"}


def located_messages(folder: Path) -> Iterator[tuple[str, str, int, bytes]]:
    """(source, file relative to the folder, 1-based line or Avro record number, bytes) of
    every record, in file order."""
    for source, pattern in INPUT_FILES.items():
        for path in sorted((folder / source).glob(pattern)):
            name = str(path.relative_to(folder))
            if source == "impressions":
                with open(path, "rb") as f:
                    for number, line in enumerate(f, start=1):
                        line = line.rstrip(b"\r\n")
                        if line:
                            yield source, name, number, line
            elif source == "clicks_conversions":
                for number, record in located_csv_records(path):
                    yield source, name, number, record
            else:
                for number, (datum, _) in enumerate(read_datums(path), start=1):
                    yield source, name, number, datum


def stage(folder: Path, staged: Path, files: int = 1) -> Counter:
    """Write staged/<source>/messages-<n>.json (files of them per source, messages dealt out
    in turn: each file is one split, so `files` source tasks can read a source at once) and
    staged/campaigns.jsonl; count per source."""
    folder = Path(folder)
    if not any((folder / source).is_dir() for source in INPUT_FILES):
        raise ReplayError(
            f"{folder} holds none of impressions/, clicks_conversions/, bid_requests/: "
            "is it a folder written by `advertisex simulate --to files`?"
        )
    if staged.exists():
        shutil.rmtree(staged)
    outputs = {}
    for source in INPUT_FILES:
        (staged / source).mkdir(parents=True)
        outputs[source] = [
            open(staged / source / f"messages-{n}.json", "w", encoding="ascii")
            for n in range(files)
        ]
    counts = Counter()
    try:
        names: dict[str, str] = {}  # file -> its name as a JSON string, once per file
        for source, name, number, payload in located_messages(folder):
            quoted = names.get(name) or names.setdefault(name, json.dumps(name))
            outputs[source][counts[source] % files].write(
                f'{{"payload":"{b64encode(payload).decode("ascii")}",'
                f'"file_name":{quoted},"file_line":{number}}}\n'
            )
            counts[source] += 1
    finally:
        for out in outputs.values():
            for f in out:
                f.close()
    with open(staged / "campaigns.jsonl", "w") as out:
        for row in campaign_rows(folder):
            out.write(json.dumps(row) + "\n")
    return counts
