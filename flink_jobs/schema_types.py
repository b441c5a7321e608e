"""Flink data types from the output schema files, so tables never restate the contract."""

from __future__ import annotations

from pyflink.table import DataTypes
from pyflink.table.types import DataType

from advertisex.contract.schemas import output_schema

_SCALARS = {
    "string": DataTypes.STRING,
    "integer": DataTypes.BIGINT,
    "number": DataTypes.DOUBLE,
    "boolean": DataTypes.BOOLEAN,
}


def _type(spec: dict) -> DataType:
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    kind = next(k for k in kinds if k != "null")
    if kind == "array":
        return DataTypes.ARRAY(_type(spec["items"]))
    if kind == "object":
        # A count per key (dq_metrics' invalid_by_reason, adx_count_by): the JSON formats
        # write a map as an object.
        return DataTypes.MAP(DataTypes.STRING(), DataTypes.BIGINT())
    return _SCALARS[kind]()


def output_fields(name: str, set_by_rules_only: bool = False) -> list[tuple[str, DataType]]:
    """(field, type) of an output in schema order; optionally only the fields the contract's
    rules set (not those that enrichment, correlation or aggregation add)."""
    props = output_schema(name)["properties"]
    return [
        (field, _type(spec))
        for field, spec in props.items()
        if not (set_by_rules_only and "x-set-by" in spec)
    ]


def validated_fields(source: str) -> list[tuple[str, DataType]]:
    """What validation of one source's message yields (clicks and conversions together):
    the fields the rules set, then the campaign enrichment's."""
    if source == "clicks_conversions":
        fields = dict(output_fields("clicks", True))
        fields.update(output_fields("conversions", True))
        rules = list(fields.items())
    else:
        rules = output_fields(source, True)
    enrichment = [
        (n, t)
        for n, t in output_fields("impressions")
        if output_schema("impressions")["properties"][n].get("x-set-by") == "enrichment"
    ]
    return rules + enrichment
