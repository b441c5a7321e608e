"""The schema files: they parse, say what the contract says, and agree with each other."""

from __future__ import annotations

import json

import fastavro
import pytest

from advertisex.contract.schemas import (
    SCHEMA_DIR,
    bid_request_avsc,
    bid_request_schema,
    csv_columns,
    csv_spec,
    enum_values,
    output_names,
    output_schema,
)

# The contract's own words (shared/spec/data-contract.md), restated here on purpose:
# these tests check the schema files against them.
CONTRACT_HEADER = (
    "event_id,event_time,event_type,user_id,campaign_id,impression_id,"
    "conversion_type,conversion_value,currency"
)
CONTRACT_OUTPUTS = {
    "impressions",
    "clicks",
    "conversions",
    "bid_requests",
    "attributed_clicks",
    "attributed_conversions",
    "campaign_metrics_1m",
    "dead_letters",
    "dq_metrics",
}
CONTRACT_BID_REQUEST = {
    "request_id": "string",
    "event_time": "long",
    "exchange": "string",
    "auction_type": "AuctionType",
    "bid_floor_micros": "long",
    "currency": "string",
    "user": "User",
    "device": "Device",
    "site": "Site",
    "targeting": "Targeting",
    "outcome": "BidOutcome",
}
CONTRACT_NESTED = {
    "User": ["user_id", "segments", "age_range", "gender"],
    "Device": ["device_type", "os", "user_agent", "ip", "country"],
    "Site": ["domain", "page_url", "categories"],
    "Targeting": ["campaign_ids", "keywords"],
    "BidOutcome": [
        "bid_price_micros",
        "won",
        "clearing_price_micros",
        "campaign_id",
        "creative_id",
    ],
}
JSON_SCHEMA_FILES = ["impression.schema.json", "campaign.schema.json"] + [
    f"outputs/{name}.schema.json" for name in sorted(CONTRACT_OUTPUTS)
]


def _type_name(avro_type) -> str:
    if isinstance(avro_type, list):
        return next(_type_name(t) for t in avro_type if t != "null")
    if isinstance(avro_type, dict):
        return avro_type.get("name") or avro_type["type"]
    return avro_type


def _records(schema: dict) -> dict[str, dict]:
    """Every named record type of the schema, nested ones included."""
    found = {}

    def visit(t):
        if isinstance(t, list):
            for branch in t:
                visit(branch)
        elif isinstance(t, dict) and t.get("type") == "record":
            found[t["name"]] = t
            for field in t["fields"]:
                visit(field["type"])

    visit(schema)
    return found


def _fields(schema: dict):
    for record in _records(schema).values():
        yield from record["fields"]


def test_avsc_is_the_contracts_record():
    avsc = bid_request_avsc()
    assert (avsc["namespace"], avsc["name"]) == ("com.advertisex", "BidRequest")
    assert {f["name"]: _type_name(f["type"]) for f in avsc["fields"]} == CONTRACT_BID_REQUEST
    assert list({f["name"]: 0 for f in avsc["fields"]}) == list(CONTRACT_BID_REQUEST)
    records = _records(avsc)
    assert {
        name: [f["name"] for f in r["fields"]]
        for name, r in records.items()
        if name != "BidRequest"
    } == CONTRACT_NESTED


def test_avsc_types_defaults_and_logical_type():
    avsc = bid_request_avsc()
    event_time = next(f for f in avsc["fields"] if f["name"] == "event_time")
    assert event_time["type"] == {"type": "long", "logicalType": "timestamp-millis"}
    auction = next(f for f in avsc["fields"] if f["name"] == "auction_type")["type"]
    assert auction == {
        "type": "enum",
        "name": "AuctionType",
        "symbols": ["FIRST_PRICE", "SECOND_PRICE"],
    }
    unions = [f for f in _fields(avsc) if isinstance(f["type"], list)]
    arrays = [
        f for f in _fields(avsc) if isinstance(f["type"], dict) and f["type"]["type"] == "array"
    ]
    assert (len(unions), len(arrays)) == (14, 4)  # unions: 3 + 5 + 1 + 4 nested, outcome
    for field in unions:
        assert field["type"][0] == "null" and len(field["type"]) == 2, field["name"]
        assert "default" in field and field["default"] is None, field["name"]
    for field in arrays:
        assert field["type"]["items"] == "string" and field["default"] == [], field["name"]
    others = [f for f in _fields(avsc) if f not in unions and f not in arrays]
    assert all("default" not in f for f in others)


def test_avsc_parses_and_is_cached():
    assert bid_request_schema() is bid_request_schema()
    assert bid_request_schema()["name"] == "com.advertisex.BidRequest"
    fastavro.parse_schema(json.loads((SCHEMA_DIR / "bid_request.avsc").read_text()))


def test_csv_spec_columns_are_the_contract_header():
    assert ",".join(csv_columns()) == CONTRACT_HEADER
    spec = csv_spec()
    assert [c["required"] for c in spec["columns"]] == [
        "yes",
        "yes",
        "yes",
        "yes",
        "yes",
        "clicks only",
        "conversions only",
        "no",
        "no",
    ]
    assert {c["required"] for c in spec["columns"]} <= set(spec["required_values"])
    for column in spec["columns"]:
        if column["type"] == "enum":
            assert column["enum"] in spec["enums"], column["name"]


