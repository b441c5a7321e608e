"""The event time a raw message's source reads from its payload (contract 2.5)."""

import pytest

from advertisex.contract.bid_requests import encode_bid_request
from advertisex.contract.event_time import event_time_ms

T = 1_795_947_330_123


@pytest.mark.parametrize(
    ("source", "payload", "expected"),
    [
        ("impressions", b'{"event_time":"2026-11-29T10:15:30.123Z"}', T),
        ("impressions", b'{"event_time":1795947330123}', T),
        # Readable although the record breaks other rules: it still moves the watermark.
        ("impressions", b'{"event_time":"2026-11-29T11:15:30.123+01:00","user_id":7}', T),
        ("impressions", b'{"event_time":"2026-11-29T10:15:30"}', None),  # naive
        ("impressions", b'{"impression_id":"i"}', None),  # no event_time
        ("impressions", b'{"event_time":', None),  # not JSON
        ("clicks_conversions", b"e1,1795947330123,click,u,c,i,,,", T),
        ("clicks_conversions", b"e1,2026-11-29T10:15:30.123Z,oops,,,,,,", T),
        ("clicks_conversions", b"e1,yesterday,click,u,c,i,,,", None),
        ("clicks_conversions", b"e1,1795947330123,click", None),  # too few columns
        ("bid_requests", b"\x00\x00\x00\x00\x07", None),  # unknown schema id
    ],
)
def test_event_time_is_read_whatever_else_is_wrong(source, payload, expected):
    assert event_time_ms(source, payload) == expected


@pytest.mark.parametrize("framing", ["plain", "registry"])
def test_a_bid_requests_event_time_in_either_framing(framing):
    record = {
        "request_id": "r",
        "event_time": T,
        "exchange": "x",
        "auction_type": "FIRST_PRICE",
        "bid_floor_micros": 1,
        "currency": "USD",
        "user": {},
        "device": {},
        "site": {"domain": "a.example"},
        "targeting": {},
        "outcome": None,
    }
    assert event_time_ms("bid_requests", encode_bid_request(record, framing)) == T
