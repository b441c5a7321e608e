"""Python UDFs: decode, validate, standardize and enrich one raw message.

The rules live in advertisex/contract/rules.py, once, for this job and for every other
reader. A UDF returns one ROW: the rejection (reason, detail, the raw payload as text or
base64) when the message breaks a rule, else the standardized record's fields followed by
its campaign's (flink_jobs/campaigns.py).
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.udf import ScalarFunction, udf

from advertisex.contract.bid_requests import decode_bid_request
from advertisex.contract.clicks_csv import decode_click_row
from advertisex.contract.errors import ContractError
from advertisex.contract.impressions import decode_impression
from advertisex.contract.rules import (
    standardize_bid_request,
    standardize_click_or_conversion,
    standardize_impression,
)
from flink_jobs.campaigns import ENRICHMENT, CampaignDirectory
from flink_jobs.schema_types import validated_fields

REJECTION = [
    ("checked_at_ms", DataTypes.BIGINT()),  # processing time: arrival minute, delay, rejection
    ("late", DataTypes.BOOLEAN()),  # passed through: asked of the watermark before the UDF
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


class CampaignSource(BaseModel):
    """Where the UDFs read the campaign dimension: a compacted topic or a JSON Lines file.

    It travels inside the UDFs to the TaskManager's Python workers, which do not see the
    submitting client's environment: so it carries the consumer's settings itself.
    """

    model_config = ConfigDict(hide_input_in_errors=True)  # client_config may hold a password

    bootstrap: str | None = None
    topic: str | None = None
    file: str | None = None
    # kafka-python keyword arguments (advertisex.kafka_auth.kafka_python_config).
    client_config: dict = Field(default_factory=dict, repr=False)

    def open(self) -> CampaignDirectory:
        if self.file:
            return CampaignDirectory.from_file(Path(self.file))
        return CampaignDirectory.from_kafka(
            self.bootstrap, self.topic, client_config=self.client_config
        )


class Validate(ScalarFunction):
    """decode -> standardize -> enrich, for one source; the rejection if a rule fails."""

    def __init__(self, source: str, decode, standardize, binary: bool, campaigns: CampaignSource):
        self.source, self.decode, self.standardize = source, decode, standardize
        self.binary, self.campaigns = binary, campaigns
        self.names = [name for name, _ in validated_fields(source)][: -len(ENRICHMENT)]

    def open(self, function_context) -> None:
        self.directory = self.campaigns.open()

    def eval(self, payload: bytes, late: bool) -> Row:
        now = time.time_ns() // 1_000_000
        try:
            record = self.standardize(self.decode(payload))
        except ContractError as error:
            empty = [None] * (len(self.names) + len(ENRICHMENT))
            return Row(
                now, late, error.reason, error.detail, *raw_payload(payload, self.binary), *empty
            )
        campaign = self.directory.lookup(record.get("campaign_id"))
        return Row(
            now, late, None, None, None, None, *[record.get(n) for n in self.names], *campaign
        )


def validators(campaigns: CampaignSource) -> dict:
    """The three UDFs by the name the SQL calls them."""
    specs = {
        "impressions": (decode_impression, standardize_impression, False),
        "clicks_conversions": (decode_click_row, standardize_click_or_conversion, False),
        "bid_requests": (decode_bid_request, standardize_bid_request, True),
    }
    functions = {}
    for source, (decode, standardize, binary) in specs.items():
        fields = REJECTION + validated_fields(source)
        result = DataTypes.ROW([DataTypes.FIELD(n, t) for n, t in fields])
        functions[f"validate_{source}"] = udf(
            Validate(source, decode, standardize, binary, campaigns),
            input_types=[DataTypes.BYTES(), DataTypes.BOOLEAN()],
            result_type=result,
        )
    return functions
