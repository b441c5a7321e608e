"""Compare the pipeline's outputs with the simulator's ground truth, record by record.

Used by the batch and the streaming golden tests: each returns the differences as
readable lines, so a failing test says which ids, counts or metrics disagree.
"""

from __future__ import annotations

import base64
import math
import time
from collections import Counter

from kafka_outputs import CLOSERS_DQ, read_outputs, without_closers
from kafka_reader import read_to_end  # tests/kafka_reader.py

from advertisex.contract.bid_requests import plain_datum
from advertisex.ingest.ground_truth import CAMPAIGN_COUNTS

ID_FIELDS = {
    "impressions": "impression_id",
    "clicks": "event_id",
    "conversions": "event_id",
    "bid_requests": "request_id",
}
COUNTS = CAMPAIGN_COUNTS
# The record outputs that carry traffic_quality so far (issue 15 adds clicks, conversions).
JUDGED_OUTPUTS = ("impressions",)
RATIOS = ("conversion_value", "ctr", "cvr", "win_rate")
ENRICHMENT = (
    "advertiser_id",
    "campaign_name",
    "campaign_status",
    "campaign_daily_budget_micros",
    "campaign_known",
)


def _differ(a, b) -> bool:
    if a is None or b is None:
        return a is not b
    return not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _dead_letter(source: str, reason: str, payload: bytes) -> tuple[str, str, str]:
    """How the truth writes a dead letter's payload: base64 for Avro, else lossy UTF-8."""
    if source == "bid_requests":
        return source, reason, base64.b64encode(payload).decode()
    return source, reason, payload.decode("utf-8", errors="replace")


def _set_diff(what: str, got: set, want: set) -> list[str]:
    out = []
    if got - want:
        out.append(f"{what}: {len(got - want)} unexpected, e.g. {sorted(got - want)[:3]}")
    if want - got:
        out.append(f"{what}: {len(want - got)} missing, e.g. {sorted(want - got)[:3]}")
    return out


def _map_diff(what: str, got: dict, want: dict) -> list[str]:
    out = _set_diff(what, set(got), set(want))
    wrong = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    if wrong:
        k = wrong[0]
        out.append(f"{what}: {len(wrong)} differ, e.g. {k}: {got[k]} != {want[k]}")
    return out


def as_in_a_file(source: str, payload: bytes) -> bytes:
    """A message's bytes as a batch input file holds them: an Avro file's datums carry no
    registry framing."""
    return plain_datum(payload) if source == "bid_requests" else payload


