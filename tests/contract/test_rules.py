"""The contract's rules: host normalization, standardized records exactly, every reason
code, the order in which rules fail, and agreement with the output schemas."""

from __future__ import annotations

import pytest

from advertisex.contract.bid_requests import decode_bid_request, encode_bid_request
from advertisex.contract.clicks_csv import decode_click_row, encode_click_row
from advertisex.contract.errors import ContractError
from advertisex.contract.rules import (
    normalize_host,
    standardize_bid_request,
    standardize_click_or_conversion,
    standardize_impression,
)
from advertisex.contract.schemas import output_schema

T = 1_795_947_330_123
ISO = "2026-11-29T10:15:30.123Z"


@pytest.mark.parametrize(
    ("website", "host"),
    [
        ("https://WWW.News.Example.com:443/a?b", "news.example.com"),
        ("news.example.com", "news.example.com"),
        ("www.example.com", "example.com"),
        ("WWW.EXAMPLE.COM.", "example.com"),
        ("http://example.com", "example.com"),
        ("  http://Example.com/  ", "example.com"),
        ("example.com:8080", "example.com"),
        ("example.com/path/www.x.com", "example.com"),
        ("example.com?q=a/b", "example.com"),
        ("example.com#frag", "example.com"),
        ("//cdn.example.com/x.js", "cdn.example.com"),
        ("https://user:pw@www.example.com:8443/", "example.com"),
        ("android-app://com.example.app/path", "com.example.app"),
        ("https://www.www.example.com", "www.example.com"),  # one leading www. only
        ("www.com", "www.com"),  # nothing with a dot would remain
        ("wwwexample.com", "wwwexample.com"),
        ("www2.example.com", "www2.example.com"),
        ("https://[2001:DB8::1]:443/x", "[2001:db8::1]"),
        ("192.0.2.1:80", "192.0.2.1"),
        ("https://münchen.example.de/", "münchen.example.de"),
        ("https://", ""),
        ("", ""),
    ],
)
def test_normalize_host(website, host):
    assert normalize_host(website) == host


# --- impressions -----------------------------------------------------------------------

IMPRESSION = {
    "impression_id": " imp-1 ",
    "event_time": ISO,
    "user_id": "u-1",
    "creative_id": "cr-1",
    "campaign_id": "c-1\t",
    "website": "https://WWW.News.Example.com:443/a?b",
    "bid_request_id": " req-1 ",
    "cost_micros": 1500,
    "currency": "eur",
    "device_type": "Mobile",
    "country": "de",
    "user_agent": "UA ☃",
    "unknown_extra": {"ignored": True},
}


def test_standardize_impression_exactly():
    assert standardize_impression(IMPRESSION) == {
        "impression_id": "imp-1",
        "event_time_ms": T,
        "user_id": "u-1",
        "creative_id": "cr-1",
        "campaign_id": "c-1",
        "website": "news.example.com",
        "bid_request_id": "req-1",
        "cost_micros": 1500,
        "currency": "EUR",
        "device_type": "mobile",
        "country": "DE",
        "user_agent": "UA ☃",
    }


