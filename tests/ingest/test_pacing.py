"""Paced sending: each message at its simulated arrival, scaled by the speed."""

import pytest

from advertisex.ingest.pacing import paced
from advertisex.ingest.simulator import Emitted


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def message(arrival_ms: int) -> Emitted:
    return Emitted("impressions", f"id-{arrival_ms}", b"{}", arrival_ms, arrival_ms)


def test_messages_go_out_when_due_at_the_speed_given():
    clock = FakeClock()
    sent = []
    for m in paced(
        [message(0), message(500), message(500), message(3_000)], 0, 2.0, clock, clock.sleep
    ):
        sent.append((m.arrival_ms, clock.now))
    assert sent == [(0, 100.0), (500, 100.25), (500, 100.25), (3_000, 101.5)]
    assert clock.sleeps == [0.25, 1.25]


def test_a_slow_sender_does_not_sleep_to_catch_up():
    clock = FakeClock()
    out = []
    for m in paced([message(0), message(100)], 0, 1.0, clock, clock.sleep):
        clock.now += 1.0  # sending took a second
        out.append(m.arrival_ms)
    assert out == [0, 100] and clock.sleeps == []


def test_speed_must_be_positive():
    with pytest.raises(ValueError, match="speed must be positive"):
        list(paced([message(0)], 0, 0))
