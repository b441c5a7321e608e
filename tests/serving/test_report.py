"""`advertisex report` without servers: the time range, the metrics, the formats, and the
command's messages for bad arguments and a broker that does not answer."""

import csv
import io
import json
import socket

import pytest
from typer.testing import CliRunner

from advertisex.cli import app
from advertisex.serving import templates
from advertisex.serving.report import (
    BadArgument,
    Report,
    TimeRange,
    build_report,
    check_campaign_id,
    derive_metrics,
    parse_instant,
    prefixed_tables,
    ratio,
    time_range,
)
from advertisex.serving.report_format import (
    money,
    percent,
    print_table,
    to_csv,
    to_json,
    to_table,
)

NOW = 1_795_946_435_123  # 2026-11-29T10:00:35.123Z
H9 = 1_795_942_800_000  # 2026-11-29T09:00:00Z
H10 = 1_795_946_400_000  # 2026-11-29T10:00:00Z


# --- the time range -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("1h", NOW - 3_600_000),
        ("90s", NOW - 90_000),
        ("15m", NOW - 900_000),
        ("2d", NOW - 2 * 86_400_000),
        ("1w", NOW - 7 * 86_400_000),
        ("1795942800000", H9),
        ("2026-11-29T09:00:00Z", H9),
        ("2026-11-29T10:00:00+01:00", H9),
        ("2026-11-29T09:00:00.250Z", H9 + 250),
        ("2026-11-29T09:00", H9),  # no offset: UTC
        ("2026-11-29 09:00:00", H9),
        ("2026-11-29", H9 - 9 * 3_600_000),
    ],
)
def test_parse_instant_accepts_every_form(text, expected):
    assert parse_instant(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "1x", "-1h", "2026-13-01", "12:00", "1.5h"])
def test_parse_instant_says_what_is_wrong_and_what_fits(text):
    with pytest.raises(BadArgument) as caught:
        parse_instant(text, NOW, "--to")
    assert caught.value.option == "--to"
    assert "1h" in str(caught.value) or "before 1970" in str(caught.value)


def test_time_range_is_widened_to_whole_minutes():
    span = time_range("2026-11-29T09:00:30Z", "now", NOW)
    assert span == TimeRange(H9, H10 + 60_000)  # the current minute is in
    assert span.minutes == 61
    assert time_range("2026-11-29T09:00:00Z", "2026-11-29T10:00:00Z", NOW) == TimeRange(H9, H10)
    assert span.as_dict()["from"] == "2026-11-29T09:00:00.000Z"


def test_time_range_must_not_be_empty_or_backwards():
    with pytest.raises(BadArgument, match="not before --to"):
        time_range("now", "1h", NOW)
    with pytest.raises(BadArgument, match="not before --to"):
        time_range(str(H9), str(H9), NOW)


def test_campaign_id_is_trimmed_and_checked():
    assert check_campaign_id(" cmp-0001 ") == "cmp-0001"
    for bad in ["", "  ", "a\nb"]:
        with pytest.raises(BadArgument, match="--campaign"):
            check_campaign_id(bad)


def test_table_prefix_goes_before_every_table():
    assert prefixed_tables("") == {
        "attributed_clicks": "attributed_clicks",
        "campaign_metrics_1m": "campaign_metrics_1m",
        "impressions": "impressions",
    }
    assert prefixed_tables("t1_")["impressions"] == "t1_impressions"
    for bad in ["1x_", "a-b", "a b", "x;"]:
        with pytest.raises(BadArgument, match="--table-prefix"):
            prefixed_tables(bad)


# --- the metrics ---------------------------------------------------------------------------


def test_ratio_is_none_without_a_denominator():
    assert ratio(1, 4) == 0.25
    assert ratio(1, 4, 1000) == 250.0
    assert ratio(1, 0) is None
    assert ratio(0, 0) is None
    assert ratio(3, None) is None


def test_derive_metrics_from_pinot_sums():
    row = derive_metrics(
        {
            "campaign_id": "c1",
            "impressions": 4.0,  # Pinot's SUM is a double
            "clicks": 2.0,
            "attributed_clicks": 1.0,
            "unattributed_clicks": 1.0,
            "conversions": 1.0,
            "conversion_value": 12.5,
            "spend_micros": 10_000.0,
            "bids": 8.0,
            "wins": 4.0,
        }
    )
    assert row["impressions"] == 4 and isinstance(row["impressions"], int)
    assert row["spend_micros"] == 10_000 and row["spend"] == 0.01
    assert row["ctr"] == 0.5
    assert row["cvr"] == 0.5
    assert row["cpm"] == pytest.approx(2.5)  # 0.01 / 4 * 1000
    assert row["cpc"] == 0.005
    assert row["cpa"] == 0.01
    assert row["win_rate"] == 0.5
    assert row["conversion_value"] == 12.5


