"""Bid requests: Avro datums in both framings, container files, newer writers, and every
unreadable datum refused as malformed_avro with what failed."""

from __future__ import annotations

import copy
import io
import struct

import fastavro
import pytest

from advertisex.contract.bid_requests import (
    decode_bid_request,
    encode_bid_request,
    read_avro_file,
    write_avro_file,
)
from advertisex.contract.errors import ContractError
from advertisex.contract.schemas import bid_request_avsc

T = 1_795_947_330_123

FULL = {
    "request_id": "req-1",
    "event_time": T,
    "exchange": "adx",
    "auction_type": "SECOND_PRICE",
    "bid_floor_micros": 250_000,
    "currency": "usd",
    "user": {
        "user_id": "u-1",
        "segments": ["sports", "autos"],
        "age_range": "25-34",
        "gender": "f",
    },
    "device": {
        "device_type": "Mobile",
        "os": "iOS",
        "user_agent": "Mozilla/5.0 ☃",
        "ip": "203.0.113.7",
        "country": "de",
    },
    "site": {"domain": "WWW.News.Example.com", "page_url": "https://x/y", "categories": ["IAB1"]},
    "targeting": {"campaign_ids": ["c-1", "c-2"], "keywords": ["früh"]},
    "outcome": {
        "bid_price_micros": 400_000,
        "won": True,
        "clearing_price_micros": 260_000,
        "campaign_id": "c-1",
        "creative_id": "cr-9",
    },
}
MINIMAL = {
    "request_id": "r",
    "event_time": 0,
    "exchange": "x",
    "auction_type": "FIRST_PRICE",
    "bid_floor_micros": 0,
    "currency": "USD",
    "user": {},
    "device": {},
    "site": {"domain": "d"},
    "targeting": {},
}
MINIMAL_DECODED = {
    **MINIMAL,
    "user": {"user_id": None, "segments": [], "age_range": None, "gender": None},
    "device": {"device_type": None, "os": None, "user_agent": None, "ip": None, "country": None},
    "site": {"domain": "d", "page_url": None, "categories": []},
    "targeting": {"campaign_ids": [], "keywords": []},
    "outcome": None,
}


@pytest.mark.parametrize("framing", ["plain", "registry"])
def test_round_trip_in_both_framings(framing):
    assert decode_bid_request(encode_bid_request(FULL, framing)) == FULL


@pytest.mark.parametrize("framing", ["plain", "registry"])
def test_defaults_fill_missing_unions_and_arrays(framing):
    assert decode_bid_request(encode_bid_request(MINIMAL, framing)) == MINIMAL_DECODED


def test_plain_is_the_bare_datum_and_registry_adds_magic_and_id():
    plain = encode_bid_request(MINIMAL)
    assert plain[:2] == b"\x02r"  # request_id: zigzag length 1, then the text
    assert encode_bid_request(MINIMAL, "registry", schema_id=1) == b"\x00\x00\x00\x00\x01" + plain
    framed = encode_bid_request(MINIMAL, "registry", schema_id=0x01020304)
    assert framed == b"\x00\x01\x02\x03\x04" + plain


def test_an_aware_datetime_event_time_is_encoded_as_millis():
    from datetime import UTC, datetime

    record = {**MINIMAL, "event_time": datetime(2026, 11, 29, 10, 15, 30, 123000, tzinfo=UTC)}
    assert decode_bid_request(encode_bid_request(record))["event_time"] == T


def test_an_unknown_framing_is_a_programming_error():
    with pytest.raises(ValueError, match="framing must be one of"):
        encode_bid_request(MINIMAL, "confluent")


def test_an_out_of_range_event_time_is_decoded_for_the_rules_to_judge():
    for value in (-1, 2**62):
        record = {**MINIMAL, "event_time": value}
        for framing in ("plain", "registry"):
            assert decode_bid_request(encode_bid_request(record, framing))["event_time"] == value


def test_container_file_round_trip(tmp_path):
    path = tmp_path / "bids.avro"
    write_avro_file(path, [FULL, MINIMAL])
    assert path.read_bytes()[:4] == b"Obj\x01"
    assert list(read_avro_file(path)) == [FULL, MINIMAL_DECODED]


def test_container_file_without_compression(tmp_path):
    path = tmp_path / "bids.avro"
    write_avro_file(path, [FULL], codec="null")
    assert list(read_avro_file(path)) == [FULL]


# --- newer writers -------------------------------------------------------------------


def _newer_schema() -> dict:
    """Ours plus a field with a default at the top level and inside Device."""
    schema = bid_request_avsc()
    schema["fields"].append({"name": "deal_id", "type": ["null", "string"], "default": None})
    device = next(f for f in schema["fields"] if f["name"] == "device")["type"]
    device["fields"].append({"name": "carrier", "type": "string", "default": ""})
    return schema


def _newer_record() -> dict:
    record = copy.deepcopy(FULL)
    record["deal_id"] = "deal-7"
    record["device"]["carrier"] = "Telekom"
    return record


def _write(schema: dict, record: dict) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def test_registry_framing_resolves_a_newer_writer_schema_by_id():
    datum = _write(_newer_schema(), _newer_record())
    payload = b"\x00" + struct.pack(">I", 2) + datum
    assert decode_bid_request(payload, writer_schemas={2: _newer_schema()}) == FULL


