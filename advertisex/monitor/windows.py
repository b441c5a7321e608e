"""dq_metrics rows to closed windows: the latest row per (source, window), in order, once
the window can no longer change, with empty windows filled in.

The pipeline writes dq_metrics as upserts (one key per source and arrival window, updated as
records arrive), so a window is judged only after its end plus a grace period: by then the
job has counted every record that arrived in it and its sink has flushed. A source with no
record at all in a window has no row; a window with nothing is still a window (its count
is 0: that is what a silent source looks like), so every window between a source's first
row and now is produced.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

SOURCES = ("impressions", "clicks_conversions", "bid_requests")


@dataclass(frozen=True)
class DqWindow:
    """One source's data-quality counts over one arrival window."""

    source: str
    start_ms: int
    end_ms: int
    received: int = 0
    valid: int = 0
    invalid: int = 0
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    late: int = 0
    unattributed: int = 0
    delay_p50_ms: float | None = None
    delay_max_ms: int | None = None
    filled: bool = False  # no row: nothing arrived in the window

    @classmethod
    def from_row(cls, row: dict) -> DqWindow:
        return cls(
            source=row["source"],
            start_ms=int(row["window_start_ms"]),
            end_ms=int(row["window_end_ms"]),
            received=int(row["received"]),
            valid=int(row["valid"]),
            invalid=int(row["invalid"]),
            invalid_by_reason={k: int(v) for k, v in (row.get("invalid_by_reason") or {}).items()},
            duplicates=int(row["duplicates"]),
            late=int(row["late"]),
            unattributed=int(row["unattributed"]),
            delay_p50_ms=row.get("event_time_delay_p50_ms"),
            delay_max_ms=row.get("event_time_delay_max_ms"),
        )


class WindowCloser:
    """Feed rows as they come (`add`), then ask for the windows that closed (`closed`)."""

    def __init__(self, window_ms: int, grace_ms: int, sources: Iterable[str] = SOURCES):
        if window_ms <= 0 or grace_ms < 0:
            raise ValueError("the window must be positive and the grace not negative")
        self.window_ms = window_ms
        self.grace_ms = grace_ms
        self.sources = tuple(sources)
        self._open: dict[tuple[str, int], DqWindow] = {}
        self._next: dict[str, int] = {}  # per source: the start of the next window to close
        self.late_rows = 0  # rows for windows already closed (a sink flushing very late)

    def add(self, row: dict) -> None:
        window = DqWindow.from_row(row)
        if window.end_ms - window.start_ms != self.window_ms:
            raise ValueError(
                f"dq_metrics window {window.start_ms}..{window.end_ms} is not "
                f"{self.window_ms} ms long: run the monitor with the job's --dq-window-s"
            )
        if window.start_ms < self._next.get(window.source, window.start_ms):
            self.late_rows += 1
            return
        self._open[(window.source, window.start_ms)] = window  # the latest row wins
        self._next.setdefault(window.source, window.start_ms)

    def closed(self, now_ms: int) -> Iterator[DqWindow]:
        """Every window of every started source that ended grace ago, oldest first."""
        for source in self.sources:
            start = self._next.get(source)
            if start is None:
                continue  # never seen: no baseline, nothing to say yet
            while start + self.window_ms + self.grace_ms <= now_ms:
                found = self._open.pop((source, start), None)
                yield found or DqWindow(source, start, start + self.window_ms, filled=True)
                start += self.window_ms
            self._next[source] = start
