"""Malformed records of every kind the contract names, each with the reason it must get.

Kinds are taken in turn per source, so even a small run covers each of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import NamedTuple

from advertisex.contract.bid_requests import encode_bid_request
from advertisex.contract.clicks_csv import encode_click_row
from advertisex.contract.impressions import encode_impression


class Breaker(NamedTuple):
    reason: str  # the code the contract's rules must give the result
    make: Callable[[dict], bytes]  # a valid record in, the malformed payload out


def _impression(change: dict, drop: str | None = None) -> Callable[[dict], bytes]:
    def make(record: dict) -> bytes:
        broken = {k: v for k, v in record.items() if k != drop}
        broken.update(change)
        return encode_impression(broken)

    return make


def _csv(change: dict) -> Callable[[dict], bytes]:
    return lambda record: encode_click_row({**record, **change}).encode()


def _avro(change: Callable[[dict], dict], framing: str = "plain") -> Callable[[dict], bytes]:
    return lambda record: encode_bid_request(change(record), framing=framing)


def _truncated_json(record: dict) -> bytes:
    text = encode_impression(record)
    return text[: len(text) // 2]


def _short_csv_row(record: dict) -> bytes:
    # Eight columns instead of nine: the last comma-separated field went missing.
    return encode_click_row(record).rsplit(",", 1)[0].encode()


def _unterminated_quote(record: dict) -> bytes:
    return (
        encode_click_row(record).replace(record["event_id"], f'"{record["event_id"]}', 1).encode()
    )


def _truncated_avro(record: dict) -> bytes:
    datum = encode_bid_request(record)
    return datum[: len(datum) // 3]


def _device(country: str) -> Callable[[dict], dict]:
    return lambda r: {**r, "device": {**r["device"], "country": country}}


BREAKERS: dict[str, list[Breaker]] = {
    "impressions": [
        Breaker("malformed_json", _truncated_json),
        Breaker("missing_field:user_id", _impression({}, drop="user_id")),
        Breaker("missing_field:campaign_id", _impression({"campaign_id": "  "})),
        Breaker("bad_timestamp", _impression({"event_time": "2026-11-29T10:15:30"})),
        Breaker("bad_timestamp", _impression({"event_time": "yesterday"})),
        Breaker("negative_value:cost_micros", _impression({"cost_micros": -1500})),
        Breaker("bad_number:cost_micros", _impression({"cost_micros": "12k"})),
        Breaker("bad_country", _impression({"country": "USA"})),
    ],
    "clicks_conversions": [
        Breaker("malformed_csv", _short_csv_row),
        Breaker("malformed_csv", _unterminated_quote),
        Breaker("missing_field:user_id", _csv({"user_id": ""})),
        Breaker("bad_enum:event_type", _csv({"event_type": "view"})),
        Breaker("bad_timestamp", _csv({"event_time": "29/11/2026 10:15"})),
    ],
    "bid_requests": [
        Breaker("malformed_avro", _truncated_avro),
        Breaker("negative_value:bid_floor_micros", _avro(lambda r: {**r, "bid_floor_micros": -1})),
        Breaker("bad_country", _avro(_device("Germany"))),
        # An empty request_id can only travel in registry framing: as a plain datum its
        # first byte, 0x00, reads as the registry framing's magic byte.
        Breaker(
            "missing_field:request_id", _avro(lambda r: {**r, "request_id": ""}, framing="registry")
        ),
    ],
}

# Kinds that only fit clicks or only conversions.
CLICK_BREAKERS: list[Breaker] = [
    Breaker("missing_field:impression_id", _csv({"impression_id": ""})),
]
CONVERSION_BREAKERS: list[Breaker] = [
    Breaker("missing_field:conversion_type", _csv({"conversion_type": ""})),
    Breaker("bad_enum:conversion_type", _csv({"conversion_type": "refund"})),
    Breaker("negative_value:conversion_value", _csv({"conversion_value": "-3.50"})),
    Breaker("bad_number:conversion_value", _csv({"conversion_value": "12,5"})),
]


class MalformedMaker:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self._turn: dict[str, int] = {}

    def make(self, source: str, record: dict) -> tuple[str, bytes]:
        """A malformed version of record and the reason the contract gives it."""
        kinds = list(BREAKERS[source])
        if source == "clicks_conversions":
            # The rarer family's own kinds come first, so a short run still makes them.
            own = CLICK_BREAKERS if record["event_type"] == "click" else CONVERSION_BREAKERS
            kinds = own + kinds
        family = f"{source}:{record.get('event_type', '')}"
        turn = self._turn.get(family, 0)
        self._turn[family] = turn + 1
        breaker = kinds[turn % len(kinds)]
        return breaker.reason, breaker.make(record)
