"""The batch pipeline as plain, single-threaded Python: the comparison row of
bench/batch_throughput.py (issue 14, part 3), not product code.

It reads a folder written by `advertisex simulate --to files` and writes the nine outputs of
flink_jobs/pipeline.py as JSON Lines (OUTPUT/<name>/part-0.jsonl), under the contract's
batch rules (2.5): the whole input is known, nothing is late, every join and window is
complete, and the first occurrence of an id in file-name then line order wins. The rules are
the contract's Python reference (advertisex.contract: decoders and standardize_*); the joins
and campaign_metrics_1m follow advertisex/ingest/ground_truth.py, on the records read from
the files.

One pass decodes, checks, deduplicates and writes the record outputs and dead letters as it
goes; only what the joins and aggregates need is kept (a tuple per impression, click and
conversion, counters per campaign-minute), so memory grows with the ids, not the records.

    python bench/plain_batch.py INPUT_FOLDER OUTPUT_FOLDER
"""

from __future__ import annotations

import argparse
import bisect
import json
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

from advertisex.contract.errors import ContractError, raw_payload
from advertisex.contract.event_time import check
from advertisex.contract.invalid_traffic import judge_impression
from advertisex.contract.topics import output_topics, record_id_field
from advertisex.ingest.ground_truth import CAMPAIGN_COUNTS
from advertisex.ingest.replay import ReplayError, campaign_rows
from flink_jobs.batch_input import INPUT_FILES, located_messages

OUTPUTS = tuple(output_topics())
CLICK_WINDOW_MS = 1_800_000  # PipelineSettings' defaults (contract 2.4)
CONVERSION_WINDOW_MS = 7 * 86_400_000
DQ_WINDOW_MS = 60_000
MINUTE_MS = 60_000
# What attributed_clicks takes of its impression, in its order.
IMPRESSION_FIELDS = (
    "creative_id",
    "website",
    "device_type",
    "country",
    "cost_micros",
    "currency",
    "bid_request_id",
)
UNKNOWN = {
    "advertiser_id": None,
    "campaign_name": None,
    "campaign_status": None,
    "campaign_daily_budget_micros": None,
    "campaign_known": False,
}


def campaign_dimension(folder: Path) -> dict[str, dict]:
    """campaign_id -> its enrichment fields; a newer updated_at_ms replaces an older row
    (as the JVM's CampaignDirectory)."""
    found: dict[str, tuple[int, dict]] = {}
    for row in campaign_rows(folder):
        updated = row.get("updated_at_ms") or 0
        if row["campaign_id"] not in found or updated >= found[row["campaign_id"]][0]:
            found[row["campaign_id"]] = (
                updated,
                {
                    "advertiser_id": row.get("advertiser_id"),
                    "campaign_name": row.get("name"),
                    "campaign_status": row.get("status"),
                    "campaign_daily_budget_micros": row.get("daily_budget_micros"),
                    "campaign_known": True,
                },
            )
    return {campaign: fields for campaign, (_, fields) in found.items()}


