"""The contract's validation and standardization rules (sections 2.1 and 2.2), plain Python.

The reference implementation: tests, the ground-truth checker and the pure-Python
benchmark baseline use it, and the Flink jobs must agree with it. Each function returns
the standardized output record (the fields of schemas/outputs/<name>.schema.json that have
no "x-set-by": enrichment, dedup and correlation are the pipeline's job) or raises
ContractError with the reason of the FIRST failing rule, checked in this order:

1. required fields, in the source schema's order: present, text, not blank
   (missing_field:<f>, bad_type:<f>)
2. event_time (bad_timestamp)
3. hosts: website / site.domain normalize to a non-empty host (bad_host:<f>)
4. enums (bad_enum:<f>); for clicks and conversions the fields that event_type makes
   required come right after event_type (missing_field:impression_id / conversion_type)
5. optional text fields hold text (bad_type:<f>)
6. numbers, in schema order: they parse (bad_number:<f>), then are >= 0 (negative_value:<f>)
7. country (bad_country), then currency (bad_currency)

Optional fields that are missing, null, empty or blank are absent. Ids are trimmed.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from functools import cache

from advertisex.contract.errors import ContractError
from advertisex.contract.schemas import (
    bid_request_avsc,
    csv_spec,
    enum_values,
    impression_schema,
)
from advertisex.contract.timestamps import to_epoch_ms

DEFAULT_CURRENCY = "USD"
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)  # no exponent, no NaN/Infinity
_COUNTRY = re.compile(r"[A-Za-z]{2}", re.ASCII)
_CURRENCY = re.compile(r"[A-Za-z]{3}", re.ASCII)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TOO_LARGE = 2**64  # stands for a number with more digits than any 64-bit integer
# CSV spec's wording for conditionally required columns -> the event_type that needs them.
_REQUIRED_FOR = {"clicks only": "click", "conversions only": "conversion"}


def normalize_host(website: str) -> str:
    """The lower-case host of a host name or URL: `https://WWW.News.Example.com:443/a?b`
    -> `news.example.com`.

    Drops the scheme (or a leading `//`), user info, port, path, query, fragment, a
    trailing root dot and one leading `www.` (kept when nothing with a dot would remain,
    so `www.com` stays). Returns '' when there is no host; IPv6 literals keep brackets.
    """
    text = website.strip().lower()
    scheme_end = text.find("://")
    if scheme_end >= 0:
        text = text[scheme_end + 3 :]
    elif text.startswith("//"):
        text = text[2:]
    for stop in "/?#":
        cut = text.find(stop)
        if cut >= 0:
            text = text[:cut]
    text = text.rpartition("@")[2]
    if text.startswith("["):
        text = text[: text.find("]") + 1] if "]" in text else text
    else:
        text = text.partition(":")[0]
    text = text.rstrip(".")
    if text.startswith("www.") and "." in text[4:]:
        text = text[4:]
    return text


def standardize_impression(raw: dict) -> dict:
    """An `impressions` output record from one decoded impression (contract 1.1)."""
    for name, kind in _impression_required():
        _required(raw, name, kind)
    event_time_ms = _timestamp(raw.get("event_time"))
    website = _host(raw["website"], "website")
    device_type = _device_type(raw.get("device_type"))
    bid_request_id = _optional_text(raw, "bid_request_id")
    user_agent = _optional_text(raw, "user_agent")
    cost_micros = _non_negative(_integer(raw.get("cost_micros"), "cost_micros"), "cost_micros")
    country = _country(raw.get("country"))
    currency = _currency(raw.get("currency"), default=DEFAULT_CURRENCY)
    return {
        "impression_id": raw["impression_id"].strip(),
        "event_time_ms": event_time_ms,
        "user_id": raw["user_id"].strip(),
        "creative_id": raw["creative_id"].strip(),
        "campaign_id": raw["campaign_id"].strip(),
        "website": website,
        "bid_request_id": _trimmed(bid_request_id),
        "cost_micros": cost_micros,
        "currency": currency,
        "device_type": device_type,
        "country": country,
        "user_agent": user_agent,
    }


def standardize_click_or_conversion(raw: dict) -> dict:
    """A `clicks` or a `conversions` output record (per its event_type) from one CSV record.

    Columns that do not apply to the event type (conversion_type, conversion_value and
    currency on a click) are neither checked nor output.
    """
    always, conditional = _csv_required()
    for name, kind in always:
        _required(raw, name, kind)
    event_time_ms = _timestamp(raw.get("event_time"))
    event_type = _enum(raw["event_type"], "event_type")
    for name, kind in conditional[event_type]:
        _required(raw, name, kind)
    record = {
        "event_id": raw["event_id"].strip(),
        "event_time_ms": event_time_ms,
        "event_type": event_type,
        "user_id": raw["user_id"].strip(),
        "campaign_id": raw["campaign_id"].strip(),
    }
    if event_type == "click":
        record["impression_id"] = raw["impression_id"].strip()
        return record
    conversion_type = _enum(raw["conversion_type"], "conversion_type")
    impression_id = _trimmed(_optional_text(raw, "impression_id"))
    value = _non_negative(
        _decimal(raw.get("conversion_value"), "conversion_value"), "conversion_value"
    )
    currency = _currency(raw.get("currency"), default=DEFAULT_CURRENCY)
    record["impression_id"] = impression_id
    record["conversion_type"] = conversion_type
    record["conversion_value"] = value
    record["currency"] = currency
    return record


def standardize_bid_request(raw: dict) -> dict:
    """A `bid_requests` output record (flattened) from one decoded bid request (contract 1.3).

    Nested fields are named by path in reasons: missing_field:site.domain,
    negative_value:outcome.bid_price_micros.
    """
    user = raw.get("user") or {}
    device = raw.get("device") or {}
    site = raw.get("site") or {}
    targeting = raw.get("targeting") or {}
    outcome = raw.get("outcome")
    for path, kind in _bid_request_required():
        parent, _, name = path.rpartition(".")
        _required((raw.get(parent) or {}) if parent else raw, name, kind, path)
    event_time_ms = _timestamp(raw.get("event_time"))
    site_domain = _host(site["domain"], "site.domain")
    auction_type = _enum(raw.get("auction_type"), "auction_type")
    device_type = _device_type(device.get("device_type"), "device.device_type")
    texts = {
        path: _optional_text(holder, path.rpartition(".")[2], path)
        for holder, path in (
            (user, "user.user_id"),
            (user, "user.age_range"),
            (user, "user.gender"),
            (device, "device.os"),
            (device, "device.user_agent"),
            (device, "device.ip"),
            (site, "site.page_url"),
        )
    }
    lists = {
        path: _text_list(holder.get(path.rpartition(".")[2]), path)
        for holder, path in (
            (user, "user.segments"),
            (site, "site.categories"),
            (targeting, "targeting.campaign_ids"),
            (targeting, "targeting.keywords"),
        )
    }
    floor = _non_negative(
        _integer(raw.get("bid_floor_micros"), "bid_floor_micros", required=True),
        "bid_floor_micros",
    )
    answer = _outcome(outcome)
    country = _country(device.get("country"))
    currency = _currency(raw["currency"], default=None)
    return {
        "request_id": raw["request_id"].strip(),
        "event_time_ms": event_time_ms,
        "exchange": raw["exchange"].strip(),
        "auction_type": auction_type,
        "bid_floor_micros": floor,
        "currency": currency,
        "user_id": _trimmed(texts["user.user_id"]),
        "user_segments": lists["user.segments"],
        "age_range": texts["user.age_range"],
        "gender": texts["user.gender"],
        "device_type": device_type,
        "os": texts["device.os"],
        "user_agent": texts["device.user_agent"],
        "ip": texts["device.ip"],
        "country": country,
        "site_domain": site_domain,
        "page_url": texts["site.page_url"],
        "site_categories": lists["site.categories"],
        "targeted_campaign_ids": [c.strip() for c in lists["targeting.campaign_ids"] if c.strip()],
        "keywords": lists["targeting.keywords"],
        **answer,
    }


def _outcome(outcome: object) -> dict:
    if outcome is None:
        return {
            "bid": False,
            "won": False,
            "bid_price_micros": None,
            "clearing_price_micros": None,
            "campaign_id": None,
            "creative_id": None,
        }
    if not isinstance(outcome, dict):
        raise ContractError(
            "bad_type:outcome", f"outcome must be a record or null, got {outcome!r}"
        )
    won = outcome.get("won")
    if not isinstance(won, bool):
        raise ContractError("bad_type:outcome.won", f"outcome.won must be a boolean, got {won!r}")
    prices = {}
    for name in ("bid_price_micros", "clearing_price_micros"):
        path = f"outcome.{name}"
        prices[name] = _non_negative(_integer(outcome.get(name), path), path)
    return {
        "bid": True,
        "won": won,
        **prices,
        "campaign_id": _trimmed(_optional_text(outcome, "campaign_id", "outcome.campaign_id")),
        "creative_id": _trimmed(_optional_text(outcome, "creative_id", "outcome.creative_id")),
    }


# --- what the schema files say is required ---------------------------------------------


# Required fields come from the schema files as (name or path, kind): kind "text" must be
# a non-blank string, kind "timestamp" only present (its form is the timestamp rule's job).


@cache
def _impression_required() -> tuple[tuple[str, str], ...]:
    properties = impression_schema()["properties"]
    return tuple(
        (name, "timestamp" if "$ref" in properties[name] else "text")
        for name in impression_schema()["required"]
    )


@cache
def _csv_required() -> tuple[tuple[tuple[str, str], ...], dict[str, tuple[tuple[str, str], ...]]]:
    """Columns required always, and per event_type those required only for it."""
    columns = csv_spec()["columns"]

    def named(cols: list[dict]) -> tuple[tuple[str, str], ...]:
        return tuple((c["name"], "timestamp" if c["type"] == "timestamp" else "text") for c in cols)

    always = named([c for c in columns if c["required"] == "yes"])
    conditional = {
        event_type: named([c for c in columns if _REQUIRED_FOR.get(c["required"]) == event_type])
        for event_type in enum_values("event_type")
    }
    return always, conditional


@cache
def _bid_request_required() -> tuple[tuple[str, str], ...]:
    """Paths of the Avro schema's plain strings and timestamps, nested records included."""

    def walk(fields: list, prefix: str) -> list[tuple[str, str]]:
        paths = []
        for field in fields:
            kind = field["type"]
            if kind == "string":
                paths.append((prefix + field["name"], "text"))
            elif isinstance(kind, dict) and kind.get("logicalType") == "timestamp-millis":
                paths.append((prefix + field["name"], "timestamp"))
            elif isinstance(kind, dict) and kind.get("type") == "record":
                paths += walk(kind["fields"], f"{prefix}{field['name']}.")
        return paths

    return tuple(walk(bid_request_avsc()["fields"], ""))


