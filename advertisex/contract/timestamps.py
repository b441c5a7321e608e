"""Timestamps as the contract accepts them, to UTC epoch milliseconds and back.

Accepted: ISO-8601 `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)`, integer epoch millis
(an int, an integral float, or a string of ASCII digits: CSV carries every value as text).
The valid range is 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from advertisex.contract.errors import ContractError

MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last instant to_iso can write
_MAX_EPOCH_DIGITS = len(str(MAX_EPOCH_MS))

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))",
    re.ASCII,  # \d must not match other scripts' digits
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS_TO_1970 = _EPOCH.toordinal()


def to_epoch_ms(value: object) -> int:
    """UTC epoch milliseconds of a contract timestamp; ContractError('bad_timestamp') otherwise.

    Fractions finer than a millisecond are truncated (toward the past), as Java's Instant does.
    Naive ISO strings, dates without a time, bools, floats with a fraction, NaN, negative
    values and values past year 9999 are rejected.
    """
    if isinstance(value, bool):  # bool is an int subclass: True must not mean 1 ms
        raise _bad(value, "a boolean is not a timestamp")
    if isinstance(value, int):
        return _in_range(value, value)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise _bad(value, "a float timestamp must be a whole number of milliseconds")
        return _in_range(int(value), value)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            # More digits than the last valid instant has is out of range, and int() of
            # thousands of digits would raise instead (Python's int max str digits).
            digits = text.lstrip("0") or "0"
            if len(digits) > _MAX_EPOCH_DIGITS:
                raise _bad(value, "outside 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z")
            return _in_range(int(digits), value)
        return _from_iso(text, value)
    raise _bad(
        value, f"expected an ISO-8601 string or epoch milliseconds, got {type(value).__name__}"
    )


def to_iso(ms: int) -> str:
    """`2026-11-29T10:15:30.123Z` for epoch milliseconds (UTC, always 3 fraction digits)."""
    if isinstance(ms, bool) or not isinstance(ms, int):
        raise _bad(ms, "to_iso needs integer epoch milliseconds")
    _in_range(ms, ms)
    seconds, millis = divmod(ms, 1000)
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def _from_iso(text: str, original: object) -> int:
    match = _ISO.fullmatch(text)
    if match is None:
        raise _bad(original, "expected YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm) or epoch millis")
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    try:
        # Validates the calendar: month 13, Feb 30, hour 24 and leap second 60 all fail here.
        days = datetime(year, month, day, hour, minute, second).toordinal() - _DAYS_TO_1970
    except ValueError as exc:
        raise _bad(original, f"not a valid date and time ({exc})") from None
    offset_s = 0
    if match.group(8) != "Z":
        off_h, off_m = int(match.group(10)), int(match.group(11))
        if off_h > 23 or off_m > 59:
            raise _bad(original, "UTC offset out of range")
        offset_s = (off_h * 3600 + off_m * 60) * (1 if match.group(9) == "+" else -1)
    fraction = match.group(7) or ""
    millis = int((fraction + "00")[:3]) if fraction else 0
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_s
    return _in_range(seconds * 1000 + millis, original)


def _in_range(ms: int, original: object) -> int:
    if 0 <= ms <= MAX_EPOCH_MS:
        return ms
    raise _bad(original, "outside 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z")


def _bad(value: object, why: str) -> ContractError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ContractError("bad_timestamp", f"{shown}: {why}")
