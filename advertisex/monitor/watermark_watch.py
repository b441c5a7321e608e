"""The job's watermark lag against a threshold, with the monitor's hysteresis.

`observe(lag_s, now_ms)` takes one reading of the lag (wall clock minus the Flink job's
event-time watermark, advertisex/monitor/watermarks.py) and returns the `WatermarkLag`
finding while the alert fires, [] otherwise:

- A reading is over when the lag is more than `watermark_lag_max_s` (300 s); the alert
  fires on the `fire_after`-th reading over in a row and resolves on the
  `resolve_after`-th reading within it in a row (the detectors' Hysteresis, as every
  other alert), so one slow reading pages no one and a lag hovering at the threshold does
  not flap.
- None (no watermark yet, no running job, or the REST API not answering) is not judged:
  the state is held and neither run is broken, as with a window that is not judged. A
  firing alert stays firing with what was last read.

A negative lag (event time ahead of the clock, simulations) is within the threshold.
"""

from __future__ import annotations

from advertisex.monitor.detectors import ValueThreshold
from advertisex.monitor.settings import MonitorSettings
from advertisex.monitor.source_watch import Finding

ALERTNAME = "WatermarkLag"
SOURCE = "job"


class WatermarkWatch:
    def __init__(self, settings: MonitorSettings):
        self.settings = settings
        self.detector = ValueThreshold(
            settings.watermark_lag_max_s,
            name="watermark lag",
            unit="s",
            fire_after=settings.fire_after,
            resolve_after=settings.resolve_after,
        )
        self.last_lag_s: float | None = None  # the latest lag read (None: none yet)
        self.last_read_ms: int | None = None

    @property
    def firing(self) -> bool:
        return self.detector.firing

    def observe(self, lag_s: float | None, now_ms: int) -> list[Finding]:
        """Judge one reading of the lag (None: nothing read); what fires after it."""
        self.detector.update(lag_s, now_ms)
        if lag_s is not None:
            self.last_lag_s = float(lag_s)
            self.last_read_ms = now_ms
        if not self.detector.firing:
            return []
        return [Finding(ALERTNAME, SOURCE, self._summary(lag_s, now_ms))]

    def _summary(self, lag_s: float | None, now_ms: int) -> str:
        limit = self.settings.watermark_lag_max_s
        if lag_s is not None:
            return (
                f"the job's event-time watermark is {lag_s:.0f} s behind the clock, "
                f"over {limit:g} s"
            )
        ago = (now_ms - self.last_read_ms) / 1000
        return (
            f"no watermark read; {self.last_lag_s:.0f} s behind the clock {ago:.0f} s ago, "
            f"over {limit:g} s"
        )
