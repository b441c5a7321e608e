"""Impressions on the wire: one compact UTF-8 JSON object per message (contract 1.1)."""

from __future__ import annotations

import json

from advertisex.contract.errors import ContractError

# Deeper JSON is malformed: Python's parser recurses per level and would raise
# RecursionError near 1,000, which the JVM's parser must not have to imitate.
MAX_NESTING = 500


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
    depth = _nesting_depth(text)
    if depth > MAX_NESTING:
        raise ContractError(
            "malformed_json", f"nested {depth} levels deep, more than {MAX_NESTING} allowed"
        )
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ContractError("malformed_json", f"not valid JSON: {exc}") from None
    except ContractError:
        raise  # NaN or Infinity, refused by _refuse_constant
    except ValueError as exc:  # an integer of more digits than Python's int max str digits
        raise ContractError("malformed_json", f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ContractError("malformed_json", f"expected a JSON object, got {_json_kind(value)}")
    return value


def _nesting_depth(text: str) -> int:
    """How deep arrays and objects nest (brackets inside strings do not count); 0 quickly
    for any text with few brackets."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


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
