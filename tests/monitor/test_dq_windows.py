"""dq_metrics upserts become closed windows: latest row wins, gaps become empty windows."""

import pytest

from advertisex.monitor.windows import DqWindow, WindowCloser

W = 5_000


def row(source: str, start: int, received: int, **extra) -> dict:
    return {
        "source": source,
        "window_start_ms": start,
        "window_end_ms": start + W,
        "received": received,
        "valid": extra.get("valid", received),
        "invalid": extra.get("invalid", 0),
        "invalid_by_reason": extra.get("invalid_by_reason", {}),
        "duplicates": 0,
        "late": 0,
        "unattributed": 0,
        "event_time_delay_p50_ms": 120.0,
        "event_time_delay_max_ms": 900,
    }


def test_a_window_closes_after_its_grace_with_its_latest_row():
    closer = WindowCloser(W, grace_ms=2_000, sources=["impressions"])
    closer.add(row("impressions", 10_000, 40))
    closer.add(row("impressions", 10_000, 55))  # the upsert of the same window
    assert list(closer.closed(now_ms=16_999)) == []
    [window] = closer.closed(now_ms=17_000)
    assert (window.start_ms, window.received, window.filled) == (10_000, 55, False)
    assert window.delay_p50_ms == 120.0


def test_windows_without_a_row_are_empty_windows():
    closer = WindowCloser(W, grace_ms=0, sources=["impressions", "bid_requests"])
    closer.add(row("impressions", 0, 10))
    closer.add(row("impressions", 15_000, 12))
    windows = list(closer.closed(now_ms=20_000))
    assert [(w.start_ms, w.received, w.filled) for w in windows] == [
        (0, 10, False),
        (5_000, 0, True),
        (10_000, 0, True),
        (15_000, 12, False),
    ]
    assert all(w.source == "impressions" for w in windows)  # bid_requests never started


def test_a_row_for_a_closed_window_is_counted_not_used():
    closer = WindowCloser(W, grace_ms=0, sources=["impressions"])
    closer.add(row("impressions", 0, 10))
    list(closer.closed(now_ms=5_000))
    closer.add(row("impressions", 0, 11))
    assert closer.late_rows == 1
    assert list(closer.closed(now_ms=5_000)) == []


def test_a_window_of_another_length_says_how_to_fix_it():
    closer = WindowCloser(60_000, grace_ms=0)
    with pytest.raises(ValueError, match="run the monitor with the job's --dq-window-s"):
        closer.add(row("impressions", 0, 1))


def test_reasons_are_read():
    window = DqWindow.from_row(
        row("clicks_conversions", 0, 9, invalid=2, invalid_by_reason={"bad_csv": 2})
    )
    assert window.invalid_by_reason == {"bad_csv": 2}
