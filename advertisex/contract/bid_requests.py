"""Bid requests on the wire: one Avro datum per message, in either framing (contract 1.3).

'plain' is the schemaless Avro binary of schemas/bid_request.avsc; 'registry' is the
schema-registry wire format: byte 0x00, the 4-byte big-endian schema id, then the datum.
Decoding detects the framing per message and returns event_time as UTC epoch millis (int).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import fastavro

from advertisex.contract.errors import ContractError
from advertisex.contract.schemas import bid_request_avsc, bid_request_schema

FRAMINGS = ("plain", "registry")
OUR_SCHEMA_ID = 1  # the id our own schema has in the registry
_MAGIC = b"\x00"
_HEADER = struct.Struct(">bI")  # magic byte, schema id


def encode_bid_request(record: dict, framing: str = "plain", schema_id: int = 1) -> bytes:
    """The datum of a record (event_time: epoch millis or an aware datetime), framed.

    Missing union fields and arrays take their defaults. A record that does not fit the
    schema raises fastavro's TypeError/ValueError: a producer bug, not a data error.
    """
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
    out = io.BytesIO()
    if framing == "registry":
        out.write(_HEADER.pack(0, schema_id))
    fastavro.schemaless_writer(out, bid_request_schema(), record)
    return out.getvalue()


def decode_bid_request(payload: bytes, writer_schemas: dict[int, dict] | None = None) -> dict:
    """The record of one message; ContractError('malformed_avro') when it cannot be read.

    Registry framing resolves the datum from its writer schema (writer_schemas[id]; id 1
    is our own schema unless given) to ours, so newer writers that add fields with
    defaults are read; bytes left after the datum are an error. Plain framing carries
    no schema: the datum is read with ours, and bytes after it are ignored, so a newer
    writer may append top-level fields at the end of the record (fields added anywhere
    else need the registry framing).
    """
    data = bytes(payload)
    if not data:
        raise ContractError("malformed_avro", "empty payload")
    # A plain datum starts with request_id's length as a zigzag varint, so a leading 0x00
    # is the registry's magic byte, or else a plain datum with an empty request_id (an
    # Avro file's datums have no framing). The second reading counts only if it is a
    # whole datum, so the record is judged by its rules (missing_field:request_id).
    if data[:1] == _MAGIC:
        try:
            return _decode_registry(data, writer_schemas)
        except ContractError as registry_error:
            stream = io.BytesIO(data)
            try:
                record = _read_datum(stream, _our_wire_schema(), None, "plain")
            except ContractError:
                raise registry_error from None
            if stream.tell() != len(data) or record.get("request_id"):
                raise registry_error from None
            return record
    return _read_datum(io.BytesIO(data), _our_wire_schema(), None, "plain")


def plain_datum(payload: bytes) -> bytes:
    """The datum of a message in either framing, without the registry's header: what an
    object container file holds."""
    return payload[_HEADER.size :] if payload[:1] == _MAGIC else payload


def read_avro_file(path: str | Path) -> Iterator[dict]:
    """The records of an Avro object container file, resolved to our schema."""
    with open(path, "rb") as f:
        try:
            reader = fastavro.reader(f, reader_schema=bid_request_schema())
            for record in reader:
                yield _with_epoch_ms(record)
        except Exception as exc:  # fastavro signals corrupt files with many exception types
            raise ContractError("malformed_avro", f"{path}: {_what_failed(exc)}") from None


def write_avro_file(path: str | Path, records: Iterable[dict], codec: str = "deflate") -> None:
    """An Avro object container file of our schema (deflate-compressed by default)."""
    with open(path, "wb") as f:
        fastavro.writer(f, bid_request_schema(), records, codec=codec)


def _decode_registry(data: bytes, writer_schemas: dict[int, dict] | None) -> dict:
    if len(data) < _HEADER.size:
        raise ContractError(
            "malformed_avro", f"registry framing needs 5 header bytes, got {len(data)}"
        )
    _, schema_id = _HEADER.unpack_from(data)
    given = (writer_schemas or {}).get(schema_id)
    if given is not None:
        writer, reader = _wire_schema(given, schema_id), bid_request_schema()
    elif schema_id == OUR_SCHEMA_ID:
        writer, reader = _our_wire_schema(), None
    else:
        known = sorted({OUR_SCHEMA_ID, *(writer_schemas or {})})
        raise ContractError("malformed_avro", f"unknown schema id {schema_id} (known: {known})")
    stream = io.BytesIO(data)
    stream.seek(_HEADER.size)
    record = _read_datum(stream, writer, reader, f"registry schema id {schema_id}")
    left = len(data) - stream.tell()
    if left:
        raise ContractError(
            "malformed_avro",
            f"{left} trailing bytes after the datum (registry schema id {schema_id})",
        )
    return record


def _read_datum(stream: io.BytesIO, writer: dict, reader: dict | None, framing: str) -> dict:
    try:
        return fastavro.schemaless_reader(stream, writer, reader)
    except Exception as exc:  # fastavro signals corrupt input with many exception types
        raise ContractError("malformed_avro", f"{framing}: {_what_failed(exc)}") from None


def _what_failed(exc: Exception) -> str:
    if isinstance(exc, EOFError):
        if str(exc).startswith("Expected -"):
            return f"negative length of a string, bytes or block ({exc})"
        return f"truncated datum ({str(exc) or 'no more bytes'})"
    if isinstance(exc, IndexError):
        if "list index" in str(exc):
            return "bad union branch or enum symbol index"
        return "truncated datum (ends inside a number)"
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not UTF-8 ({exc.reason})"
    if isinstance(exc, fastavro.read.SchemaResolutionError):
        return f"cannot resolve the writer schema to ours ({_short(exc)})"
    return f"{type(exc).__name__}: {_short(exc)}"


def _short(exc: Exception) -> str:
    # fastavro's messages can quote whole schemas; a dead letter needs the gist.
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."


# Reading uses writer schemas without logical types: fastavro converts a timestamp-millis
# by its writer schema, and that conversion overflows on out-of-range values which are a
# bad_timestamp for the rules to report, not an unreadable datum. Raw longs are faster too.
@cache
def _our_wire_schema() -> dict:
    return fastavro.parse_schema(_without_logical_types(bid_request_avsc()))


_wire_schemas: dict[int, tuple[object, dict]] = {}


def _wire_schema(schema: object, schema_id: int) -> dict:
    # Keyed by the given object's id; the object is kept so that its id cannot be reused.
    cached = _wire_schemas.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    try:
        wire = fastavro.parse_schema(_without_logical_types(schema))
    except Exception as exc:  # any defect of a registry schema is reported alike
        raise ContractError(
            "malformed_avro", f"writer schema {schema_id} is invalid: {_short(exc)}"
        ) from None
    _wire_schemas[id(schema)] = (schema, wire)
    return wire


def _without_logical_types(schema: object) -> object:
    if isinstance(schema, dict):
        return {
            key: _without_logical_types(value)
            for key, value in schema.items()
            if key != "logicalType" and not key.startswith("__fastavro")
        }
    if isinstance(schema, list):
        return [_without_logical_types(item) for item in schema]
    return schema


def _with_epoch_ms(record: dict) -> dict:
    # Object container files are read with their header's schema, so fastavro has already
    # turned timestamp-millis into an aware datetime; the contract speaks epoch millis.
    event_time = record.get("event_time")
    if isinstance(event_time, datetime):
        delta = event_time - _EPOCH
        record["event_time"] = (
            delta.days * 86_400 + delta.seconds
        ) * 1000 + delta.microseconds // 1000
    return record


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
