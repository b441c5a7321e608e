"""MessageClock: every raw message is stamped with its record's event time."""

import pytest

from advertisex.contract.bid_requests import encode_bid_request
from advertisex.contract.clicks_csv import encode_click_row
from advertisex.contract.impressions import encode_impression
from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.message_clock import MessageClock
from advertisex.ingest.replay import folder_messages
from advertisex.ingest.simulator import Emitted, Simulator
from advertisex.ingest.sinks import FileSink

T = 1_795_947_330_123  # 2026-11-29T10:15:30.123Z
FORMS = [T, "2026-11-29T10:15:30.123Z", "2026-11-29T11:15:30.123+01:00", str(T)]


def impression(event_time, **change) -> bytes:
    record = {
        "impression_id": "imp-1",
        "event_time": event_time,
        "user_id": "u",
        "creative_id": "cr",
        "campaign_id": "c",
        "website": "example.com",
    }
    return encode_impression(record | change)


def click(event_time, **change) -> bytes:
    record = {
        "event_id": "clk-1",
        "event_time": event_time,
        "event_type": "click",
        "user_id": "u",
        "campaign_id": "c",
        "impression_id": "imp-1",
    }
    return encode_click_row(record | change).encode()


def bid_request(framing: str) -> bytes:
    record = {
        "request_id": "br-1",
        "event_time": T,
        "exchange": "x",
        "auction_type": "FIRST_PRICE",
        "bid_floor_micros": 0,
        "currency": "USD",
        "user": {},
        "device": {},
        "site": {"domain": "d"},
        "targeting": {},
    }
    return encode_bid_request(record, framing=framing)


def message(source: str, payload: bytes, event_ms: int = 0) -> Emitted:
    return Emitted(source, "", payload, event_ms, 0)


@pytest.mark.parametrize("form", FORMS)
def test_every_timestamp_form_of_json_and_csv(form):
    clock = MessageClock()
    assert clock.stamp(message("impressions", impression(form))) == T
    assert clock.stamp(message("clicks_conversions", click(form))) == T


@pytest.mark.parametrize("framing", ["plain", "registry"])
def test_avro_in_both_framings(framing):
    assert MessageClock().stamp(message("bid_requests", bid_request(framing))) == T


def test_the_simulators_event_time_comes_first():
    # The simulator knows the event time even of a record whose timestamp is broken.
    broken = message("impressions", impression("yesterday"), event_ms=T - 5)
    assert MessageClock().stamp(broken) == T - 5


def test_a_record_broken_elsewhere_keeps_its_own_event_time():
    clock = MessageClock()
    assert clock.stamp(message("impressions", impression(T, cost_micros=-1))) == T
    assert clock.stamp(message("clicks_conversions", click(T + 1, event_type="view"))) == T + 1


def test_unreadable_records_get_the_last_stamp_of_their_source():
    clock = MessageClock()
    truncated = message("impressions", impression(T)[:20])
    assert clock.stamp(truncated) == 0  # nothing seen from the source yet
    assert clock.stamp(message("impressions", impression(T + 7))) == T + 7
    assert clock.stamp(truncated) == T + 7
    assert clock.stamp(message("impressions", impression("29/11/2026 10:15"))) == T + 7
    # Per source: the clicks have no stamp yet, the bid requests theirs.
    assert clock.stamp(message("clicks_conversions", b'"unterminated,')) == 0
    assert clock.stamp(message("bid_requests", bid_request("plain"))) == T
    assert clock.stamp(message("bid_requests", b"\x02")) == T
    assert clock.stamp(message("impressions", b"")) == T + 7


def test_a_replayed_folder_is_stamped_as_the_simulator_sent_it(tmp_path):
    sim = Simulator(
        SimulationConfig(
            start_ms=T // 60_000 * 60_000,
            seed=2,
            duration_s=30,
            bid_rate=40,
            anomalies=Anomalies(malformed=0.1, duplicates=0.05, late=0.05, out_of_order=0.1),
        )
    )
    sink = FileSink(tmp_path)
    sent = []
    for m in sim.events():
        sink.write(m)
        sent.append(m)
    sink.close()
    replayed = list(folder_messages(tmp_path))
    clock = MessageClock()
    stamps = [clock.stamp(m) for m in replayed]
    # Files keep each source's order; every record with a readable event time gets it.
    for source in ("impressions", "clicks_conversions", "bid_requests"):
        original = [m for m in sent if m.source == source]
        again = [s for m, s in zip(replayed, stamps, strict=True) if m.source == source]
        assert len(again) == len(original)
        valid = [(o.event_ms, s) for o, s in zip(original, again, strict=True) if not o.malformed]
        assert valid and all(event_ms == s for event_ms, s in valid)
