"""The batch job on a small hand-made input whose every outcome is stated here: events
exactly on window boundaries and one millisecond past them, each timestamp form, a record
out of event-time order (late in a stream, not in batch), duplicates (the first in
file-name then line order wins) and a malformed line."""

import json
from pathlib import Path

import pytest

from advertisex.contract.bid_requests import write_avro_file
from advertisex.contract.clicks_csv import HEADER
from flink_jobs.batch import run_batch

T0 = 1_795_910_400_000  # a minute boundary
MIN, HALF_HOUR, WEEK = 60_000, 1_800_000, 7 * 86_400_000
CAMPAIGN = {
    "campaign_id": "c1",
    "advertiser_id": "adv-1",
    "name": "Winter",
    "status": "active",
    "daily_budget_micros": 5_000_000,
    "updated_at_ms": 0,
}


def iso(ms: int, offset_hours: int = 0) -> str:
    from datetime import UTC, datetime, timedelta, timezone

    zone = timezone(timedelta(hours=offset_hours)) if offset_hours else UTC
    text = datetime.fromtimestamp(ms / 1000, zone).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def impression(impression_id: str, when, user: str = "u1", creative: str = "cr-1") -> str:
    return json.dumps(
        {
            "impression_id": impression_id,
            "event_time": when,
            "user_id": user,
            "creative_id": creative,
            "campaign_id": "c1",
            "website": "https://WWW.News.Example.com:443/a?b",
            "cost_micros": 100,
        }
    )


def bid_request(request_id: str, ms: int, won: bool) -> dict:
    return {
        "request_id": request_id,
        "event_time": ms,
        "exchange": "x",
        "auction_type": "FIRST_PRICE",
        "bid_floor_micros": 10,
        "currency": "USD",
        "user": {"user_id": "u1"},
        "device": {},
        "site": {"domain": "news.example.com"},
        "targeting": {"campaign_ids": ["c1"]},
        "outcome": {
            "bid_price_micros": 50,
            "won": won,
            "clearing_price_micros": 50 if won else None,
            "campaign_id": "c1",
            "creative_id": "cr-1",
        },
    }


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp("edges-in")
    for sub in ("impressions", "clicks_conversions", "bid_requests", "campaigns"):
        (folder / sub).mkdir()
    (folder / "campaigns" / "campaigns.jsonl").write_text(json.dumps(CAMPAIGN) + "\n")
    lines = [
        impression("imp-a", T0),  # epoch millis
        impression("imp-a", T0),  # a redelivery: a duplicate
        impression("imp-b", iso(T0 + MIN - 1)),  # ISO UTC, the last ms of the first minute
        impression("imp-c", iso(T0 + MIN, 1)),  # ISO +01:00, exactly on the next minute
        '{"impression_id": "imp-bad", "event_time": ',  # malformed, line 5
        # 55 s behind the line before: late in a stream, where the watermark would be at
        # T0 + 50 s; batch knows its whole input, so nothing is late.
        impression("imp-late", T0 + 5_000),
    ]
    (folder / "impressions" / "part-0.jsonl").write_text("\n".join(lines) + "\n")
    # The same id in two files, with different content: the first in file-name order wins,
    # whatever order the files are read in (b.jsonl's line comes first in its file).
    (folder / "impressions" / "b.jsonl").write_text(
        impression("imp-dup", T0 + 2 * MIN, creative="cr-second") + "\n"
    )
    (folder / "impressions" / "a.jsonl").write_text(
        impression("imp-x", T0 + 2 * MIN)
        + "\n"
        + impression("imp-dup", T0 + 2 * MIN, creative="cr-first")
        + "\n"
    )
    rows = [
        f"clk-1,{T0},click,u1,c1,imp-a,,,",  # the impression's own millisecond
        f"clk-4,{T0 + MIN - 1},click,u3,c1,imp-c,,,",  # 1 ms before its impression
        f"clk-2,{iso(T0 + HALF_HOUR)},click,u1,c1,imp-a,,,",  # exactly 30 min after
        f"conv-1,{T0 + HALF_HOUR},conversion,u1,c1,,purchase,10.50,EUR",  # clk-2's ms
        f"conv-3,{T0 + HALF_HOUR + 5},conversion,u2,c1,,signup,,",  # no click at all
        # 30 min and 1 ms after imp-b: exactly on a minute boundary, and unattributed.
        f"clk-3,{T0 + MIN - 1 + HALF_HOUR + 1},click,u3,c1,imp-b,,,",
        f"conv-2,{T0 + HALF_HOUR + WEEK},conversion,u1,c1,,lead,1,",  # 7 days after clk-2
    ]
    (folder / "clicks_conversions" / "part-0.csv").write_text(
        HEADER + "\n" + "\n".join(rows) + "\n"
    )
    write_avro_file(
        folder / "bid_requests" / "part-0.avro",
        [bid_request("br-1", T0 + 30_000, True), bid_request("br-2", T0 + MIN, False)],
    )
    out = tmp_path_factory.mktemp("edges-out")
    counts = run_batch(folder, out, on_step=lambda _: None)
    result = {
        name: [json.loads(line) for line in (out / name / "part-0.jsonl").read_text().splitlines()]
        for name in counts
    }
    assert {name: len(rows) for name, rows in result.items()} == counts
    return result


