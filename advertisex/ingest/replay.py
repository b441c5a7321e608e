"""Replay a batch input folder onto the raw topics: the backfill path.

Every record is sent as the exact bytes it has in its file, malformed or not, so that the
pipeline judges it: a replay must lose nothing and fix nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from advertisex.contract.clicks_csv import COLUMNS, HEADER
from advertisex.ingest.avro_blocks import read_datums
from advertisex.ingest.simulator import Emitted


class ReplayError(ValueError):
    """The folder is not laid out as a batch input folder."""


def _impression_key(line: bytes) -> str:
    try:
        value = json.loads(line)
        return str(value.get("impression_id", "")) if isinstance(value, dict) else ""
    except ValueError:
        return ""


def _csv_fields(text: str) -> list[str] | None:
    rows = list(csv.reader(io.StringIO(text), strict=True))
    return rows[0] if len(rows) == 1 else None


def csv_records(path: Path) -> Iterator[bytes]:
    """The records of a CSV file after its header (see located_csv_records)."""
    for _, record in located_csv_records(path):
        yield record


def located_csv_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line where it starts, record) for the records of a CSV file after its
    header: a physical line each, except where a quoted field holds a line break (RFC 4180)
    and the joined lines make one whole record. An unterminated quote does not swallow the
    rest of the file: that line goes alone."""
    lines = path.read_bytes().splitlines()
    if not lines or lines[0].decode("utf-8", "replace").strip() != HEADER:
        raise ReplayError(f"{path}: the first line must be the header {HEADER!r}")
    i = 1
    while i < len(lines):
        line, start = lines[i], i
        if line.count(b'"') % 2:
            for j in range(i + 1, min(i + 20, len(lines))):
                joined = b"\r\n".join(lines[i : j + 1])
                if joined.count(b'"') % 2 == 0:
                    try:
                        fields = _csv_fields(joined.decode())
                    except (csv.Error, UnicodeDecodeError):
                        fields = None
                    if fields is not None and len(fields) == len(COLUMNS):
                        line, i = joined, j
                    break
        if line:
            yield start + 1, line
        i += 1


def _csv_key(record: bytes) -> str:
    try:
        fields = _csv_fields(record.decode())
    except (csv.Error, UnicodeDecodeError):
        return ""
    return fields[0] if fields else ""


def _avro_key(datum: bytes) -> str:
    # request_id is the record's first field: a length-prefixed UTF-8 string.
    try:
        from fastavro.io.binary_decoder import BinaryDecoder

        return BinaryDecoder(io.BytesIO(datum)).read_utf8()
    except Exception:  # noqa: BLE001 - a datum that is not even that far readable has no key
        return ""


def folder_messages(folder: Path) -> Iterator[Emitted]:
    """Every record of the folder as a message for its raw topic, in file order."""
    folder = Path(folder)
    sources = {"impressions": "*.jsonl", "clicks_conversions": "*.csv", "bid_requests": "*.avro"}
    if not any((folder / s).is_dir() for s in sources):
        raise ReplayError(
            f"{folder} holds none of impressions/, clicks_conversions/, bid_requests/: "
            "is it a folder written by `advertisex simulate --to files`?"
        )
    for path in sorted((folder / "impressions").glob("*.jsonl")):
        with open(path, "rb") as f:
            for line in f:
                line = line.rstrip(b"\r\n")
                if line:
                    yield Emitted("impressions", _impression_key(line), line, 0, 0)
    for path in sorted((folder / "clicks_conversions").glob("*.csv")):
        for record in csv_records(path):
            yield Emitted("clicks_conversions", _csv_key(record), record, 0, 0)
    for path in sorted((folder / "bid_requests").glob("*.avro")):
        for datum, decoded in read_datums(path):
            yield Emitted(
                "bid_requests", _avro_key(datum) if decoded else "", datum, 0, 0, not decoded
            )


def campaign_rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted((Path(folder) / "campaigns").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def replay(folder: Path, sink, on_message: Callable[[Emitted], None] | None = None) -> Counter:
    """Send the folder's campaigns and records to sink; count the messages per source."""
    counts: Counter[str] = Counter()
    rows = campaign_rows(folder)
    sink.write_campaigns(rows)
    counts["campaigns"] = len(rows)
    for message in folder_messages(folder):
        sink.write(message)
        counts[message.source] += 1
        if on_message:
            on_message(message)
    return counts
