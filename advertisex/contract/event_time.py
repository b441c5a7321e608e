"""A message's event time as the pipeline's sources read it: the record's own `event_time`
(contract 2.5), never a transport's timestamp.

The time is read whatever else is wrong with the record: a record that breaks another rule
but carries a readable `event_time` still moves its partition's watermark. A message whose
time cannot be read (it cannot be decoded, or its `event_time` is missing or malformed)
has none: the Flink sources give it UNREADABLE, which moves no watermark, and validation
turns it into a dead letter.
"""

from __future__ import annotations

from collections.abc import Callable

from advertisex.contract.bid_requests import decode_bid_request
from advertisex.contract.clicks_csv import decode_click_row
from advertisex.contract.errors import ContractError
from advertisex.contract.impressions import decode_impression
from advertisex.contract.rules import (
    standardize_bid_request,
    standardize_click_or_conversion,
    standardize_impression,
)
from advertisex.contract.timestamps import to_epoch_ms

# The rowtime a source gives a message without a readable event time: the start of epoch
# time, below every watermark, so it holds none back and moves none forward.
UNREADABLE = 0

DECODERS: dict[str, Callable[[bytes], dict]] = {
    "impressions": decode_impression,
    "clicks_conversions": decode_click_row,
    "bid_requests": decode_bid_request,
}
STANDARDIZERS: dict[str, Callable[[dict], dict]] = {
    "impressions": standardize_impression,
    "clicks_conversions": standardize_click_or_conversion,
    "bid_requests": standardize_bid_request,
}


def check(source: str, payload: bytes) -> dict:
    """The standardized record of one message of a source; ContractError when it breaks a
    rule (decode, then the rules of advertisex/contract/rules.py)."""
    return STANDARDIZERS[source](DECODERS[source](payload))


def event_time_ms(source: str, payload: bytes) -> int | None:
    """The epoch millis of a message's `event_time`, or None when it cannot be read."""
    try:
        raw = DECODERS[source](payload)
        return to_epoch_ms(raw.get("event_time"))
    except ContractError:
        return None