def compare(
    outputs: dict[str, list[dict]],
    truth: dict,
    dq_extra: dict[str, dict] | None = None,
    from_files: bool = False,
) -> list[str]:
    """Every difference between the outputs (name -> rows) and the truth's to_dict();
    dq_extra adds counts per source that records outside the truth contributed;
    from_files says the outputs come from batch input (Avro payloads without framing)."""
    diffs: list[str] = []

    # Dead letters: the same messages with the same reasons.
    got = Counter()
    for row in outputs["dead_letters"]:
        raw = row["raw_payload"]
        payload = base64.b64decode(raw) if row["payload_encoding"] == "base64" else raw.encode()
        got[_dead_letter(row["source"], row["reason"], payload)] += 1
    want = Counter()
    for d in truth["dead_letters"]:
        if from_files and d["source"] == "bid_requests":
            payload = as_in_a_file(d["source"], base64.b64decode(d["payload"]))
            want[_dead_letter(d["source"], d["reason"], payload)] += 1
        else:
            want[(d["source"], d["reason"], d["payload"])] += 1
    if got != want:
        extra, missing = got - want, want - got
        diffs.append(
            f"dead_letters: {sum(extra.values())} unexpected {list(extra)[:2]}, "
            f"{sum(missing.values())} missing {list(missing)[:2]}"
        )

    # Record outputs: exactly the truth's ids, each once.
    for name, field in ID_FIELDS.items():
        ids = [row[field] for row in outputs[name]]
        if len(ids) != len(set(ids)):
            diffs.append(f"{name}: {len(ids) - len(set(ids))} ids written more than once")
        diffs += _set_diff(name, set(ids), set(truth["ids"][name]))

    # Invalid traffic (contract 2.6): the outputs that judge it name the truth's records,
    # with its reasons (the truth lists the invalid ones; the rest must be valid).
    for name in JUDGED_OUTPUTS:
        judged = {
            row[ID_FIELDS[name]]: row["ivt_reason"]
            for row in outputs[name]
            if row["traffic_quality"] != "valid"
        }
        diffs += _map_diff(f"{name} invalid traffic", judged, truth["invalid_traffic"][name])

    # Correlation.
    clicks = {r["event_id"]: r["impression_id"] for r in outputs["attributed_clicks"]}
    if len(clicks) != len(outputs["attributed_clicks"]):
        diffs.append("attributed_clicks: a click written more than once")
    diffs += _map_diff("attributed_clicks", clicks, truth["attributed_clicks"])
    conversions = {r["event_id"]: r["click_id"] for r in outputs["attributed_conversions"]}
    diffs += _map_diff("attributed_conversions", conversions, truth["attributed_conversions"])

    # campaign_metrics_1m, row by row.
    got_rows = {(r["campaign_id"], r["window_start_ms"]): r for r in outputs["campaign_metrics_1m"]}
    want_rows = {(r["campaign_id"], r["window_start_ms"]): r for r in truth["campaign_metrics_1m"]}
    diffs += _set_diff("campaign_metrics_1m rows", set(got_rows), set(want_rows))
    for key in sorted(set(got_rows) & set(want_rows)):
        g, w = got_rows[key], want_rows[key]
        wrong = [f for f in COUNTS if f in w and g[f] != w[f]]
        wrong += [f for f in RATIOS if f in w and _differ(g[f], w[f])]
        wrong += [f for f in ENRICHMENT if f in w and g[f] != w[f]]
        if wrong:
            diffs.append(
                f"campaign_metrics_1m {key}: " + ", ".join(f"{f} {g[f]} != {w[f]}" for f in wrong)
            )

    # dq_metrics: the per-source totals over all minutes.
    totals: dict[str, Counter] = {}
    for row in outputs["dq_metrics"]:
        t = totals.setdefault(row["source"], Counter())
        for f in ("received", "valid", "duplicates", "late", "unattributed"):
            t[f] += row[f]
        for reason, n in (row["invalid_by_reason"] or {}).items():
            t["invalid:" + reason] += n
    for source, summary in truth["sources"].items():
        want_total = Counter(
            {
                f: summary[f]
                for f in ("received", "valid", "duplicates", "late", "unattributed")
                if f in summary
            }
        )
        for reason, n in summary["invalid"].items():
            want_total["invalid:" + reason] = n
        want_total.update((dq_extra or {}).get(source, {}))
        got_total = totals.get(source, Counter())
        for f in sorted(
            set(want_total) | {k for k in got_total if k in want_total or k.startswith("invalid:")}
        ):
            if got_total[f] != want_total[f]:
                diffs.append(f"dq_metrics {source} {f}: {got_total[f]} != {want_total[f]}")
    return diffs


def outputs_once_equal(
    bootstrap: str, prefix: str, truth: dict, timeout: float, dq_extra: dict = CLOSERS_DQ
) -> dict:
    """A streaming run's outputs (closers left out) as soon as they equal the truth, or as
    they are at the deadline: the test's own comparison then says what differs."""
    deadline = time.monotonic() + timeout
    while True:
        outputs = without_closers(read_outputs(read_to_end, bootstrap, prefix))
        if not compare(outputs, truth, dq_extra=dq_extra) or time.monotonic() > deadline:
            return outputs
        time.sleep(3)
