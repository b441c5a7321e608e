"""The Java port of the contract (flink_jobs/java, io.advertisex.contract) against the Python
reference (advertisex/contract): the same event time, reason and standardized record for
every message of a million-message fuzz corpus (tests/fuzz_messages.py), and for
hand-written examples of each reason and timestamp form.

The jar is built into the cache by advertisex.stack.jars; java and mvn are all it needs. The
Java side is io.advertisex.contract.Harness: `source<TAB>base64(payload)` lines in, one JSON
line `{"event_time_ms", "reason", "record"}` out per message, in order.
"""

from __future__ import annotations

import base64
import json
import math
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator

import pytest
from fuzz_messages import (  # tests/fuzz_messages.py
    SOURCES,
    Message,
    avro_datum,
    csv_row,
    decoded,
    messages,
    simulated,
)

from advertisex.contract.bid_requests import decode_bid_request, encode_bid_request
from advertisex.contract.clicks_csv import decode_click_row, encode_click_row
from advertisex.contract.errors import ContractError
from advertisex.contract.event_time import check, event_time_ms
from advertisex.contract.impressions import encode_impression
from advertisex.contract.timestamps import MAX_EPOCH_MS
from advertisex.stack.jars import functions_jar
from advertisex.stack.tools import java_binary

CORPUS = 1_000_000
PER_SOURCE = {"impressions": 333_334, "clicks_conversions": 333_333, "bid_requests": 333_333}

# Every reason the rules can give a message of each source. Not reachable, so not listed:
# bad_type of CSV columns (all text) and of Avro fields (typed), bad_enum:auction_type, an
# out-of-range bad_number:bid_floor_micros and missing_field:event_time of a bid request (an
# Avro enum, a long, a long), bad_country of clicks and conversions (no such column).
REASONS = {
    "impressions": {
        "malformed_json",
        *(
            f"missing_field:{f}"
            for f in ("impression_id", "event_time", "user_id", "creative_id")
            + ("campaign_id", "website")
        ),
        *(
            f"bad_type:{f}"
            for f in ("impression_id", "user_id", "creative_id", "campaign_id", "website")
            + ("bid_request_id", "user_agent", "device_type")
        ),
        "bad_timestamp",
        "bad_host:website",
        "bad_number:cost_micros",
        "negative_value:cost_micros",
        "bad_country",
        "bad_currency",
    },
    "clicks_conversions": {
        "malformed_csv",
        *(
            f"missing_field:{f}"
            for f in ("event_id", "event_time", "event_type", "user_id", "campaign_id")
            + ("impression_id", "conversion_type")
        ),
        "bad_timestamp",
        "bad_enum:event_type",
        "bad_enum:conversion_type",
        "bad_number:conversion_value",
        "negative_value:conversion_value",
        "bad_currency",
    },
    "bid_requests": {
        "malformed_avro",
        *(f"missing_field:{f}" for f in ("request_id", "exchange", "currency", "site.domain")),
        "bad_timestamp",
        "bad_host:site.domain",
        *(
            f"negative_value:{f}"
            for f in ("bid_floor_micros", "outcome.bid_price_micros")
            + ("outcome.clearing_price_micros",)
        ),
        "bad_country",
        "bad_currency",
    },
}


def reference(source: str, payload: bytes) -> dict:
    """What the Harness must print for a message, by the Python reference."""
    try:
        record, reason = check(source, payload), None
    except ContractError as exc:
        record, reason = None, exc.reason
    return {"event_time_ms": event_time_ms(source, payload), "reason": reason, "record": record}


