"""MonitorLoop's step with scripted readers (the real ones are in test_dq_reader and the
stack tests): what it reads, when it reads the watermark, and that it judges nothing until
both readers have read their history."""

from advertisex.monitor.dq_reader import DqTopicUnavailable
from advertisex.monitor.monitor import Monitor
from advertisex.monitor.monitor_loop import MonitorLoop
from advertisex.monitor.settings import MonitorSettings
from advertisex.monitor.watermarks import WatermarkReading

SETTINGS = MonitorSettings(window_s=10, grace_s=2, watermark_poll_s=15)
W = 10_000


def row(source: str, start: int, received: int) -> dict:
    """A clean dq_metrics row of one window."""
    return {
        "source": source,
        "window_start_ms": start,
        "window_end_ms": start + W,
        "received": received,
        "valid": received,
        "invalid": 0,
        "invalid_by_reason": {},
        "duplicates": 0,
        "late": 0,
        "unattributed": 0,
        "event_time_delay_p50_ms": 800.0,
        "event_time_delay_max_ms": 2400,
    }


class ScriptedReader:
    """poll() gives the next batch; caught_up once the script is read."""

    def __init__(self, batches, failing=False):
        self.batches, self.failing = list(batches), failing
        self.caught_up = False

    def poll(self, timeout_ms):
        if self.failing:
            raise DqTopicUnavailable("topic t.dq_metrics does not exist")
        batch = self.batches.pop(0) if self.batches else []
        self.caught_up = not self.batches
        return iter(batch)


class CountingWatermarks:
    def __init__(self):
        self.reads = []

    def read(self, now_ms):
        self.reads.append(now_ms)
        return WatermarkReading("job", now_ms - 2_000, now_ms)


def test_nothing_is_judged_until_both_readers_have_read_their_history():
    # Two windows of history, then silence: judged early, the second window's rows unread
    # would be a silent window.
    history = [[row("impressions", 0, 500)], [row("impressions", W, 500)]]
    metrics, campaigns = ScriptedReader(history), ScriptedReader([[], []])
    loop = MonitorLoop(Monitor(SETTINGS, {"pipeline": "t."}, ("impressions",)), metrics, campaigns)
    first = loop.step(3 * W)
    assert (first.judged, first.transitions) == (False, [])
    assert loop.monitor.last_window == {}  # no window closed by the first step
    second = loop.step(3 * W)
    assert second.judged is True
    assert loop.monitor.last_window["impressions"].received == 500
    assert loop.monitor.last_window["impressions"].start_ms == W


def test_the_watermark_is_read_when_due_only():
    watermarks = CountingWatermarks()
    loop = MonitorLoop(
        Monitor(SETTINGS, {"pipeline": "t."}, ("impressions",)),
        ScriptedReader([]),
        ScriptedReader([]),
        watermarks,
    )
    steps = [loop.step(ms) for ms in (0, 5_000, 14_999, 15_000, 20_000)]
    assert watermarks.reads == [0, 15_000]
    assert [s.watermark is not None for s in steps] == [True, False, False, True, False]
    assert loop.monitor.watermark_findings == []  # a lag of 2 s


def test_an_unreadable_topic_is_said_and_the_step_goes_on():
    loop = MonitorLoop(
        Monitor(SETTINGS, {"pipeline": "t."}, ("impressions",)),
        ScriptedReader([], failing=True),
        ScriptedReader([]),
    )
    step = loop.step(W)
    assert step.unreadable == "topic t.dq_metrics does not exist"
    assert step.judged is False