def median_delay(histogram: Counter[int]) -> float | None:
    """dq_metrics' p50 as adx_median_delay computes it from a histogram of delays rounded
    to two significant digits (two_digits): the median, the mean of the middle two when
    the count is even."""
    total = sum(histogram.values())
    if not total:
        return None
    ranks, middle, seen = ((total - 1) // 2, total // 2), [], 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(middle) < 2 and seen > ranks[len(middle)]:
            middle.append(value)
    return (middle[0] + middle[1]) / 2


def two_digits(value: int) -> int:
    """value to two significant digits, half up (MedianDelayFunction.twoSignificantDigits)."""
    magnitude = abs(value)
    unit = 1
    while magnitude >= 100 * unit:
        unit *= 10
    rounded = (magnitude + unit // 2) // unit * unit
    return -rounded if value < 0 else rounded


class Writers:
    """One JSON Lines file per output."""

    def __init__(self, output: Path):
        self.files = {}
        self.counts: Counter[str] = Counter()
        for name in OUTPUTS:
            folder = output / name
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            self.files[name] = open(folder / "part-0.jsonl", "w")

    def write(self, name: str, row: dict) -> None:
        self.files[name].write(json.dumps(row) + "\n")
        self.counts[name] += 1

    def close(self) -> None:
        for f in self.files.values():
            f.close()


class Quality:
    """dq_metrics: per source and arrival minute (the wall clock when a message was checked)."""

    def __init__(self):
        self.rows: dict[tuple[str, int], dict] = {}

    def row(self, source: str, window: int) -> dict:
        key = (source, window)
        if key not in self.rows:
            self.rows[key] = {
                "received": 0,
                "valid": 0,
                "invalid_by_reason": Counter(),
                "valid_any": 0,
                "unattributed": 0,
                "delays": Counter(),  # a histogram, as adx_median_delay keeps
                "max_delay": None,
            }
        return self.rows[key]

    def output(self) -> Iterator[dict]:
        for (source, window), r in sorted(self.rows.items()):
            invalid = sum(r["invalid_by_reason"].values())
            yield {
                "source": source,
                "window_start_ms": window,
                "window_end_ms": window + DQ_WINDOW_MS,
                "received": r["received"],
                "valid": r["valid"],
                "invalid": invalid,
                "invalid_by_reason": dict(r["invalid_by_reason"]) or None,
                "duplicates": r["valid_any"] - r["valid"],
                "late": 0,
                "unattributed": r["unattributed"],
                "event_time_delay_p50_ms": median_delay(r["delays"]),
                "event_time_delay_max_ms": r["max_delay"],
            }


def run(
    input_folder: Path, output_folder: Path, on_record: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Write output_folder/<output>/part-0.jsonl for every output; the rows per output.
    on_record(n) is called every 100,000 input records (progress)."""
    folder, output = Path(input_folder), Path(output_folder)
    if not any((folder / source).is_dir() for source in INPUT_FILES):
        raise ReplayError(
            f"{folder} holds none of impressions/, clicks_conversions/, bid_requests/: "
            "is it a folder written by `advertisex simulate --to files`?"
        )
    campaigns = campaign_dimension(folder)
    out = Writers(output)
    quality = Quality()
    seen: dict[str, set[str]] = {source: set() for source in INPUT_FILES}
    # What the joins and metrics need, kept per first-seen record.
    impressions: dict[str, tuple] = {}  # id -> (time, the fields attributed_clicks takes)
    clicks: list[tuple] = []  # (time, id, record, arrival window)
    conversions: list[tuple] = []  # (record, arrival window)
    signals: dict[tuple[str, int], Counter] = defaultdict(Counter)  # campaign-minute counts
    values: dict[tuple[str, int], float] = defaultdict(float)  # conversion value
    no_campaign_bids: Counter[int] = Counter()  # arrival window -> bids without a campaign

    try:
        for n, (source, name, line, payload) in enumerate(located_messages(folder), 1):
            if on_record and n % 100_000 == 0:
                on_record(n)
            now = int(time.time() * 1000)
            window = now - now % DQ_WINDOW_MS
            q = quality.row(source, window)
            q["received"] += 1
            try:
                record = check(source, payload)
            except ContractError as error:
                q["invalid_by_reason"][error.reason] += 1
                text, encoding = raw_payload(payload, source == "bid_requests")
                key = f"{name}:{line}"
                out.write(
                    "dead_letters",
                    {
                        "dead_letter_id": key,
                        "source": source,
                        "reason": error.reason,
                        "detail": error.detail,
                        "raw_payload": text,
                        "payload_encoding": encoding,
                        "topic": None,
                        "partition": None,
                        "offset": None,
                        "file": name,
                        "line": line,
                        "rejected_at_ms": now,
                    },
                )
                continue
            q["valid_any"] += 1
            record_id = record[record_id_field(source)]
            if record_id in seen[source]:
                continue  # a duplicate: the first in file-name then line order won
            seen[source].add(record_id)
            q["valid"] += 1
            t = record["event_time_ms"]
            delay = now - t
            q["delays"][two_digits(delay)] += 1
            q["max_delay"] = delay if q["max_delay"] is None else max(q["max_delay"], delay)
            campaign = record["campaign_id"]
            record.update(campaigns.get(campaign, UNKNOWN))
            minute = (campaign, t - t % MINUTE_MS)
            if source == "impressions":
                judged = judge_impression(record["user_agent"])
                record["traffic_quality"], record["ivt_reason"] = judged.quality, judged.reason
                out.write("impressions", record)
                impressions[record_id] = (t, tuple(record[k] for k in IMPRESSION_FIELDS))
                signals[minute]["impressions"] += 1
                signals[minute]["spend_micros"] += record["cost_micros"] or 0
            elif source == "bid_requests":
                out.write("bid_requests", record)
                if record["bid"] and campaign is not None:
                    signals[minute]["bids"] += 1
                    signals[minute]["wins"] += record["won"]
                elif record["bid"]:
                    no_campaign_bids[window] += 1
            elif record["event_type"] == "click":
                out.write("clicks", record)
                clicks.append((t, record_id, record, window))
            else:
                out.write("conversions", record)
                conversions.append((record, window))
        _correlate(out, quality, impressions, clicks, conversions, signals, values)
        for (campaign, start), counts in sorted(signals.items()):
            dim = campaigns.get(campaign, UNKNOWN)
            row = {name: counts[name] for name in CAMPAIGN_COUNTS}
            out.write(
                "campaign_metrics_1m",
                {
                    "campaign_id": campaign,
                    "window_start_ms": start,
                    "window_end_ms": start + MINUTE_MS,
                    **{k: row[k] for k in CAMPAIGN_COUNTS[:6]},
                    "conversion_value": values[(campaign, start)],
                    "spend_micros": row["spend_micros"],
                    "bids": row["bids"],
                    "wins": row["wins"],
                    "ctr": row["clicks"] / row["impressions"] if row["impressions"] else None,
                    "cvr": row["conversions"] / row["clicks"] if row["clicks"] else None,
                    "win_rate": row["wins"] / row["bids"] if row["bids"] else None,
                    **dim,
                },
            )
        for window, n in no_campaign_bids.items():
            quality.row("bid_requests", window)["unattributed"] += n
        for row in quality.output():
            out.write("dq_metrics", row)
    finally:
        out.close()
    return {name: out.counts[name] for name in OUTPUTS}


def _correlate(out, quality, impressions, clicks, conversions, signals, values) -> None:
    """attributed_clicks and attributed_conversions, and their counts in the metrics."""
    by_user: dict[tuple[str, str], list[tuple[int, str, dict]]] = defaultdict(list)
    for t, click_id, click, window in clicks:
        minute = (click["campaign_id"], t - t % MINUTE_MS)
        signals[minute]["clicks"] += 1
        by_user[(click["user_id"], click["campaign_id"])].append((t, click_id, click))
        found = impressions.get(click["impression_id"])
        if found is None or not found[0] <= t <= found[0] + CLICK_WINDOW_MS:
            signals[minute]["unattributed_clicks"] += 1
            quality.row("clicks_conversions", window)["unattributed"] += 1
            continue
        signals[minute]["attributed_clicks"] += 1
        out.write(
            "attributed_clicks",
            {
                "event_id": click_id,
                "event_time_ms": t,
                "user_id": click["user_id"],
                "campaign_id": click["campaign_id"],
                "impression_id": click["impression_id"],
                "impression_event_time_ms": found[0],
                **dict(zip(IMPRESSION_FIELDS, found[1], strict=True)),
                "seconds_to_click": (t - found[0]) / 1000,
                **{k: click[k] for k in UNKNOWN},
            },
        )
    for candidates in by_user.values():
        candidates.sort(key=lambda c: (c[0], c[1]))
    times = {key: [c[0] for c in candidates] for key, candidates in by_user.items()}
    for conversion, window in conversions:
        t = conversion["event_time_ms"]
        minute = (conversion["campaign_id"], t - t % MINUTE_MS)
        signals[minute]["conversions"] += 1
        values[minute] += conversion["conversion_value"] or 0.0
        key = (conversion["user_id"], conversion["campaign_id"])
        candidates = by_user.get(key, [])
        # The latest click at or before the conversion (ties: the greatest id, last in the
        # sort), if it is within the window.
        at = bisect.bisect_right(times.get(key, []), t) - 1
        if at < 0 or candidates[at][0] < t - CONVERSION_WINDOW_MS:
            signals[minute]["unattributed_conversions"] += 1
            quality.row("clicks_conversions", window)["unattributed"] += 1
            continue
        click_t, click_id, click = candidates[at]
        out.write(
            "attributed_conversions",
            {
                "event_id": conversion["event_id"],
                "event_time_ms": t,
                "user_id": conversion["user_id"],
                "campaign_id": conversion["campaign_id"],
                "conversion_type": conversion["conversion_type"],
                "conversion_value": conversion["conversion_value"],
                "currency": conversion["currency"],
                "click_id": click_id,
                "click_event_time_ms": click_t,
                "impression_id": click["impression_id"],
                "seconds_to_conversion": (t - click_t) / 1000,
                **{k: conversion[k] for k in UNKNOWN},
            },
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input_folder", type=Path)
    parser.add_argument("output_folder", type=Path)
    args = parser.parse_args(argv)
    counts = run(
        args.input_folder,
        args.output_folder,
        on_record=lambda n: print(f"{n:,} records", file=sys.stderr),
    )
    for name, count in counts.items():
        print(f"{name:24} {count:>10,}")


if __name__ == "__main__":
    main()
