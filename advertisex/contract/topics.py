"""The Kafka topics the contract names: raw sources in, the campaign dimension, outputs out."""

from __future__ import annotations

from advertisex.contract.schemas import output_names, output_schema

RAW_TOPICS = {
    "impressions": "ad-impressions",
    "clicks_conversions": "ad-clicks-conversions",
    "bid_requests": "bid-requests",
}
CAMPAIGN_TOPIC = "dim-campaigns"
# The record outputs of each raw source: its valid, first-seen records (section 3).
RECORD_OUTPUTS = {
    "impressions": ("impressions",),
    "clicks_conversions": ("clicks", "conversions"),
    "bid_requests": ("bid_requests",),
}


def record_id_field(source: str) -> str:
    """The field that deduplicates a source's records (contract 2.3): the x-key its record
    outputs share."""
    (key,) = {output_schema(name)["x-key"] for name in RECORD_OUTPUTS[source]}
    return key


def output_topics() -> dict[str, str]:
    """Output name -> its topic (section 3: the topic has the output's name)."""
    return {name: output_schema(name)["x-kafka-topic"] for name in output_names()}


def upsert_outputs() -> tuple[str, ...]:
    """Outputs whose rows are updated after they are first written (`x-upsert` in their
    schema: last-click attribution moves to a later click, counts grow). Their sinks upsert
    by x-key, their topics are compacted, their Pinot tables upsert."""
    return tuple(n for n in output_names() if output_schema(n).get("x-upsert", False))