def test_csv_columns_is_a_fresh_list():
    columns = csv_columns()
    columns.append("x")
    assert ",".join(csv_columns()) == CONTRACT_HEADER


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("event_type", ["click", "conversion"]),
        ("conversion_type", ["purchase", "signup", "install", "lead", "add_to_cart"]),
        ("device_type", ["desktop", "mobile", "tablet", "ctv", "other"]),
        ("campaign_status", ["active", "paused", "ended"]),
        ("auction_type", ["FIRST_PRICE", "SECOND_PRICE"]),
    ],
)
def test_enum_values(name, values):
    assert enum_values(name) == values


def test_unknown_enum_and_output_names_raise():
    with pytest.raises(KeyError):
        enum_values("colour")
    with pytest.raises(KeyError):
        output_schema("impression")


def test_every_contract_output_has_a_schema():
    assert set(output_names()) == CONTRACT_OUTPUTS


@pytest.mark.parametrize("relative", JSON_SCHEMA_FILES)
def test_json_schemas_are_valid_draft_2020_12(relative):
    import jsonschema  # a declared test dependency: never skipped

    schema = json.loads((SCHEMA_DIR / relative).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", sorted(CONTRACT_OUTPUTS))
def test_outputs_require_every_field_and_allow_no_other(name):
    schema = output_schema(name)
    assert schema["required"] == list(schema["properties"])
    assert schema["additionalProperties"] is False
    assert schema["x-kafka-topic"] == name


def test_output_schema_returns_a_copy():
    output_schema("clicks")["properties"].clear()
    assert "event_id" in output_schema("clicks")["properties"]


def _enum_of(name: str, field: str) -> list:
    return [v for v in output_schema(name)["properties"][field]["enum"] if v is not None]


def test_output_enums_agree_with_the_source_enums():
    for name in ("impressions", "bid_requests", "attributed_clicks"):
        assert _enum_of(name, "device_type") == enum_values("device_type")
    for name in ("conversions", "attributed_conversions"):
        assert _enum_of(name, "conversion_type") == enum_values("conversion_type")
    assert _enum_of("bid_requests", "auction_type") == enum_values("auction_type")
    assert _enum_of("impressions", "campaign_status") == enum_values("campaign_status")
    campaign = json.loads((SCHEMA_DIR / "campaign.schema.json").read_text())
    assert campaign["properties"]["device_types"]["items"]["enum"] == enum_values("device_type")
    assert _enum_of("dead_letters", "source") == _enum_of("dq_metrics", "source")


def test_enrichment_fields_are_the_same_everywhere():
    def enrichment(name):
        props = output_schema(name)["properties"]
        return {k: v for k, v in props.items() if v.get("x-set-by") == "enrichment"}

    expected = enrichment("impressions")
    assert list(expected) == [
        "advertiser_id",
        "campaign_name",
        "campaign_status",
        "campaign_daily_budget_micros",
        "campaign_known",
    ]
    for name in CONTRACT_OUTPUTS - {"dead_letters", "dq_metrics"}:
        assert enrichment(name) == expected, name


def test_attributed_outputs_extend_their_event_outputs():
    clicks = output_schema("clicks")["properties"]
    attributed = output_schema("attributed_clicks")["properties"]
    assert {"event_id", "event_time_ms", "user_id", "campaign_id", "impression_id"} <= set(
        attributed
    )
    impression = output_schema("impressions")["properties"]
    for field in ("creative_id", "website", "device_type", "country", "cost_micros", "currency"):
        assert attributed[field]["type"] == impression[field]["type"], field
    assert set(clicks) - {"event_type"} <= set(attributed)
    conversions = output_schema("conversions")["properties"]
    attributed = output_schema("attributed_conversions")["properties"]
    assert set(conversions) - {"event_type"} <= set(attributed)
    assert {"click_id", "click_event_time_ms", "seconds_to_conversion"} <= set(attributed)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2026-11-29T10:15:30.123Z", True),
        ("2026-11-29T11:15:30+01:00", True),
        ("1795947330123", True),
        (1795947330123, True),
        ("2026-11-29T10:15:30", False),
        ("2026-11-29 10:15:30Z", False),
        (1.5, False),
        (-1, False),
    ],
)
def test_impression_schema_timestamp_agrees_with_to_epoch_ms(value, valid):
    import jsonschema  # a declared test dependency: never skipped

    from advertisex.contract.errors import ContractError
    from advertisex.contract.schemas import impression_schema
    from advertisex.contract.timestamps import to_epoch_ms

    schema = impression_schema()
    timestamp = {**schema["$defs"]["timestamp"], "$defs": schema["$defs"]}
    assert jsonschema.Draft202012Validator(timestamp).is_valid(value) is valid
    try:
        to_epoch_ms(value)
        accepted = True
    except ContractError:
        accepted = False
    assert accepted is valid


def test_impression_schema_requires_the_contracts_fields():
    from advertisex.contract.schemas import impression_schema

    schema = impression_schema()
    assert schema["required"] == [
        "impression_id",
        "event_time",
        "user_id",
        "creative_id",
        "campaign_id",
        "website",
    ]
    assert schema["additionalProperties"] is True
    assert list(schema["properties"]) == schema["required"] + [
        "bid_request_id",
        "cost_micros",
        "currency",
        "device_type",
        "country",
        "user_agent",
    ]
