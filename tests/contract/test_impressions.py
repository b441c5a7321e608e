"""Impressions: compact UTF-8 JSON both ways, and every malformed payload refused."""

from __future__ import annotations

import pytest

from advertisex.contract.errors import ContractError
from advertisex.contract.impressions import decode_impression, encode_impression

IMPRESSION = {
    "impression_id": "imp-1",
    "event_time": "2026-11-29T10:15:30.123Z",
    "user_id": "u-1",
    "creative_id": "cr-1",
    "campaign_id": "c-1",
    "website": "https://www.zeitung.example.de/münchen?x=1",
    "cost_micros": 1500,
    "user_agent": "Mozilla/5.0 ☃ 日本語 😀",
    "extra": {"nested": [1, None, True]},
}


def test_round_trip_keeps_every_field_and_unicode():
    assert decode_impression(encode_impression(IMPRESSION)) == IMPRESSION


def test_encoding_is_compact_utf8_without_escapes():
    assert encode_impression({"a": "ü😀", "b": [1, 2]}) == '{"a":"ü😀","b":[1,2]}'.encode()


def test_encoding_refuses_nan():
    with pytest.raises(ValueError):
        encode_impression({"cost_micros": float("nan")})


def test_decoding_accepts_str_and_escaped_unicode():
    assert decode_impression('{"a":"\\u00fc"}') == {"a": "ü"}
    assert decode_impression(bytearray(b' {"a": 1} \n')) == {"a": 1}


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"", "not valid JSON: Expecting value"),
        (b"{", "not valid JSON: Expecting property name"),
        (b'{"a":1}{"b":2}', "not valid JSON: Extra data"),
        (b'{"a":1,}', "not valid JSON"),
        (b"{'a':1}", "not valid JSON"),
        (b'{"a":NaN}', "not valid JSON: NaN is not a JSON number"),
        (b'{"a":-Infinity}', "not valid JSON: -Infinity is not a JSON number"),
        (b"\xff\xfe{}", "payload is not UTF-8"),
        ('{"a":"é"}'.encode("latin-1"), "payload is not UTF-8"),
        (b"\xef\xbb\xbf{}", "not valid JSON: Unexpected UTF-8 BOM"),
        (b"[1,2]", "expected a JSON object, got an array"),
        (b'"text"', "expected a JSON object, got a string"),
        (b"42", "expected a JSON object, got a number"),
        (b"true", "expected a JSON object, got a boolean"),
        (b"null", "expected a JSON object, got null"),
    ],
)
def test_malformed_payloads(payload, detail):
    with pytest.raises(ContractError) as caught:
        decode_impression(payload)
    assert caught.value.reason == "malformed_json"
    assert caught.value.detail.startswith(detail)
    assert str(caught.value) == f"malformed_json: {caught.value.detail}"


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 501 + b"]" * 501,  # deeper than MAX_NESTING: Python's parser would recurse
        b'{"a":' + b"[" * 600 + b"]" * 600 + b"}",
        b'{"a":' + b"1" * 5000 + b"}",  # more digits than Python's int() takes
    ],
)
def test_payloads_that_would_crash_pythons_parser_are_malformed(payload):
    with pytest.raises(ContractError) as caught:
        decode_impression(payload)
    assert caught.value.reason == "malformed_json"


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '{"a":"' + "[" * 600 + '"}'
    assert decode_impression(text.encode()) == {"a": "[" * 600}


def test_decoding_refuses_a_non_bytes_payload():
    with pytest.raises(ContractError) as caught:
        decode_impression(42)
    assert caught.value.reason == "malformed_json"
