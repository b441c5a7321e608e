"""Access to the schema files under the repository's top-level `schemas/` folder."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import fastavro

# The package is installed editable from the repository, so the folder sits two levels up.
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


@cache
def _load_json(relative: str) -> dict:
    return json.loads((SCHEMA_DIR / relative).read_text(encoding="utf-8"))


@cache
def bid_request_schema() -> dict:
    """schemas/bid_request.avsc, parsed by fastavro (the same object on every call)."""
    return fastavro.parse_schema(_load_json("bid_request.avsc"))


def bid_request_avsc() -> dict:
    """schemas/bid_request.avsc as plain JSON (a copy), before fastavro parses it."""
    return copy.deepcopy(_load_json("bid_request.avsc"))


def csv_spec() -> dict:
    """schemas/clicks_conversions.csv.json as a dict (a copy: callers may change it)."""
    return copy.deepcopy(_load_json("clicks_conversions.csv.json"))


def csv_columns() -> list[str]:
    """The clicks/conversions CSV column names, in order (a fresh list)."""
    return list(_csv_columns())


@cache
def _csv_columns() -> tuple[str, ...]:
    return tuple(column["name"] for column in _load_json("clicks_conversions.csv.json")["columns"])


def impression_schema() -> dict:
    """schemas/impression.schema.json as a dict (a copy)."""
    return copy.deepcopy(_load_json("impression.schema.json"))


def campaign_schema() -> dict:
    """schemas/campaign.schema.json as a dict (a copy)."""
    return copy.deepcopy(_load_json("campaign.schema.json"))


def output_schema(name: str) -> dict:
    """schemas/outputs/<name>.schema.json as a dict (a copy); KeyError for an unknown output."""
    if name not in output_names():
        raise KeyError(f"no output schema named {name!r}; known: {', '.join(output_names())}")
    return copy.deepcopy(_load_json(f"outputs/{name}.schema.json"))


@cache
def output_names() -> tuple[str, ...]:
    """Names of every output that has a schema file, sorted."""
    return tuple(
        sorted(
            p.name.removesuffix(".schema.json")
            for p in (SCHEMA_DIR / "outputs").glob("*.schema.json")
        )
    )


def enum_values(name: str) -> list[str]:
    """The allowed values of an enumeration (a fresh list), read from the one file that defines it.

    event_type, conversion_type: the CSV spec; device_type: the impression schema's
    known values; campaign_status: the campaign schema; auction_type: the Avro schema.
    """
    return list(_enum_values(name))


@cache
def _enum_values(name: str) -> tuple[str, ...]:
    enums = _load_json("clicks_conversions.csv.json")["enums"]
    if name in enums:
        return tuple(enums[name])
    if name == "device_type":
        return tuple(
            _load_json("impression.schema.json")["properties"]["device_type"]["x-known-values"]
        )
    if name == "campaign_status":
        return tuple(_load_json("campaign.schema.json")["properties"]["status"]["enum"])
    if name == "auction_type":
        raw = _load_json("bid_request.avsc")
        field = next(f for f in raw["fields"] if f["name"] == "auction_type")
        return tuple(field["type"]["symbols"])
    raise KeyError(f"no enumeration named {name!r}")