def test_derive_metrics_division_by_zero_is_none():
    row = derive_metrics(
        {
            "impressions": 0,
            "clicks": 0,
            "conversions": 0,
            "spend_micros": 0,
            "bids": 0,
            "wins": 0,
        }
    )
    assert [row[k] for k in ("ctr", "cvr", "cpm", "cpc", "cpa", "win_rate")] == [None] * 6
    assert row["spend"] == 0


def test_derive_metrics_only_derives_what_the_row_supports():
    row = derive_metrics({"website": "a.example", "impressions": 2, "spend_micros": 3_000_000})
    assert row["cpm"] == 1500.0
    assert "cvr" not in row and "win_rate" not in row and "cpa" not in row


# --- the report with a stand-in broker ----------------------------------------------------


class FakeBroker:
    """Answers each query file with canned rows after rendering it (so the values given
    must fit the file's parameters)."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def query(self, name, **values):
        templates.load(name).render(values)
        self.calls.append((name, values))
        return [dict(row) for row in self.answers.get(name, [])]


CAMPAIGNS = [
    {
        "campaign_id": "cmp-0001",
        "advertiser_id": "adv-001",
        "campaign_name": "Winter, sale",
        "impressions": 4.0,
        "clicks": 2.0,
        "attributed_clicks": 2.0,
        "unattributed_clicks": 0.0,
        "conversions": 1.0,
        "conversion_value": 20.0,
        "spend_micros": 6_000_000.0,
        "bids": 10.0,
        "wins": 4.0,
    },
    {
        "campaign_id": "cmp-retired-01",
        "advertiser_id": "null",
        "campaign_name": "null",
        "impressions": 0.0,
        "clicks": 1.0,
        "attributed_clicks": 0.0,
        "unattributed_clicks": 1.0,
        "conversions": 0.0,
        "conversion_value": 0.0,
        "spend_micros": 0.0,
        "bids": 0.0,
        "wins": 0.0,
    },
]
WEBSITES = [
    {"website": "news0000.example.org", "impressions": 3, "spend_micros": 4_500_000.0},
    {"website": "site0001.example.com", "impressions": 1, "spend_micros": 1_500_000.0},
]
SERIES = [
    {
        "window_start_ms": H9,
        "impressions": 3.0,
        "clicks": 2.0,
        "attributed_clicks": 2.0,
        "unattributed_clicks": 0.0,
        "conversions": 0.0,
        "conversion_value": 0.0,
        "spend_micros": 4_500_000.0,
        "bids": 6.0,
        "wins": 3.0,
    },
    {
        "window_start_ms": H9 + 60_000,
        "impressions": 1.0,
        "clicks": 0.0,
        "attributed_clicks": 0.0,
        "unattributed_clicks": 0.0,
        "conversions": 1.0,
        "conversion_value": 20.0,
        "spend_micros": 1_500_000.0,
        "bids": 4.0,
        "wins": 1.0,
    },
]


def full_report() -> tuple[Report, FakeBroker]:
    broker = FakeBroker(
        {
            "campaign_performance": CAMPAIGNS,
            "top_websites": WEBSITES,
            "website_clicks": [{"website": "news0000.example.org", "clicks": 2}],
            "campaign_time_series": SERIES,
        }
    )
    span = TimeRange(H9, H10)
    return build_report(broker, span, "campaign", top=5, campaign="cmp-0001"), broker


def test_build_report_asks_each_query_with_the_range():
    report, broker = full_report()
    names = [name for name, _ in broker.calls]
    assert names == [
        "campaign_performance",
        "top_websites",
        "website_clicks",
        "campaign_time_series",
    ]
    values = dict(broker.calls)
    assert values["campaign_performance"] == {"from_ms": H9, "to_ms": H10, "limit": 1000}
    assert values["website_clicks"]["websites"] == ["news0000.example.org", "site0001.example.com"]
    assert values["campaign_time_series"]["limit"] == 60  # one row per minute at most
    assert report.rows[1]["advertiser_id"] is None  # Pinot's "null" string
    assert report.websites[0]["clicks"] == 2 and report.websites[1]["clicks"] == 0
    assert report.websites[0]["ctr"] == pytest.approx(2 / 3)
    assert report.series[0]["minute"] == "2026-11-29T09:00:00.000Z"
    assert report.notes == []


def test_build_report_notes_a_cut_list():
    broker = FakeBroker({"advertiser_performance": [{"advertiser_id": "a", "campaigns": 2}] * 2})
    report = build_report(broker, TimeRange(H9, H10), "advertiser", limit=2)
    assert report.truncated and "--limit" in report.notes[0]
    assert report.rows[0]["campaigns"] == 2


def test_no_website_clicks_query_without_websites():
    broker = FakeBroker({})
    report = build_report(broker, TimeRange(H9, H10), top=3)
    assert report.websites == []
    assert [name for name, _ in broker.calls] == ["campaign_performance", "top_websites"]


def test_json_has_every_section_with_nulls_for_missing_ratios():
    report, _ = full_report()
    data = json.loads(to_json(report))
    assert data["from"] == "2026-11-29T09:00:00.000Z" and data["to_ms"] == H10
    assert data["by"] == "campaign"
    first, second = data["campaigns"]
    assert first["campaign_name"] == "Winter, sale"
    assert first["spend"] == 6.0 and first["cpm"] == 1500.0 and first["cpa"] == 6.0
    assert first["win_rate"] == 0.4
    assert second["advertiser_id"] is None and second["ctr"] is None and second["cpc"] == 0.0
    assert [w["website"] for w in data["top_websites"]] == [
        "news0000.example.org",
        "site0001.example.com",
    ]
    assert data["campaign"]["campaign_id"] == "cmp-0001"
    assert [m["window_start_ms"] for m in data["campaign"]["time_series"]] == [H9, H9 + 60_000]
    assert data["campaign"]["time_series"][1]["ctr"] == 0.0


def test_csv_is_plain_for_one_section_and_marked_for_several():
    report, _ = full_report()
    text = to_csv(report)
    blocks = text.split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["# campaigns", "# top_websites", "# time_series"]
    rows = list(csv.DictReader(io.StringIO(blocks[0].split("\n", 1)[1])))
    assert rows[0]["campaign_name"] == "Winter, sale"
    assert rows[0]["impressions"] == "4" and rows[0]["spend"] == "6.0"
    assert rows[1]["ctr"] == "" and rows[1]["advertiser_id"] == ""

    report.websites = None
    report.campaign = None
    plain = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert [r["campaign_id"] for r in plain] == ["cmp-0001", "cmp-retired-01"]


def test_table_shows_rounded_values_and_blanks(capsys):
    from rich.console import Console

    report, _ = full_report()
    console = Console(width=250, record=True)
    console.print(to_table(report))
    out = console.export_text()
    assert "Performance per campaign, 2026-11-29 09:00 to 2026-11-29 10:00 UTC" in out
    assert "Winter, sale" in out and "6.00" in out and "1,500.00" in out and "40.00%" in out
    assert "Top 5 websites" in out and "66.67%" in out
    assert "Campaign cmp-0001 per minute" in out and "2026-11-29 09:01" in out


def test_narrow_terminals_get_whole_ids_and_names():
    from rich.console import Console

    report, _ = full_report()
    out = io.StringIO()
    print_table(report, Console(width=60, file=out))
    text = out.getvalue()
    assert "cmp-retired-01" in text and "Winter, sale" in text and "…" not in text


def test_formatters():
    assert percent(0.123456) == "12.35%" and percent(None) == ""
    assert money(1234.5) == "1,234.50" and money(0.0042) == "0.0042" and money(0) == "0.00"
    assert money(None) == ""


# --- the command ---------------------------------------------------------------------------

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "yesterday"], "--from"),
        (["--to", "1h", "--from", "now"], "not before --to"),
        (["--by", "site"], "campaign, advertiser"),
        (["--format", "xml"], "table, csv, json"),
        (["--top", "0"], "--top"),
        (["--limit", "-1"], "--limit"),
        (["--campaign", " "], "--campaign"),
        (["--broker", "ftp://x"], "http://127.0.0.1:8099"),
        (["--table-prefix", "a-b"], "letters, digits and _"),
    ],
)
def test_bad_arguments_say_what_is_wrong(args, says):
    result = runner.invoke(app, ["report", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_a_broker_that_does_not_answer_is_named_with_the_fix():
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["report", "--broker", url], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert url in result.output and "advertisex stack up pinot" in result.output