def test_record_outputs_standardize_dedupe_and_keep_the_late_record(outputs):
    impressions = {r["impression_id"]: r for r in outputs["impressions"]}
    assert sorted(impressions) == ["imp-a", "imp-b", "imp-c", "imp-dup", "imp-late", "imp-x"]
    assert impressions["imp-dup"]["creative_id"] == "cr-first"  # a.jsonl before b.jsonl
    assert impressions["imp-b"]["event_time_ms"] == T0 + MIN - 1
    assert impressions["imp-c"]["event_time_ms"] == T0 + MIN
    assert {r["website"] for r in impressions.values()} == {"news.example.com"}
    assert impressions["imp-a"]["advertiser_id"] == "adv-1"
    assert sorted(r["event_id"] for r in outputs["clicks"]) == ["clk-1", "clk-2", "clk-3", "clk-4"]
    assert sorted(r["event_id"] for r in outputs["conversions"]) == ["conv-1", "conv-2", "conv-3"]
    assert sorted(r["request_id"] for r in outputs["bid_requests"]) == ["br-1", "br-2"]


def test_the_malformed_line_is_a_dead_letter_with_its_place(outputs):
    [dead] = outputs["dead_letters"]
    assert dead["dead_letter_id"] == "impressions/part-0.jsonl:5"
    assert (dead["source"], dead["reason"]) == ("impressions", "malformed_json")
    assert (dead["file"], dead["line"], dead["topic"]) == ("impressions/part-0.jsonl", 5, None)
    assert dead["raw_payload"] == '{"impression_id": "imp-bad", "event_time": '


def test_click_windows_include_both_ends_and_nothing_beyond(outputs):
    clicks = {r["event_id"]: r for r in outputs["attributed_clicks"]}
    assert {k: r["impression_id"] for k, r in clicks.items()} == {
        "clk-1": "imp-a",
        "clk-2": "imp-a",
    }
    assert clicks["clk-1"]["seconds_to_click"] == 0
    assert clicks["clk-2"]["seconds_to_click"] == 1800
    assert clicks["clk-2"]["website"] == "news.example.com"


def test_last_click_wins_up_to_exactly_seven_days(outputs):
    conversions = {r["event_id"]: r for r in outputs["attributed_conversions"]}
    assert {k: r["click_id"] for k, r in conversions.items()} == {
        "conv-1": "clk-2",
        "conv-2": "clk-2",
    }
    assert conversions["conv-2"]["seconds_to_conversion"] == WEEK / 1000
    assert conversions["conv-1"]["currency"] == "EUR"


def test_campaign_minutes_count_on_time_records_by_their_minute(outputs):
    rows = {r["window_start_ms"] - T0: r for r in outputs["campaign_metrics_1m"]}
    assert sorted(rows) == [0, MIN, 2 * MIN, HALF_HOUR, HALF_HOUR + MIN, HALF_HOUR + WEEK]

    def counts(row):
        keys = ("impressions", "clicks", "attributed_clicks", "unattributed_clicks")
        keys += ("conversions", "unattributed_conversions", "spend_micros", "bids", "wins")
        return tuple(row[k] for k in keys)

    # The impression out of order counts in its minute; the duplicates count once.
    assert counts(rows[0]) == (3, 2, 1, 1, 0, 0, 300, 1, 1)
    assert (rows[0]["ctr"], rows[0]["cvr"], rows[0]["win_rate"]) == (2 / 3, 0.0, 1.0)
    assert counts(rows[2 * MIN]) == (2, 0, 0, 0, 0, 0, 200, 0, 0)
    assert counts(rows[MIN]) == (1, 0, 0, 0, 0, 0, 100, 1, 0)
    assert rows[MIN]["win_rate"] == 0.0 and rows[MIN]["cvr"] is None
    assert counts(rows[HALF_HOUR]) == (0, 1, 1, 0, 2, 1, 0, 0, 0)
    assert rows[HALF_HOUR]["conversion_value"] == 10.5 and rows[HALF_HOUR]["ctr"] is None
    assert counts(rows[HALF_HOUR + MIN]) == (0, 1, 0, 1, 0, 0, 0, 0, 0)
    assert counts(rows[HALF_HOUR + WEEK]) == (0, 0, 0, 0, 1, 0, 0, 0, 0)
    assert rows[0]["window_end_ms"] == T0 + MIN
    assert (rows[0]["campaign_name"], rows[0]["campaign_known"]) == ("Winter", True)


def test_quality_totals_per_source(outputs):
    totals = {}
    for row in outputs["dq_metrics"]:
        t = totals.setdefault(row["source"], {})
        for key in ("received", "valid", "invalid", "duplicates", "late", "unattributed"):
            t[key] = t.get(key, 0) + row[key]
    assert totals["impressions"] == {
        "received": 9,
        "valid": 6,
        "invalid": 1,
        "duplicates": 2,
        "late": 0,  # batch: nothing is late
        "unattributed": 0,
    }
    assert totals["clicks_conversions"] == {
        "received": 7,
        "valid": 7,
        "invalid": 0,
        "duplicates": 0,
        "late": 0,
        "unattributed": 3,  # clk-3, clk-4, conv-3
    }
    assert totals["bid_requests"]["received"] == 2
    reasons = [r["invalid_by_reason"] for r in outputs["dq_metrics"] if r["invalid"]]
    assert reasons == [{"malformed_json": 1}]


def test_an_input_folder_without_sources_is_refused(tmp_path):
    from advertisex.ingest.replay import ReplayError

    with pytest.raises(ReplayError, match="simulate --to files"):
        run_batch(tmp_path, tmp_path / "out", on_step=lambda _: None)


def test_paths_are_relative_so_outputs_do_not_depend_on_where_the_input_lives(outputs):
    assert not Path(outputs["dead_letters"][0]["file"]).is_absolute()
