"""The timestamp each raw message carries: its record's event time.

The pipeline takes event time from the message timestamp (Kafka's record timestamp in
streaming, the same stamp in batch), so every message must carry one, malformed ones
included: a watermark is the highest timestamp seen, whatever became of the record.
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
from advertisex.ingest.simulator import Emitted

_DECODE: dict[str, Callable[[bytes], dict]] = {
    "impressions": decode_impression,
    "clicks_conversions": decode_click_row,
    "bid_requests": decode_bid_request,
}
_STANDARDIZE: dict[str, Callable[[dict], dict]] = {
    "impressions": standardize_impression,
    "clicks_conversions": standardize_click_or_conversion,
    "bid_requests": standardize_bid_request,
}


class MessageClock:
    """stamp(message): the epoch millis to send a message with, in this order:

    1. the event time the simulator knows (`event_ms` > 0), malformed records included;
    2. the payload's event time by the contract's rules (`event_time_ms`); a record that
       breaks another rule but has a readable `event_time` gets that time (the same
       timestamp rule);
    3. else (no readable event time) the last stamp given for the same source, 0 before
       any: such a record is a dead letter anyway, and this stamp moves no watermark.
    """

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def stamp(self, message: Emitted) -> int:
        ms = message.event_ms if message.event_ms > 0 else self._parse(message)
        if ms is None:
            return self._last.get(message.source, 0)
        self._last[message.source] = ms
        return ms

    @staticmethod
    def _parse(message: Emitted) -> int | None:
        try:
            raw = _DECODE[message.source](message.payload)
        except ContractError:
            return None
        try:
            return _STANDARDIZE[message.source](raw)["event_time_ms"]
        except ContractError:
            pass
        try:
            return to_epoch_ms(raw.get("event_time"))
        except ContractError:
            return None