def test_registry_framing_accepts_parsed_writer_schemas_and_keeps_id_1_as_ours():
    newer = fastavro.parse_schema(_newer_schema())
    payload = b"\x00\x00\x00\x00\x02" + _write(_newer_schema(), _newer_record())
    assert decode_bid_request(payload, {2: newer}) == FULL
    assert decode_bid_request(encode_bid_request(FULL, "registry"), {2: newer}) == FULL


def test_plain_framing_ignores_fields_a_newer_writer_appended_at_the_end():
    schema = bid_request_avsc()
    schema["fields"] += [
        {"name": "deal_id", "type": ["null", "string"], "default": None},
        {"name": "tmax_ms", "type": "int", "default": 120},
    ]
    datum = _write(schema, {**FULL, "deal_id": "deal-7", "tmax_ms": 80})
    assert datum != encode_bid_request(FULL)
    assert datum.startswith(encode_bid_request(FULL))
    assert decode_bid_request(datum) == FULL


# --- malformed -----------------------------------------------------------------------


def _malformed(payload: bytes, writer_schemas=None) -> str:
    with pytest.raises(ContractError) as caught:
        decode_bid_request(payload, writer_schemas)
    assert caught.value.reason == "malformed_avro"
    return caught.value.detail


def _enum_byte_offset() -> int:
    first = encode_bid_request({**MINIMAL, "auction_type": "FIRST_PRICE"})
    second = encode_bid_request({**MINIMAL, "auction_type": "SECOND_PRICE"})
    (offset,) = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    return offset


def test_empty_payload():
    assert _malformed(b"") == "empty payload"


@pytest.mark.parametrize("framing", ["plain", "registry"])
def test_truncated_datums(framing):
    payload = encode_bid_request(FULL, framing)
    for cut in (len(payload) - 1, len(payload) // 2, 7):
        assert "truncated datum" in _malformed(payload[:cut])


def test_a_bad_union_branch_index():
    payload = encode_bid_request(MINIMAL)
    assert payload[-1:] == b"\x00"  # outcome: union branch 0, null
    detail = _malformed(payload[:-1] + b"\x06")  # branch 3 of 2
    assert detail == "plain: bad union branch or enum symbol index"


def test_a_bad_enum_symbol_index():
    payload = bytearray(encode_bid_request(MINIMAL))
    payload[_enum_byte_offset()] = 0x08  # symbol 4 of 2
    assert _malformed(bytes(payload)) == "plain: bad union branch or enum symbol index"


def test_a_negative_length():
    assert _malformed(b"\x01abc").startswith("plain: negative length")


def test_a_string_that_is_not_utf8():
    payload = encode_bid_request(MINIMAL)
    assert _malformed(b"\x02\xff" + payload[2:]).startswith("plain: a string is not UTF-8")


def test_registry_header_shorter_than_five_bytes():
    assert _malformed(b"\x00\x00\x00") == "registry framing needs 5 header bytes, got 3"


def test_an_unknown_schema_id():
    payload = encode_bid_request(MINIMAL, "registry", schema_id=7)
    assert _malformed(payload) == "unknown schema id 7 (known: [1])"
    assert _malformed(payload, {3: _newer_schema()}) == "unknown schema id 7 (known: [1, 3])"


def test_trailing_bytes_after_a_registry_datum():
    payload = encode_bid_request(MINIMAL, "registry") + b"zz"
    assert _malformed(payload) == "2 trailing bytes after the datum (registry schema id 1)"


def test_an_invalid_writer_schema():
    payload = encode_bid_request(MINIMAL, "registry", schema_id=5)
    detail = _malformed(payload, {5: {"type": "no-such-type"}})
    assert detail.startswith("writer schema 5 is invalid:")


def test_a_writer_schema_that_cannot_resolve_to_ours():
    incompatible = bid_request_avsc()
    incompatible["fields"][0]["type"] = "long"  # request_id as a number
    payload = b"\x00\x00\x00\x00\x04" + _write(incompatible, {**MINIMAL, "request_id": 5})
    assert "cannot resolve the writer schema to ours" in _malformed(payload, {4: incompatible})


def test_a_corrupt_container_file(tmp_path):
    path = tmp_path / "bad.avro"
    path.write_bytes(b"Obj\x01 not really avro")
    with pytest.raises(ContractError) as caught:
        list(read_avro_file(path))
    assert caught.value.reason == "malformed_avro"
    assert caught.value.detail.startswith(f"{path}: ")


def test_an_empty_request_id_reads_in_either_framing_so_the_rules_can_report_it():
    # A plain datum with an empty request_id starts with 0x00 like the registry framing;
    # when it does not read as registry framing, it is read as a whole plain datum.
    plain = encode_bid_request({**MINIMAL, "request_id": ""})
    assert plain[:1] == b"\x00"
    assert decode_bid_request(plain)["request_id"] == ""
    framed = encode_bid_request({**MINIMAL, "request_id": ""}, "registry")
    assert decode_bid_request(framed)["request_id"] == ""


def test_a_registry_header_with_an_unknown_id_is_still_malformed_when_no_plain_reading_fits():
    framed = encode_bid_request(MINIMAL, "registry")
    unknown = framed[:1] + (99).to_bytes(4, "big") + framed[5:]
    assert _malformed(unknown).startswith("unknown schema id 99")