def test_impression_optional_fields_default():
    required_only = {k: IMPRESSION[k] for k in list(IMPRESSION)[:6]}
    out = standardize_impression({**required_only, "country": "", "device_type": "  "})
    assert (out["bid_request_id"], out["cost_micros"], out["currency"]) == (None, None, "USD")
    assert (out["device_type"], out["country"], out["user_agent"]) == (None, None, None)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("DESKTOP", "desktop"),
        (" tablet ", "tablet"),
        ("ctv", "ctv"),
        ("other", "other"),
        ("phone", "other"),
        ("smart-tv", "other"),
    ],
)
def test_device_type_lower_cased_or_other(given, expected):
    assert standardize_impression({**IMPRESSION, "device_type": given})["device_type"] == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (0, 0),
        (1500.0, 1500),
        ("1500", 1500),
        (" 7 ", 7),
        (None, None),
        ("", None),
        (2**63 - 1, 2**63 - 1),  # the largest a 64-bit output holds
        ("9223372036854775807", 2**63 - 1),
        ("+" + "0" * 5000 + "5", 5),  # more digits than int() takes, few significant
    ],
)
def test_cost_micros_parses(given, expected):
    assert standardize_impression({**IMPRESSION, "cost_micros": given})["cost_micros"] == expected


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"impression_id": None}, "missing_field:impression_id"),
        ({"impression_id": "  "}, "missing_field:impression_id"),
        ({"event_time": None}, "missing_field:event_time"),
        ({"event_time": ""}, "missing_field:event_time"),
        ({"user_id": ""}, "missing_field:user_id"),
        ({"creative_id": None}, "missing_field:creative_id"),
        ({"campaign_id": ""}, "missing_field:campaign_id"),
        ({"website": ""}, "missing_field:website"),
        ({"user_id": 42}, "bad_type:user_id"),
        ({"event_time": "2026-11-29T10:15:30"}, "bad_timestamp"),
        ({"event_time": True}, "bad_timestamp"),
        ({"website": "https:///path"}, "bad_host:website"),
        ({"website": "exa mple.com"}, "bad_host:website"),
        ({"device_type": 3}, "bad_type:device_type"),
        ({"bid_request_id": 17}, "bad_type:bid_request_id"),
        ({"user_agent": ["x"]}, "bad_type:user_agent"),
        ({"cost_micros": "1.5"}, "bad_number:cost_micros"),
        ({"cost_micros": 1.5}, "bad_number:cost_micros"),
        ({"cost_micros": "abc"}, "bad_number:cost_micros"),
        ({"cost_micros": True}, "bad_number:cost_micros"),
        ({"cost_micros": float("nan")}, "bad_number:cost_micros"),
        ({"cost_micros": -1}, "negative_value:cost_micros"),
        # Beyond 64 bits: no output column could carry it (and int() would refuse
        # thousands of digits with a ValueError, not a rejection).
        ({"cost_micros": 2**63}, "bad_number:cost_micros"),
        ({"cost_micros": "9223372036854775808"}, "bad_number:cost_micros"),
        ({"cost_micros": "9" * 5000}, "bad_number:cost_micros"),
        ({"cost_micros": 1e300}, "bad_number:cost_micros"),
        ({"cost_micros": "-5"}, "negative_value:cost_micros"),
        ({"country": "USA"}, "bad_country"),
        ({"country": "U1"}, "bad_country"),
        ({"country": 1}, "bad_country"),
        ({"currency": "dollars"}, "bad_currency"),
        ({"currency": "US"}, "bad_currency"),
    ],
)
def test_impression_reasons(change, reason):
    with pytest.raises(ContractError) as caught:
        standardize_impression({**IMPRESSION, **change})
    assert caught.value.reason == reason


def test_missing_key_is_a_missing_field():
    raw = dict(IMPRESSION)
    del raw["creative_id"]
    with pytest.raises(ContractError) as caught:
        standardize_impression(raw)
    assert str(caught.value) == (
        "missing_field:creative_id: creative_id is required and was missing or empty"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # required fields in schema order come first
        ({"user_id": "", "impression_id": "", "event_time": "x"}, "missing_field:impression_id"),
        ({"website": "", "event_time": "x"}, "missing_field:website"),
        # then the timestamp, then the host, then types, numbers, country, currency
        ({"event_time": "x", "website": "https://"}, "bad_timestamp"),
        ({"website": "https://", "cost_micros": -1}, "bad_host:website"),
        ({"device_type": 1, "user_agent": 2}, "bad_type:device_type"),
        ({"user_agent": 2, "cost_micros": -1}, "bad_type:user_agent"),
        ({"cost_micros": -1, "country": "X"}, "negative_value:cost_micros"),
        ({"country": "X", "currency": "X"}, "bad_country"),
    ],
)
def test_impression_first_failing_rule_wins(change, reason):
    with pytest.raises(ContractError) as caught:
        standardize_impression({**IMPRESSION, **change})
    assert caught.value.reason == reason


# --- clicks and conversions ---------------------------------------------------------------

CLICK = {
    "event_id": " e-1 ",
    "event_time": ISO,
    "event_type": "click",
    "user_id": "u-1",
    "campaign_id": "c-1",
    "impression_id": " imp-1",
}
CONVERSION = {
    "event_id": "e-2",
    "event_time": str(T),
    "event_type": "conversion",
    "user_id": "u-1",
    "campaign_id": "c-1",
    "conversion_type": "purchase",
    "conversion_value": "12.50",
    "currency": "gbp",
}


def _from_csv(record: dict) -> dict:
    """What the pipeline hands the rules: the decoded CSV record."""
    return decode_click_row(encode_click_row(record))


def test_standardize_click_exactly():
    assert standardize_click_or_conversion(_from_csv(CLICK)) == {
        "event_id": "e-1",
        "event_time_ms": T,
        "event_type": "click",
        "user_id": "u-1",
        "campaign_id": "c-1",
        "impression_id": "imp-1",
    }


def test_columns_that_do_not_apply_to_a_click_are_not_checked():
    raw = {**CLICK, "conversion_type": "bogus", "conversion_value": "-3", "currency": "??"}
    assert standardize_click_or_conversion(_from_csv(raw))["impression_id"] == "imp-1"