@cache
def _enum_set(name: str) -> frozenset[str]:
    return frozenset(enum_values(name))


# --- one rule each ---------------------------------------------------------------------


def _required(holder: dict, name: str, kind: str, path: str | None = None) -> None:
    path = path or name
    value = holder.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ContractError(f"missing_field:{path}", f"{path} is required and was missing or empty")
    if kind == "text" and not isinstance(value, str):
        raise ContractError(f"bad_type:{path}", f"{path} must be text, got {_shown(value)}")


def _optional_text(holder: dict, name: str, path: str | None = None) -> str | None:
    value = holder.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        path = path or name
        raise ContractError(f"bad_type:{path}", f"{path} must be text, got {_shown(value)}")
    return value


def _trimmed(value: str | None) -> str | None:
    return None if value is None else value.strip()


def _timestamp(value: object) -> int:
    try:
        return to_epoch_ms(value)
    except ContractError as exc:
        raise ContractError(exc.reason, f"event_time {exc.detail}") from None


def _host(value: str, path: str) -> str:
    host = normalize_host(value)
    if not host or any(c.isspace() for c in host):
        raise ContractError(f"bad_host:{path}", f"{path} {_shown(value)} has no usable host name")
    return host


def _enum(value: object, name: str) -> str:
    text = value.strip() if isinstance(value, str) else value
    if text not in _enum_set(name):
        raise ContractError(
            f"bad_enum:{name}",
            f"{name} {_shown(value)} is not one of {', '.join(enum_values(name))}",
        )
    return text


