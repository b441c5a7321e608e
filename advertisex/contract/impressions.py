"""Impressions on the wire: one compact UTF-8 JSON object per message (contract 1.1)."""

from __future__ import annotations

import json

from advertisex.contract.errors import ContractError


def encode_impression(record: dict) -> bytes:
    """Compact JSON in UTF-8 (non-ASCII text as is, not \\u-escaped); NaN is refused."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def decode_impression(payload: bytes) -> dict:
    """The JSON object of a message; ContractError('malformed_json') when it is not one.

    Only strict JSON in UTF-8 is accepted: Python's NaN/Infinity extensions, other
    encodings and a byte-order mark are malformed. Field values are not checked here
    (that is rules.standardize_impression's job).
    """
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContractError("malformed_json", f"payload is not UTF-8 ({exc})") from None
    elif isinstance(payload, str):
        text = payload
    else:
        raise ContractError(
            "malformed_json", f"payload must be bytes, got {type(payload).__name__}"
        )
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ContractError("malformed_json", f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ContractError("malformed_json", f"expected a JSON object, got {_json_kind(value)}")
    return value


def _refuse_constant(name: str) -> None:
    raise ContractError("malformed_json", f"not valid JSON: {name} is not a JSON number")


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