def test_standardize_conversion_exactly():
    assert standardize_click_or_conversion(_from_csv(CONVERSION)) == {
        "event_id": "e-2",
        "event_time_ms": T,
        "event_type": "conversion",
        "user_id": "u-1",
        "campaign_id": "c-1",
        "impression_id": None,
        "conversion_type": "purchase",
        "conversion_value": 12.5,
        "currency": "GBP",
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [("0", 0.0), ("-0", 0.0), ("7", 7.0), (".5", 0.5), ("3.", 3.0), ("+1.25", 1.25), ("", None)],
)
def test_conversion_value_parses(given, expected):
    raw = _from_csv({**CONVERSION, "conversion_value": given})
    assert standardize_click_or_conversion(raw)["conversion_value"] == expected


def test_a_conversion_value_beyond_a_double_is_a_bad_number():
    raw = _from_csv({**CONVERSION, "conversion_value": "9" * 400})
    with pytest.raises(ContractError) as caught:
        standardize_click_or_conversion(raw)
    assert caught.value.reason == "bad_number:conversion_value"


def test_conversion_currency_defaults_to_usd_and_impression_id_is_kept():
    raw = _from_csv({**CONVERSION, "currency": "", "impression_id": " imp-9 "})
    out = standardize_click_or_conversion(raw)
    assert (out["currency"], out["impression_id"]) == ("USD", "imp-9")


@pytest.mark.parametrize(
    ("base", "change", "reason"),
    [
        (CLICK, {"event_id": ""}, "missing_field:event_id"),
        (CLICK, {"event_time": ""}, "missing_field:event_time"),
        (CLICK, {"event_type": ""}, "missing_field:event_type"),
        (CLICK, {"user_id": " "}, "missing_field:user_id"),
        (CLICK, {"campaign_id": ""}, "missing_field:campaign_id"),
        (CLICK, {"event_time": "29/11/2026"}, "bad_timestamp"),
        (CLICK, {"event_type": "Click"}, "bad_enum:event_type"),
        (CLICK, {"event_type": "view"}, "bad_enum:event_type"),
        (CLICK, {"impression_id": ""}, "missing_field:impression_id"),
        (CONVERSION, {"conversion_type": ""}, "missing_field:conversion_type"),
        (CONVERSION, {"conversion_type": "refund"}, "bad_enum:conversion_type"),
        (CONVERSION, {"conversion_value": "1e3"}, "bad_number:conversion_value"),
        (CONVERSION, {"conversion_value": "NaN"}, "bad_number:conversion_value"),
        (CONVERSION, {"conversion_value": "12,50"}, "bad_number:conversion_value"),
        (CONVERSION, {"conversion_value": "-0.01"}, "negative_value:conversion_value"),
        (CONVERSION, {"currency": "euro"}, "bad_currency"),
    ],
)
def test_click_and_conversion_reasons(base, change, reason):
    with pytest.raises(ContractError) as caught:
        standardize_click_or_conversion(_from_csv({**base, **change}))
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("base", "change", "reason"),
    [
        (CLICK, {"campaign_id": "", "event_time": "bad"}, "missing_field:campaign_id"),
        (CLICK, {"event_time": "bad", "event_type": "view"}, "bad_timestamp"),
        (CLICK, {"event_type": "view", "impression_id": ""}, "bad_enum:event_type"),
        (
            CONVERSION,
            {"conversion_type": "", "conversion_value": "-1"},
            "missing_field:conversion_type",
        ),
        (
            CONVERSION,
            {"conversion_type": "x", "conversion_value": "-1"},
            "bad_enum:conversion_type",
        ),
        (
            CONVERSION,
            {"conversion_value": "-1", "currency": "x"},
            "negative_value:conversion_value",
        ),
    ],
)
def test_click_and_conversion_first_failing_rule_wins(base, change, reason):
    with pytest.raises(ContractError) as caught:
        standardize_click_or_conversion(_from_csv({**base, **change}))
    assert caught.value.reason == reason


# --- bid requests ------------------------------------------------------------------------

BID = {
    "request_id": " req-1 ",
    "event_time": T,
    "exchange": "adx",
    "auction_type": "SECOND_PRICE",
    "bid_floor_micros": 250_000,
    "currency": "usd",
    "user": {"user_id": " u-1 ", "segments": ["sports"], "age_range": "25-34", "gender": None},
    "device": {"device_type": "TV", "os": "tvOS", "user_agent": None, "ip": "", "country": "fr"},
    "site": {"domain": "https://www.Shop.example.fr/p", "page_url": None, "categories": ["IAB22"]},
    "targeting": {"campaign_ids": [" c-1 ", "", "c-2"], "keywords": ["k"]},
    "outcome": {
        "bid_price_micros": 400_000,
        "won": False,
        "clearing_price_micros": None,
        "campaign_id": " c-1",
        "creative_id": "cr-1",
    },
}