def _device_type(value: object, path: str = "device_type") -> str | None:
    # Unknown device types are data, not errors: they become 'other' (contract 2.2).
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ContractError(f"bad_type:{path}", f"{path} must be text, got {_shown(value)}")
    lowered = value.strip().lower()
    return lowered if lowered in _enum_set("device_type") else "other"


def _text_list(value: object, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContractError(
            f"bad_type:{path}", f"{path} must be a list of text, got {_shown(value)}"
        )
    return list(value)


def _integer(value: object, path: str, required: bool = False) -> int | None:
    """An integer from an int, a whole float or a string of digits; None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ContractError(f"missing_field:{path}", f"{path} is required and was missing")
        return None
    number = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        text = value.strip()
        sign, digits = (-1 if text[0] == "-" else 1), text.lstrip("+-").lstrip("0") or "0"
        # int() of thousands of digits raises (Python's int max str digits): out of range.
        number = sign * int(digits) if len(digits) <= 20 else _TOO_LARGE
    if number is None:
        raise ContractError(f"bad_number:{path}", f"{path} {_shown(value)} is not a whole number")
    if not _INT64_MIN <= number <= _INT64_MAX:
        # Outputs are 64-bit (Flink BIGINT, Pinot LONG): a larger number cannot be carried.
        raise ContractError(
            f"bad_number:{path}", f"{path} {_shown(value)} is outside the 64-bit integer range"
        )
    return number


def _decimal(value: object, path: str) -> float | None:
    """A decimal from a string like '12.50' (no exponent), an int or a finite float."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return float(value)
    elif isinstance(value, float) and math.isfinite(value):
        return value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        try:
            number = float(Decimal(value.strip())) + 0.0  # + 0.0 turns -0.0 into 0.0
        except (InvalidOperation, OverflowError):
            number = math.inf
        if math.isfinite(number):
            return number
        raise ContractError(f"bad_number:{path}", f"{path} {_shown(value)} is too large")
    raise ContractError(f"bad_number:{path}", f"{path} {_shown(value)} is not a decimal number")


def _non_negative(value, path: str):
    if value is not None and value < 0:
        raise ContractError(f"negative_value:{path}", f"{path} is {value}, must be >= 0")
    return value


def _country(value: object) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and _COUNTRY.fullmatch(value.strip()):
        return value.strip().upper()
    raise ContractError(
        "bad_country", f"country {_shown(value)} is not two letters (ISO-3166 alpha-2)"
    )


def _currency(value: object, default: str | None) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise ContractError("missing_field:currency", "currency is required and was missing")
        return default
    if isinstance(value, str) and _CURRENCY.fullmatch(value.strip()):
        return value.strip().upper()
    raise ContractError("bad_currency", f"currency {_shown(value)} is not three letters (ISO-4217)")


def _shown(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
