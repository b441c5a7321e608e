"""One step of watching a pipeline: read what arrived, read the watermark when due, judge.

`advertisex monitor`, the operator's data-quality timer and the stack tests all run this
step; they differ only in what they do with its result (print, post Events, log). Nothing is
judged until both readers have read what their topics held when they started
(`DqReader.caught_up`): the clock would close windows whose rows are still unread, and take
them for silence.
"""

from __future__ import annotations

from dataclasses import dataclass

from advertisex.alerting.alert import Alert
from advertisex.monitor.dq_reader import DqReader, DqTopicUnavailable
from advertisex.monitor.monitor import Monitor
from advertisex.monitor.watermarks import WatermarkReader, WatermarkReading


@dataclass(frozen=True)
class Step:
    transitions: list[Alert]  # alerts that started firing or resolved in this step
    judged: bool  # False while the readers are still reading the history
    watermark: WatermarkReading | None = None  # read in this step (None: not due, or off)
    unreadable: str | None = None  # why a topic could not be read (judged on what was)


@dataclass
class MonitorLoop:
    monitor: Monitor
    metrics: DqReader  # dq_metrics
    campaigns: DqReader  # campaign_metrics_1m
    watermarks: WatermarkReader | None = None
    poll_ms: int = 100  # each reader's poll waits at most this long for rows

    def step(self, now_ms: int) -> Step:
        unreadable = None
        try:
            for row in self.metrics.poll(self.poll_ms):
                self.monitor.add_row(row)
            for row in self.campaigns.poll(self.poll_ms):
                self.monitor.add_campaign_row(row)
        except DqTopicUnavailable as exc:  # read again at the next step
            unreadable = str(exc)
        reading = None
        if self.watermarks is not None and self.monitor.watermark_due(now_ms):
            reading = self.watermarks.read(now_ms)
            self.monitor.observe_watermark_lag(reading.lag_s, now_ms)
        if not (self.metrics.caught_up and self.campaigns.caught_up):
            return Step([], False, reading, unreadable)
        return Step(self.monitor.tick(now_ms), True, reading, unreadable)

    def close(self) -> None:
        self.metrics.close()
        self.campaigns.close()
        if self.watermarks is not None:
            self.watermarks.rest.close()
