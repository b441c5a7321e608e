"""Python UDFs: decode, validate and standardize one raw message with the contract's rules.

The rules live in advertisex/contract/rules.py, once, for this job and for every other
reader. A UDF returns one ROW: the rejection (reason, detail, the raw payload as text or
base64) when the message breaks a rule, else the standardized record's fields.
"""

from __future__ import annotations

import base64

from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.udf import udf

from advertisex.contract.bid_requests import decode_bid_request
from advertisex.contract.clicks_csv import decode_click_row
from advertisex.contract.errors import ContractError
from advertisex.contract.impressions import decode_impression
from advertisex.contract.rules import (
    standardize_bid_request,
    standardize_click_or_conversion,
    standardize_impression,
)
from flink_jobs.schema_types import validated_fields

REJECTION = [
    ("reason", DataTypes.STRING()),
    ("detail", DataTypes.STRING()),
    ("raw_payload", DataTypes.STRING()),
    ("payload_encoding", DataTypes.STRING()),
]


def raw_payload(payload: bytes, binary: bool) -> tuple[str, str]:
    """The payload as a dead letter carries it: UTF-8 text where it is text, else base64."""
    if not binary:
        try:
            return payload.decode("utf-8"), "text"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(payload).decode("ascii"), "base64"


def _validator(source: str, decode, standardize, binary: bool):
    fields = validated_fields(source)
    names = [name for name, _ in fields]
    result = DataTypes.ROW([DataTypes.FIELD(n, t) for n, t in REJECTION + fields])
    empty = [None] * len(names)

    def validate(payload: bytes) -> Row:
        try:
            record = standardize(decode(payload))
        except ContractError as error:
            return Row(error.reason, error.detail, *raw_payload(payload, binary), *empty)
        return Row(None, None, None, None, *[record.get(n) for n in names])

    return udf(validate, result_type=result, name=f"validate_{source}")


validate_impressions = _validator(
    "impressions", decode_impression, standardize_impression, binary=False
)
validate_clicks_conversions = _validator(
    "clicks_conversions", decode_click_row, standardize_click_or_conversion, binary=False
)
validate_bid_requests = _validator(
    "bid_requests", decode_bid_request, standardize_bid_request, binary=True
)

UDFS = {
    "validate_impressions": validate_impressions,
    "validate_clicks_conversions": validate_clicks_conversions,
    "validate_bid_requests": validate_bid_requests,
}
