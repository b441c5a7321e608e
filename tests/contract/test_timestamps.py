"""Timestamps: every accepted form to exact epoch millis, every other form refused."""

from __future__ import annotations

import pytest

from advertisex.contract.errors import ContractError
from advertisex.contract.timestamps import MAX_EPOCH_MS, to_epoch_ms, to_iso

# 2026-11-29T10:15:30.123Z
T = 1_795_947_330_123


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-29T10:15:30.123Z", T),
        ("2026-11-29T11:15:30.123+01:00", T),
        ("2026-11-29T05:45:30.123-04:30", T),
        ("2026-11-29T10:15:30.123+00:00", T),
        ("2026-11-29T10:15:30.123-00:00", T),
        ("2026-11-29T10:15:30Z", T - 123),
        ("2026-11-29T10:15:30.1Z", T - 23),
        ("2026-11-29T10:15:30.12Z", T - 3),
        ("2026-11-29T10:15:30.123999999Z", T),  # finer than millis: truncated
        ("  2026-11-29T10:15:30.123Z\n", T),  # surrounding blanks trimmed
        ("2026-11-30T00:15:30.123+14:00", T),  # the offset moves the date back
        ("2024-02-29T00:00:00Z", 1_709_164_800_000),  # leap day
        ("1970-01-01T00:00:00Z", 0),
        ("9999-12-31T23:59:59.999Z", MAX_EPOCH_MS),
        (T, T),
        (0, 0),
        (float(T), T),
        (str(T), T),
        ("0001795947330123", T),  # leading zeros are still digits
        ("0" * 5000 + str(T), T),  # more digits than int() takes, few significant
        (f" {T} ", T),
    ],
)
def test_accepted_forms_give_exact_millis(value, expected):
    assert to_epoch_ms(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-29T10:15:30.123",  # naive: no offset
        "2026-11-29T10:15:30",
        "2026-11-29",
        "2026-11-29 10:15:30Z",  # space instead of T
        "2026-11-29t10:15:30z",
        "2026-11-29T10:15Z",  # no seconds
        "2026-11-29T10:15:30.Z",
        "2026-11-29T10:15:30.1234567890Z",  # more than 9 fraction digits
        "2026-11-29T10:15:30+0100",  # offset without colon
        "2026-11-29T10:15:30+01",
        "2026-11-29T10:15:30+24:00",
        "2026-11-29T10:15:30+01:60",
        "20261129T101530Z",  # basic format
        "2026-W48-7T10:15:30Z",
        "2026-02-30T10:15:30Z",
        "2026-13-01T10:15:30Z",
        "2026-11-29T24:00:00Z",
        "2026-11-29T10:15:60Z",  # leap second
        "２０２６-11-29T10:15:30Z",  # fullwidth digits
        "1969-12-31T23:59:59.999Z",  # before the epoch
        "10000-01-01T00:00:00Z",
        "",
        "   ",
        "-1",
        "+1795947330123",
        "1795947330123.0",
        "1.795947330123e12",
        "٣٣",  # Arabic-Indic digits are not ASCII digits
        "9" * 5000,  # more digits than int() takes: out of range, not a crash
        -1,
        MAX_EPOCH_MS + 1,
        1.5,
        float(T) + 0.5,
        float("nan"),
        float("inf"),
        True,
        False,
        None,
        [T],
        {"ms": T},
        b"1795947330123",
    ],
)
def test_other_forms_are_bad_timestamps(value):
    with pytest.raises(ContractError) as caught:
        to_epoch_ms(value)
    assert caught.value.reason == "bad_timestamp"
    assert repr(value)[:20] in caught.value.detail


def test_detail_says_why():
    with pytest.raises(ContractError) as caught:
        to_epoch_ms("2026-02-30T10:15:30Z")
    assert str(caught.value) == (
        "bad_timestamp: '2026-02-30T10:15:30Z': not a valid date and time "
        "(day is out of range for month)"
    )


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (T, "2026-11-29T10:15:30.123Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (1_709_164_800_005, "2024-02-29T00:00:00.005Z"),
        (MAX_EPOCH_MS, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_to_iso_writes_utc_millis_with_z(ms, text):
    assert to_iso(ms) == text
    assert to_epoch_ms(text) == ms


@pytest.mark.parametrize("ms", [-1, MAX_EPOCH_MS + 1, 1.0, "0", True, None])
def test_to_iso_refuses_what_is_not_epoch_millis(ms):
    with pytest.raises(ContractError) as caught:
        to_iso(ms)
    assert caught.value.reason == "bad_timestamp"
