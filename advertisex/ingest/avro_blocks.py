"""Avro object container files written from, and read back into, raw datums.

The simulator already holds each bid request as encoded bytes, and a malformed datum has no
record to give a record-level writer. Writing blocks ourselves keeps both: valid datums
share blocks, and each malformed one sits in a block of its own, so a reader that fails on
it loses that block only and finds the next by its sync marker. Reading splits every
block back into the exact bytes of each datum.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from fastavro import parse_schema, schemaless_reader
from fastavro.io.binary_decoder import BinaryDecoder

MAGIC = b"Obj\x01"


def _long(value: int) -> bytes:
    """Avro's zigzag varint."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _bytes(value: bytes) -> bytes:
    return _long(len(value)) + value


def write_datum_blocks(
    path: Path, schema: dict, datums: Iterable[tuple[bytes, bool]], block_size: int = 1000
) -> int:
    """Write (datum, isolate) pairs; a datum to isolate (a malformed one) gets a block of its
    own. Returns the number of datums written."""
    sync = os.urandom(16)
    meta = {"avro.schema": json.dumps(schema).encode(), "avro.codec": b"null"}
    header = MAGIC + _long(len(meta))
    header += b"".join(_bytes(k.encode()) + _bytes(v) for k, v in meta.items()) + _long(0)
    count = 0
    with open(path, "wb") as out:
        out.write(header + sync)
        block: list[bytes] = []

        def flush(items: list[bytes]) -> None:
            if items:
                data = b"".join(items)
                out.write(_long(len(items)) + _long(len(data)) + data + sync)

        for datum, isolate in datums:
            count += 1
            if not isolate:
                block.append(datum)
                if len(block) >= block_size:
                    flush(block)
                    block = []
            else:
                flush(block)
                block = []
                flush([datum])
        flush(block)
    return count


def read_datums(path: Path) -> Iterator[tuple[bytes, bool]]:
    """Each datum's exact bytes and whether it decoded; a block that fails part-way yields
    its undecodable rest as one invalid piece."""
    with open(path, "rb") as f:
        data = f.read()
    stream = io.BytesIO(data)
    decoder = BinaryDecoder(stream)
    if stream.read(4) != MAGIC:
        raise ValueError(f"{path} is not an Avro object container file")
    meta: dict[str, bytes] = {}
    while (n := decoder.read_long()) != 0:
        if n < 0:
            decoder.read_long()  # block byte size
            n = -n
        for _ in range(n):
            key = decoder.read_utf8()
            meta[key] = decoder.read_bytes()
    codec = meta.get("avro.codec", b"null") or b"null"
    if codec not in (b"null", b"deflate"):
        raise ValueError(
            f"{path}: codec {codec.decode(errors='replace')!r} is not supported here "
            "(null and deflate are)"
        )
    schema = parse_schema(json.loads(meta["avro.schema"]))
    sync = stream.read(16)
    while stream.tell() < len(data):
        count = decoder.read_long()
        size = decoder.read_long()
        block = stream.read(size)
        if codec == b"deflate":
            block = zlib.decompress(block, -15)  # raw deflate, as the Avro spec says
        if stream.read(16) != sync:
            raise ValueError(f"{path}: sync marker missing after a block")
        yield from _split_block(block, count, schema)


def _split_block(block: bytes, count: int, schema: dict) -> Iterator[tuple[bytes, bool]]:
    piece = io.BytesIO(block)
    for _ in range(count):
        start = piece.tell()
        try:
            schemaless_reader(piece, schema, None)
        except Exception:  # noqa: BLE001 - any decode failure makes the rest one bad piece
            yield block[start:], False
            return
        yield block[start : piece.tell()], True
    if piece.tell() < len(block):
        yield block[piece.tell() :], False
