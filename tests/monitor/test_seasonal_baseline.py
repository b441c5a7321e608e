"""SeasonalBaseline: the same phase of earlier seasons as the expectation, a plain
OnlineNormal model until two seasons are seen. Series are generated from fixed seeds."""

import math
import random

import pytest

from advertisex.monitor.detectors import OnlineNormal, SeasonalBaseline, window_index

SEASON = 48  # a "day" of 48 windows
TROUGH = 36  # the phase where the daily curve is lowest (200)


def daily(phase: int) -> float:
    """500 +- 300 over a day: 800 at phase 12, 200 at phase 36."""
    return 500 + 300 * math.sin(2 * math.pi * phase / SEASON)


def day_series(seed: int, days: int, noise: float = 10.0) -> list[int]:
    rng = random.Random(seed)
    return [round(rng.gauss(daily(i % SEASON), noise)) for i in range(days * SEASON)]


def run(detector, values):
    return [detector.update(v, i) for i, v in enumerate(values)]


def events(verdicts):
    return [(v.at, v.state) for v in verdicts if v.changed]


def test_exact_expectation_and_anomalies_kept_out_of_the_history():
    profile = [100, 200, 300, 200]
    d = SeasonalBaseline(4, warmup=3)
    early = run(d, profile * 2)  # two seasons: the plain model judges
    assert "no seasonal baseline yet (0 of 2 seasons)" in early[0].reason
    assert "no seasonal baseline yet (1 of 2 seasons)" in early[4].reason
    for at in (8, 9, 10):  # the residual's warm-up (3 windows)
        assert not d.seasonal
        assert "learning the seasonal residual" in d.update(profile[at % 4], at).reason
    assert d.seasonal  # from the next window on
    v = d.update(200, 11)
    # residual deviation 0: sigma is the floor, 5 % of the expectation 200
    assert (v.judged, v.anomalous, v.expected, v.low, v.high) == (True, False, 200, 170, 230)
    v = d.update(80, 12)
    assert (v.expected, v.low, v.high) == (100, 85, 115)
    assert (v.anomalous, v.direction) == (True, "drop")
    assert v.reason == "value 80, expected 100 ± 15: a drop, 1 window(s) in a row"
    # 80 went into the history as its expectation: the next day still expects 100 there
    assert d.baseline(16) == 100
    assert not d.update(200, 13).anomalous
    assert d.baseline(17) == 200


def test_a_dip_at_the_trough_is_caught_by_the_seasonal_model_and_missed_by_a_plain_one():
    series = day_series(seed=11, days=10)
    dip = [5 * SEASON + TROUGH + i for i in (-1, 0, 1)]  # 275, 276, 277
    dipped = list(series)
    for i in dip:
        dipped[i] -= 80  # 200 -> 120 at the quietest time of day
    seasonal = run(SeasonalBaseline(SEASON), dipped)
    assert events(seasonal) == [(276, "firing"), (279, "resolved")]
    assert seasonal[275].expected == pytest.approx(daily(TROUGH - 1), abs=15)
    assert seasonal[275].high - seasonal[275].low < 100
    # the plain detector's band must hold the whole daily swing: the dip is inside it
    plain = run(OnlineNormal(), dipped)
    assert not any(v.firing for v in plain)
    assert plain[276].low < dipped[276] < plain[276].high
    assert plain[276].high - plain[276].low > 300


def test_a_normal_daily_curve_never_alerts():
    for seed in range(3):
        verdicts = run(SeasonalBaseline(SEASON), day_series(seed, days=10))
        assert not any(v.firing for v in verdicts)
        # judged by the plain model from the 11th window, by the seasonal one from the
        # third day's 11th window (10 windows of residual warm-up)
        assert [v.judged for v in verdicts[:11]] == [False] * 10 + [True]
        assert "no seasonal baseline yet" in verdicts[2 * SEASON - 1].reason
        assert "learning the seasonal residual" in verdicts[2 * SEASON + 9].reason
        assert "(" not in verdicts[2 * SEASON + 10].reason


def test_without_fallback_nothing_is_judged_before_two_seasons_and_the_warmup():
    verdicts = run(SeasonalBaseline(SEASON, fallback=False), day_series(1, days=4))
    first = next(v.at for v in verdicts if v.judged)
    assert first == 2 * SEASON + 10


def test_more_seasons_need_more_history():
    d = SeasonalBaseline(SEASON, seasons=3, fallback=False)
    run(d, day_series(2, days=3))
    assert d.baseline(3 * SEASON) is not None
    assert d.baseline(3 * SEASON) == pytest.approx(daily(0), abs=15)
    with pytest.raises(ValueError, match="seasons"):
        SeasonalBaseline(SEASON, seasons=1)


def test_a_lasting_level_shift_is_relearnt_at_every_phase():
    start = 5 * SEASON + 10
    series = [v + (300 if i >= start else 0) for i, v in enumerate(day_series(3, days=12))]
    d = SeasonalBaseline(SEASON)
    verdicts = run(d, series)
    assert events(verdicts) == [(start + 1, "firing"), (start + 29, "resolved")]
    assert verdicts[start + 29].relearned
    # the history moved up by the shift, at the phases seen during the alert and the others
    for phase in (start % SEASON, (start + 20) % SEASON, (start - 5) % SEASON):
        assert d.baseline(12 * SEASON + phase) == pytest.approx(daily(phase) + 300, abs=15)
    assert d.residual.mean == pytest.approx(0, abs=10)


def test_windows_must_come_in_order_as_integer_indexes():
    d = SeasonalBaseline(SEASON)
    d.update(1, window_index(1_700_000_040_000))
    with pytest.raises(ValueError, match="in order"):
        d.update(1, window_index(1_700_000_040_000))
    with pytest.raises(TypeError, match="integer window index"):
        d.update(1, 1.7e12)
    assert window_index(1_700_000_040_000) == 28_333_334
    assert window_index(10_000, window_ms=5_000) == 2