def _from_avro(record: dict) -> dict:
    return decode_bid_request(encode_bid_request(record))


def test_standardize_bid_request_exactly():
    assert standardize_bid_request(_from_avro(BID)) == {
        "request_id": "req-1",
        "event_time_ms": T,
        "exchange": "adx",
        "auction_type": "SECOND_PRICE",
        "bid_floor_micros": 250_000,
        "currency": "USD",
        "user_id": "u-1",
        "user_segments": ["sports"],
        "age_range": "25-34",
        "gender": None,
        "device_type": "other",
        "os": "tvOS",
        "user_agent": None,
        "ip": None,
        "country": "FR",
        "site_domain": "shop.example.fr",
        "page_url": None,
        "site_categories": ["IAB22"],
        "targeted_campaign_ids": ["c-1", "c-2"],
        "keywords": ["k"],
        "bid": True,
        "won": False,
        "bid_price_micros": 400_000,
        "clearing_price_micros": None,
        "campaign_id": "c-1",
        "creative_id": "cr-1",
    }


def test_a_request_we_did_not_bid_on():
    out = standardize_bid_request(_from_avro({**BID, "outcome": None}))
    assert {k: out[k] for k in ("bid", "won", "bid_price_micros", "campaign_id")} == {
        "bid": False,
        "won": False,
        "bid_price_micros": None,
        "campaign_id": None,
    }


def _with(path: str, value) -> dict:
    import copy

    record = copy.deepcopy(BID)
    holder = record
    *parents, name = path.split(".")
    for parent in parents:
        holder = holder[parent]
    holder[name] = value
    return record


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("request_id", " ", "missing_field:request_id"),
        ("exchange", "", "missing_field:exchange"),
        ("currency", "", "missing_field:currency"),
        ("site.domain", "", "missing_field:site.domain"),
        ("event_time", -1, "bad_timestamp"),
        ("event_time", 2**62, "bad_timestamp"),
        ("site.domain", "https://:80/", "bad_host:site.domain"),
        ("bid_floor_micros", -1, "negative_value:bid_floor_micros"),
        ("outcome.bid_price_micros", -5, "negative_value:outcome.bid_price_micros"),
        ("outcome.clearing_price_micros", -5, "negative_value:outcome.clearing_price_micros"),
        ("device.country", "FRA", "bad_country"),
        ("currency", "us dollar", "bad_currency"),
    ],
)
def test_bid_request_reasons_through_avro(path, value, reason):
    with pytest.raises(ContractError) as caught:
        standardize_bid_request(_from_avro(_with(path, value)))
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("event_time", None, "missing_field:event_time"),
        ("site", {}, "missing_field:site.domain"),
        ("auction_type", "VICKREY", "bad_enum:auction_type"),
        ("device.device_type", 1, "bad_type:device.device_type"),
        ("user.gender", 1, "bad_type:user.gender"),
        ("site.categories", "IAB1", "bad_type:site.categories"),
        ("bid_floor_micros", None, "missing_field:bid_floor_micros"),
        ("bid_floor_micros", "cheap", "bad_number:bid_floor_micros"),
        ("outcome.won", None, "bad_type:outcome.won"),
    ],
)
def test_bid_request_reasons_for_dicts_avro_would_not_produce(path, value, reason):
    with pytest.raises(ContractError) as caught:
        standardize_bid_request(_with(path, value))
    assert caught.value.reason == reason


# --- agreement with the output schemas ------------------------------------------------------


def _rule_fields(name: str) -> list[str]:
    """The output fields the rules set: those the schema does not mark x-set-by a later stage."""
    properties = output_schema(name)["properties"]
    return [field for field, spec in properties.items() if "x-set-by" not in spec]


@pytest.mark.parametrize(
    ("name", "record"),
    [
        ("impressions", lambda: standardize_impression(IMPRESSION)),
        ("clicks", lambda: standardize_click_or_conversion(_from_csv(CLICK))),
        ("conversions", lambda: standardize_click_or_conversion(_from_csv(CONVERSION))),
        ("bid_requests", lambda: standardize_bid_request(_from_avro(BID))),
    ],
)
def test_rules_output_the_schema_fields_in_order_and_validate(name, record):
    out = record()
    assert list(out) == _rule_fields(name)
    import jsonschema  # a declared test dependency: never skipped

    enriched = {
        **out,
        "advertiser_id": None,
        "campaign_name": None,
        "campaign_status": None,
        "campaign_daily_budget_micros": None,
        "campaign_known": False,
    }
    if name == "impressions":  # contract 2.6, judged after the rules
        enriched |= {"traffic_quality": "valid", "ivt_reason": None}
    jsonschema.Draft202012Validator(output_schema(name)).validate(enriched)