def same(a: object, b: object) -> bool:
    """Equal and of the same JSON type: 1 is not 1.0 nor True, floats equal to the bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def harness(jar, batch: Iterable[Message]) -> Iterator[tuple[Message, dict | str]]:
    """(message, the Harness's answer) for each message, streamed through one Java process:
    a thread writes, this generator reads, and only a window of messages is held."""
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [java_binary(), "-cp", str(jar), "io.advertisex.contract.Harness"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        # Far more messages than the Harness's 64 KiB output buffer holds lines, so the
        # writer never waits on a reader that waits on output still in that buffer.
        sent: queue.Queue[Message | None] = queue.Queue(maxsize=20_000)
        failed: list[BaseException] = []  # what stopped the writer, re-raised by the reader

        def feed() -> None:
            try:
                for message in batch:
                    sent.put(message)
                    proc.stdin.write(
                        message.source.encode() + b"\t" + base64.b64encode(message.payload) + b"\n"
                    )
            except BrokenPipeError:
                pass  # the Harness died: the reader reports it with its stderr
            except BaseException as exc:
                failed.append(exc)
            finally:
                sent.put(None)
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        finished = False
        try:
            for message in iter(sent.get, None):
                line = proc.stdout.readline()
                if not line:
                    stderr.seek(0)
                    tail = stderr.read().decode(errors="replace")[-3000:]
                    raise AssertionError(f"the Harness stopped answering:\n{tail}")
                try:
                    answer = json.loads(line)
                except ValueError:  # not JSON: a mismatch that shows the line as it came
                    answer = line.decode(errors="replace")
                yield message, answer
            if failed:
                raise failed[0]
            finished = True
        finally:
            if not finished:  # stopped early: end the Harness, let the writer run into it
                proc.kill()
                while writer.is_alive():
                    try:
                        sent.get(timeout=0.1)
                    except queue.Empty:
                        pass
            proc.stdout.close()
            code = proc.wait(timeout=60)
            writer.join()
        if code != 0:
            stderr.seek(0)
            raise AssertionError(f"the Harness failed: {stderr.read().decode()[-3000:]}")


class Comparison:
    """Counts, reasons and the first mismatches of a run."""

    SHOWN = 20

    def __init__(self):
        self.compared: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
        self.mismatches = 0
        self.examples: list[str] = []
        self.python_errors: Counter[tuple[str, str, str]] = Counter()

    def add(self, message: Message, java: dict | str) -> None:
        self.compared[message.source] += 1
        try:
            python = reference(message.source, message.payload)
        except Exception as exc:  # the reference itself broke: report, never compare
            self.python_errors[(message.source, message.kind, type(exc).__name__)] += 1
            return
        self.reasons[message.source][python["reason"] or "valid"] += 1
        if not same(python, java):
            self.mismatches += 1
            if len(self.examples) < self.SHOWN:
                self.examples.append(
                    f"{message.source} ({message.kind}) "
                    f"{base64.b64encode(message.payload).decode()}\n"
                    f"  python: {python!r}\n  java:   {java!r}"
                )

    def report(self) -> str:
        lines = [f"{self.mismatches} mismatches; the first {len(self.examples)}:"]
        return "\n".join(lines + self.examples)

    def reasons_seen(self, source: str) -> set[str]:
        return set(self.reasons[source]) - {"valid"}


@pytest.fixture(scope="module")
def jar():
    return functions_jar()


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a million messages both ways: minutes, more on a busy machine
def test_java_and_python_agree_on_a_million_fuzzed_messages(jar, capsys):
    run, started = Comparison(), time.monotonic()

    def progress(final: bool = False) -> None:
        with capsys.disabled():  # a long test: show where it is even without -s
            counts = ", ".join(f"{s} {run.compared[s]:,}" for s in SOURCES)
            print(
                f"\n[java contract] {'done: ' if final else ''}"
                f"{sum(run.compared.values()):,} compared ({counts}), "
                f"{run.mismatches} mismatches, {time.monotonic() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            for source in SOURCES if final else ():
                reasons = sorted(run.reasons[source].items(), key=lambda kv: -kv[1])
                print(
                    f"  {source}: " + ", ".join(f"{r} {n:,}" for r, n in reasons), file=sys.stderr
                )

    for n, (message, java) in enumerate(harness(jar, messages(CORPUS)), start=1):
        run.add(message, java)
        if n % 100_000 == 0 and n < CORPUS:
            progress()
    progress(final=True)

    assert not run.python_errors, f"the Python reference raised: {dict(run.python_errors)}"
    assert run.mismatches == 0, run.report()
    assert dict(run.compared) == PER_SOURCE
    for source in SOURCES:
        assert run.reasons_seen(source) == REASONS[source], source


# --- hand-written examples ---------------------------------------------------------------

IMPRESSION = {
    "impression_id": " imp-1 ",
    "event_time": "2026-11-29T10:15:30.123Z",
    "user_id": "u-1",
    "creative_id": "cr-1",
    "campaign_id": "cmp-1",
    "website": "https://WWW.News.Example.com:443/a?b",
    "bid_request_id": "br-1",
    "cost_micros": 1500,
    "currency": "usd",
    "device_type": "Mobile",
    "country": "de",
    "user_agent": "UA",
}
CLICK = {
    "event_id": "clk-1",
    "event_time": "1795947330123",
    "event_type": "click",
    "user_id": "u-1",
    "campaign_id": "cmp-1",
    "impression_id": "imp-1",
}
CONVERSION = {
    **CLICK,
    "event_id": "cnv-1",
    "event_type": "conversion",
    "impression_id": "",
    "conversion_type": "purchase",
    "conversion_value": "12.50",
    "currency": "",
}
BID = {
    "request_id": "br-1",
    "event_time": 1_795_947_330_123,
    "exchange": "adx",
    "auction_type": "FIRST_PRICE",
    "bid_floor_micros": 900,
    "currency": "USD",
    "user": {"user_id": "u-1", "segments": ["s"], "age_range": None, "gender": None},
    "device": {
        "device_type": "ctv",
        "os": None,
        "user_agent": None,
        "ip": None,
        "country": "fr",
    },
    "site": {"domain": "www.news.example.com", "page_url": None, "categories": ["IAB1"]},
    "targeting": {"campaign_ids": [" cmp-1 ", " "], "keywords": []},
    "outcome": {
        "bid_price_micros": 1200,
        "won": True,
        "clearing_price_micros": 1000,
        "campaign_id": "cmp-1",
        "creative_id": "cr-1",
    },
}


def impression(**change) -> Message:
    record = {k: v for k, v in {**IMPRESSION, **change}.items() if v is not _DROP}
    return Message("impressions", encode_impression(record), "example")


def click(base: dict = CLICK, **change) -> Message:
    return Message("clicks_conversions", encode_click_row({**base, **change}).encode(), "example")


def bid(framing: str = "plain", parts: dict | None = None, **change) -> Message:
    """BID changed: top-level fields by keyword, nested ones by parts={"site": {...}}."""
    record = {**BID, **change}
    for part, fields in (parts or {}).items():
        record[part] = {**BID[part], **fields}
    return Message("bid_requests", encode_bid_request(record, framing), "example")


_DROP = object()

# (message, the reason the reference gives it)
REASON_EXAMPLES = [
    (Message("impressions", b'{"impression_id": ', "example"), "malformed_json"),
    *(
        (impression(**{f: _DROP}), f"missing_field:{f}")
        for f in ("impression_id", "event_time", "user_id", "creative_id", "campaign_id")
        + ("website",)
    ),
    *(
        (impression(**{f: 7}), f"bad_type:{f}")
        for f in ("impression_id", "user_id", "creative_id", "campaign_id", "website")
        + ("bid_request_id", "user_agent", "device_type")
    ),
    (impression(event_time="2026-11-29T10:15:30"), "bad_timestamp"),
    (impression(website="https://user@:8080/path"), "bad_host:website"),
    (impression(cost_micros="12k"), "bad_number:cost_micros"),
    (impression(cost_micros=-1), "negative_value:cost_micros"),
    (impression(country="USA"), "bad_country"),
    (impression(currency="EURO"), "bad_currency"),
    (impression(), None),
    (Message("clicks_conversions", b'clk-1,"unterminated', "example"), "malformed_csv"),
    *(
        (click(**{f: " "}), f"missing_field:{f}")
        for f in ("event_id", "event_time", "event_type", "user_id", "campaign_id")
        + ("impression_id",)
    ),
    (click(CONVERSION, conversion_type=""), "missing_field:conversion_type"),
    (click(event_time="29/11/2026 10:15"), "bad_timestamp"),
    (click(event_type="view"), "bad_enum:event_type"),
    (click(CONVERSION, conversion_type="refund"), "bad_enum:conversion_type"),
    (click(CONVERSION, conversion_value="1e3"), "bad_number:conversion_value"),
    (click(CONVERSION, conversion_value="-3.50"), "negative_value:conversion_value"),
    (click(CONVERSION, currency="EURO"), "bad_currency"),
    (click(), None),
    (click(CONVERSION), None),
    (Message("bid_requests", b"", "example"), "malformed_avro"),
    (bid("registry", request_id=""), "missing_field:request_id"),
    (bid(request_id=""), "missing_field:request_id"),  # a plain datum that starts with 0x00
    (bid(exchange=" "), "missing_field:exchange"),
    (bid(currency=""), "missing_field:currency"),
    (bid(parts={"site": {"domain": "\u3000"}}), "missing_field:site.domain"),
    (bid(event_time=-1), "bad_timestamp"),
    (bid(parts={"site": {"domain": "https://"}}), "bad_host:site.domain"),
    (bid(bid_floor_micros=-5), "negative_value:bid_floor_micros"),
    (
        bid(parts={"outcome": {"bid_price_micros": -1}}),
        "negative_value:outcome.bid_price_micros",
    ),
    (
        bid(parts={"outcome": {"clearing_price_micros": -1}}),
        "negative_value:outcome.clearing_price_micros",
    ),
    (bid(parts={"device": {"country": "Germany"}}), "bad_country"),
    (bid(currency="EURO"), "bad_currency"),
    (bid(), None),
    (bid("registry", parts={"outcome": {"won": False}}), None),
]

T = 1_795_947_330_000  # 2026-11-29T10:15:30Z
# (event_time as JSON, its epoch millis or None when it is not a timestamp)
TIMESTAMP_EXAMPLES = [
    ("2026-11-29T10:15:30Z", T),
    # 1 to 9 fraction digits: milliseconds are truncated, never rounded
    *(
        (f"2026-11-29T10:15:30.{'987654321'[:n]}Z", T + int("987654321"[:n].ljust(3, "0")[:3]))
        for n in range(1, 10)
    ),
    ("2026-11-29T11:15:30+01:00", T),
    ("2026-11-29T04:45:30.999-05:30", T + 999),
    ("2026-11-29T10:15:30+00:00", T),
    ("2026-11-29T10:15:30-00:00", T),
    ("2026-11-30T10:14:30+23:59", T),
    (T, T),
    (float(T), T),
    (-0.0, 0),
    (str(T), T),
    ("000" + str(T), T),
    (f"\u00a0 {T}\u3000", T),
    ("\u2003 2026-11-29T10:15:30Z \x85", T),
    (0, 0),
    ("1970-01-01T00:00:00Z", 0),
    (MAX_EPOCH_MS, MAX_EPOCH_MS),
    ("9999-12-31T23:59:59.999999999Z", MAX_EPOCH_MS),
    ("2024-02-29T00:00:00Z", 1_709_164_800_000),
    ("2026-11-29T10:15:30", None),
    ("2026-11-29T10:15:30.1234567890Z", None),
    ("2026-11-29T10:15:30+0100", None),
    ("2026-11-29 10:15:30Z", None),
    ("2026-11-29t10:15:30Z", None),
    ("2026-11-29T24:00:00Z", None),
    ("2026-11-29T23:59:60Z", None),
    ("2023-02-29T00:00:00Z", None),
    ("2026-11-29T10:15:30+24:00", None),
    ("1969-12-31T23:59:59.999Z", None),
    ("9999-12-31T23:59:59.999-00:01", None),
    (MAX_EPOCH_MS + 1, None),
    (str(MAX_EPOCH_MS + 1), None),
    (-1, None),
    ("-1", None),
    ("+1", None),
    (T + 0.5, None),
    (1e300, None),
    (True, None),
    ([T], None),
    ("１２３", None),
    ("yesterday", None),
]


def timestamp_examples() -> list[tuple[Message, int | None]]:
    examples = []
    for value, ms in TIMESTAMP_EXAMPLES:
        examples.append((impression(event_time=value), ms))
        if isinstance(value, str):
            examples.append((click(event_time=value), ms))
        elif isinstance(value, int) and not isinstance(value, bool) and value <= 2**63 - 1:
            examples.append((bid("registry", event_time=value), ms))
    return examples


def test_each_reason_and_each_timestamp_form_round_trips(jar):
    covered = {s: {r for m, r in REASON_EXAMPLES if r and m.source == s} for s in SOURCES}
    assert covered == REASONS
    examples = [(m, {"reason": reason}) for m, reason in REASON_EXAMPLES] + [
        (m, {"event_time_ms": ms, "reason": None if ms is not None else "bad_timestamp"})
        for m, ms in timestamp_examples()
    ]
    wrong, mismatched = [], []
    answers = harness(jar, [m for m, _ in examples])
    for (message, expected), (_, java) in zip(examples, answers, strict=True):
        python = reference(message.source, message.payload)
        if {k: python[k] for k in expected} != expected:
            wrong.append(f"{message.payload!r}: expected {expected}, python {python}")
        if not same(python, java):
            mismatched.append(f"{message.payload!r}:\n  python {python}\n  java   {java}")
    assert not wrong, "the examples do not say what the reference does:\n" + "\n".join(wrong)
    assert not mismatched, "\n".join(mismatched)


def test_a_standardized_record_is_compared_whole():
    python = reference(*impression()[:2])
    assert python["record"] == {
        "impression_id": "imp-1",
        "event_time_ms": T + 123,
        "user_id": "u-1",
        "creative_id": "cr-1",
        "campaign_id": "cmp-1",
        "website": "news.example.com",
        "bid_request_id": "br-1",
        "cost_micros": 1500,
        "currency": "USD",
        "device_type": "mobile",
        "country": "DE",
        "user_agent": "UA",
    }
    assert same({"a": [1, "x", None, 0.5]}, {"a": [1, "x", None, 0.5]})
    assert not same(1, 1.0) and not same(1, True) and not same(0.0, -0.0)
    assert not same({"a": None}, {}) and not same([1], [1, 2])


# --- the corpus itself (Python only) -----------------------------------------------------


def test_the_corpus_is_the_same_every_time_and_every_reason_comes_early():
    first = list(messages(30_000))
    assert [m.payload for m in messages(3_000)] == [m.payload for m in first[:3_000]]
    assert Counter(m.source for m in first) == dict.fromkeys(SOURCES, 10_000)
    seen = {source: set() for source in SOURCES}
    for message in first:
        reason = reference(message.source, message.payload)["reason"]
        if reason:
            seen[message.source].add(reason)
    assert seen == REASONS


def test_the_corpus_writers_write_what_the_contract_encoders_write():
    payloads = simulated(3)
    bids = decoded(payloads["bid_requests"][:2_000], decode_bid_request)
    assert len(bids) > 1_900
    assert [avro_datum(r) for r in bids] == [encode_bid_request(r) for r in bids]
    rows = decoded(payloads["clicks_conversions"], decode_click_row)
    assert len(rows) > 500
    assert [csv_row(r) for r in rows] == [encode_click_row(r) for r in rows]
