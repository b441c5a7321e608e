"""Detectors over per-window series: each window's value in, a `Verdict` out.

They are pure: no I/O and no clock. The caller passes each window's value and its
position `at` (a window index or a time; only `SeasonalBaseline` computes with it), in
window order, once per window, after the window is final (`dq_metrics` is an upsert
output whose row for a window can still change while the window is open). Every detector
keeps its state in plain attributes that can be inspected (`firing`, `hysteresis`,
`model.mean`, ...).

Rules
=====

Hysteresis (every detector). A window is judged anomalous, judged normal, or not judged
(warm-up, too few records, no value). A detector starts firing on the `fire_after`-th
anomalous judged window in a row (default 2), so one odd point never fires, and stops
firing (resolves) on the `resolve_after`-th normal judged window in a row (default 2), so
it does not flap. A window that is not judged counts for neither and breaks neither run:
the state is held until there is something to judge.

OnlineNormal (after Deequ's online-normal strategy), over a value per window:

- Warm-up: the first `warmup` values (default 10) are never judged. At its end the
  running statistics are seeded from them, leaving out values more than `k` robust
  deviations (1.4826 x the median absolute deviation, floored like sigma below) from
  their median, so one outlier in the warm-up does not blind the detector.
- Running statistics: a mean, and the variance of a new value around it (the prediction
  error d = x - mean, the quantity the band is about). Seeded from a batch (warm-up,
  relearning): the mean and the sample variance times (1 + 1/n). Then each accepted value
  moves the mean by w d with w = max(`alpha`, 1/n), and the variance to
  (1 - v) variance + v d^2 with v = max(`variance_alpha`, 1/(n - 1)): equal weights
  at first, exponential weights (EWMA) once 1/n is under alpha; None: equal
  weights throughout (alpha=None, variance_alpha=None is Deequ's plain running mean and
  deviation).
- Defaults alpha = 0.1 (the mean follows about the last 20 windows) and variance_alpha =
  0.02 (the deviation, about the last 100). A slow legitimate drift is followed rather
  than flagged (+0.5 % a window is about +5 % away from the mean, inside the band), and
  the lag of a drift widens the band; the price is that any change spread over many
  windows, each well inside the band, is followed too (a gradual decline to zero is left
  to Silence). A step is flagged at once. The deviation is weighted more slowly than the
  mean because a deviation estimated from ~20 windows is noisy enough to make a k = 3
  band several times more trigger-happy than it should be (false alarms on pure noise).
- Band: expected = mean, sigma = max(std, `min_std` (default 0), `min_relative_std` x
  |mean| (default 0.05)); anomalous when |x - mean| > k x sigma (k default 3.0); the
  direction is "spike" (above) or "drop" (below). The floors keep a flat series from
  flagging a 1 % wobble (with the defaults the band is at least +-15 % of the mean).
- Anomalous values are kept out of the running statistics.
- Relearning: Deequ keeps anomalies out forever, so a lasting level shift would alert
  forever. After `relearn_after` anomalous values in a row in the same direction (default
  30; None: never), the detector accepts the new level: its statistics are re-seeded
  from those values (as at the end of the warm-up), the window is reported normal with
  `relearned` set, and a firing alert resolves at once (the relearn is a decision, not a
  noisy observation, so it does not wait for `resolve_after`). This is the answer to a
  legitimate step change (a new campaign, a new partner): it alerts for `relearn_after`
  windows, then the new level is normal.

SeasonalBaseline, over a value per window with a known season (`season` windows, e.g.
1440 one-minute windows a day), `at` an integer window index (window_start_ms //
window_ms, see `window_index`), phase = at mod season:

- The expectation at phase p is the mean of the values at phase p in the last `seasons`
  seasons (default 2, at least 2: Holt-Winters-like detectors need two full seasons).
- Once phase p has `seasons` values, the residual x - expectation goes through an
  OnlineNormal model (same settings; its relative floor is relative to the expectation,
  not to the residual), with its own warm-up; the band is expectation + residual mean
  +- k x sigma. One deviation serves every phase: the residual noise is assumed alike
  at every phase (where it grows with the level, as counts' does, the band is set by the
  noisiest phases and is wide at the quiet ones).
- Until then (the first `seasons` seasons, plus the residual warm-up) a plain OnlineNormal
  model over the values judges instead (`fallback=False`: nothing is judged until then).
  The hysteresis is shared, so the hand-over does not reset a firing alert.
- The history keeps the observed value, except that a value judged anomalous by the
  seasonal model is replaced by its expectation, so one bad day does not distort the next
  `seasons` days. When the residual model relearns a new level, the whole history is
  shifted by the new residual mean (and the residual mean set to 0), so the level shift is
  accepted at every phase.

Silence, over the records received per window:

- The baseline is the running mean of the values (weights as OnlineNormal's mean, alpha
  0.1).
  It judges only after `warmup` windows (default 10) and while the baseline is at least
  `min_baseline` records per window (default 10): a source too quiet to have a baseline
  is not judged.
- A window is silent when its value is below `silent_fraction` (default 0.05) of the
  baseline; 0 always is. Silent windows are kept out of the baseline (else the baseline
  would sink to 0 and the alert resolve by itself); it fires after `fire_after` silent
  windows in a row and resolves after `resolve_after` windows with traffic.
- Once judging, a window enters the baseline capped at `burst_cap` (default 2) times the
  baseline: a burst (a bot's clicks, a replay) would otherwise raise it so far that the
  source's normal level after the burst reads as silence. A lasting growth is still
  learnt, at most doubling the baseline per 1 / alpha windows.
- A window with no row: `dq_metrics` has a row only for a source and window that received
  records (a GROUP BY), so a silent source has no rows at all. The caller decides, by
  time, which windows are closed, and for each closed window without a row calls
  `update_missing(at)` (the same as `update(0, at)`); likewise it feeds 0 to a volume
  detector (OnlineNormal, SeasonalBaseline) for that window, and feeds nothing to the
  rate detectors (no records, nothing to judge).

RateThreshold, over numerator / denominator per window:

- Judged only when the denominator is at least `min_count` (default 50): fewer records say
  too little. Anomalous when the rate is over `threshold` (rate > threshold).
- For dq_metrics: invalid rate = invalid / received, per reason invalid_by_reason[r] /
  received (the caller keeps one detector per reason and feeds 0 for a reason absent from
  a window), duplicate rate = duplicates / received, late rate = late / valid,
  unattributed rate = unattributed / valid (clicks_conversions).

ValueThreshold, over a value per window: anomalous when value > `threshold`; None (e.g.
event_time_delay_p50_ms when valid = 0) is not judged. For the event-time delays (p50,
max) and a watermark lag.

BaselineRatio, over numerator / denominator per window (CTR = clicks / impressions, win
rate = wins / bids), compared with its own running baseline: an OnlineNormal model over
the ratio, fed only windows whose denominator is at least `min_count` (default 50); the
others are neither judged nor learnt. With `binomial=True` (default) sigma is also floored
by the sampling deviation of a proportion, sqrt(p (1 - p) / denominator) at p = the
running mean, so a small window's ratio is not flagged for noise the window's size
explains.

A `Verdict` tells what the window was (`judged`, `anomalous`, `direction`, `observed`,
`expected`, `low`, `high`) and what the detector decided (`firing`, `changed`, a `reason`
a human can read). A caller turns `firing` into an active alert (AlertBook.update takes the
alerts active now) and may use `started` / `resolved` for logs.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from numbers import Integral
from typing import Literal, TypedDict, Unpack

Direction = Literal["spike", "drop"]
State = Literal["ok", "anomalous", "firing", "resolved"]
At = int | float | None

K = 3.0
WARMUP = 10
ALPHA = 0.1
VARIANCE_ALPHA = 0.02
MIN_STD = 0.0
MIN_RELATIVE_STD = 0.05
RELEARN_AFTER = 30
FIRE_AFTER = 2
RESOLVE_AFTER = 2
MIN_COUNT = 50
SILENT_FRACTION = 0.05
MIN_BASELINE = 10.0
BURST_CAP = 2.0
SEASONS = 2
# 1.4826 x the median absolute deviation estimates the standard deviation of normal data.
MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class Verdict:
    """One window's outcome.

    `judged`: the window was compared with something (not in a warm-up, enough records, a
    value). `anomalous`: judged and out of bounds, in `direction`. `observed` is the value
    judged (a rate for the ratio detectors), `expected` / `low` / `high` the expectation
    and the bounds outside which a value is anomalous (None where a detector has none).
    `firing`: the detector's state after this window; `changed`: this window started or
    resolved it. `relearned`: the detector accepted a new level with this window.
    """

    at: At
    observed: float | None
    expected: float | None
    low: float | None
    high: float | None
    judged: bool
    anomalous: bool
    direction: Direction | None
    firing: bool
    changed: bool
    reason: str
    relearned: bool = False

    @property
    def started(self) -> bool:
        """This window started the alert."""
        return self.changed and self.firing

    @property
    def resolved(self) -> bool:
        """This window resolved the alert."""
        return self.changed and not self.firing

    @property
    def state(self) -> State:
        """ "resolved" on the window that resolved the alert, "firing" while it fires
        (including the window that started it), "anomalous" for an anomalous window that
        has not (yet) made it fire, "ok" otherwise."""
        if self.resolved:
            return "resolved"
        if self.firing:
            return "firing"
        return "anomalous" if self.anomalous else "ok"


class Hysteresis:
    """Fires after `fire_after` anomalous judged windows in a row, resolves after
    `resolve_after` normal ones in a row; windows not judged change nothing."""

    def __init__(self, fire_after: int = FIRE_AFTER, resolve_after: int = RESOLVE_AFTER):
        _check_count("fire_after", fire_after)
        _check_count("resolve_after", resolve_after)
        self.fire_after = fire_after
        self.resolve_after = resolve_after
        self.firing = False
        self.anomalous_streak = 0
        self.normal_streak = 0

    def step(self, anomalous: bool | None) -> bool:
        """One window (None: not judged); True when the firing state changed."""
        if anomalous is None:
            return False
        if anomalous:
            self.anomalous_streak += 1
            self.normal_streak = 0
            if not self.firing and self.anomalous_streak >= self.fire_after:
                self.firing = True
                return True
            return False
        self.normal_streak += 1
        self.anomalous_streak = 0
        if self.firing and self.normal_streak >= self.resolve_after:
            self.firing = False
            return True
        return False

    def reset(self) -> bool:
        """Back to not firing with no runs; True when it was firing."""
        was = self.firing
        self.firing = False
        self.anomalous_streak = 0
        self.normal_streak = 0
        return was


class RunningStats:
    """A running mean, and the variance of a new value around it (of the prediction error
    x - mean, the quantity the band is about).

    `reset(values)` seeds them from a batch: the mean, and the sample variance times (1 + 1/n)
    (a new value's variance around the mean of n). `add(x)`, with d = x - mean before x:
    mean += w d with w = max(alpha, 1/n), and variance = (1 - v) variance + v d^2 with
    v = max(variance_alpha, 1/m), n counting the values and m = n - 1 the squared errors.
    Equal weights first, exponential weights once 1/n (1/m) falls under alpha
    (variance_alpha); None: equal weights throughout.
    """

    def __init__(self, alpha: float | None = ALPHA, variance_alpha: float | None = VARIANCE_ALPHA):
        for name, value in (("alpha", alpha), ("variance_alpha", variance_alpha)):
            if value is not None and not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1] or None, not {value!r}")
        self.alpha = alpha
        self.variance_alpha = variance_alpha
        self.n = 0
        self.mean = 0.0
        self.variance = 0.0

    @property
    def std(self) -> float:
        return math.sqrt(max(self.variance, 0.0))

    def add(self, x: float) -> None:
        d = x - self.mean
        self.n += 1
        self.mean += _weight(self.alpha, self.n) * d
        if self.n > 1:
            v = _weight(self.variance_alpha, self.n - 1)
            self.variance = (1 - v) * self.variance + v * d * d

    def reset(self, values: Iterable[float] = ()) -> None:
        values = list(values)
        self.n = len(values)
        self.mean = statistics.fmean(values) if values else 0.0
        self.variance = 0.0
        if self.n > 1:
            self.variance = statistics.variance(values, self.mean) * (1 + 1 / self.n)

    def shift(self, delta: float) -> None:
        """Move the mean by delta (the variance is unchanged)."""
        self.mean += delta


def _weight(alpha: float | None, n: int) -> float:
    return 1 / n if alpha is None else max(alpha, 1 / n)


@dataclass(frozen=True)
class Judgement:
    """What a NormalModel made of one value."""

    judged: bool
    anomalous: bool
    direction: Direction | None
    expected: float | None
    sigma: float | None
    k: float
    relearned: bool = False
    left: float | None = None  # relearned: the mean that was left

    @property
    def low(self) -> float | None:
        return None if self.expected is None else self.expected - self.k * self.sigma

    @property
    def high(self) -> float | None:
        return None if self.expected is None else self.expected + self.k * self.sigma


class ModelOptions(TypedDict, total=False):
    """NormalModel's keyword arguments, which each detector built on it takes as they are
    (OnlineNormal(k=4, warmup=20)); the defaults are NormalModel's."""

    k: float
    warmup: int
    alpha: float | None
    variance_alpha: float | None
    min_std: float
    min_relative_std: float
    relearn_after: int | None


class NormalModel:
    """The judgement of OnlineNormal without the hysteresis: warm-up, running statistics,
    the k-sigma band with its floors, anomalies kept out, relearning (module docstring)."""

    def __init__(
        self,
        *,
        k: float = K,
        warmup: int = WARMUP,
        alpha: float | None = ALPHA,
        variance_alpha: float | None = VARIANCE_ALPHA,
        min_std: float = MIN_STD,
        min_relative_std: float = MIN_RELATIVE_STD,
        relearn_after: int | None = RELEARN_AFTER,
    ):
        if not k > 0:
            raise ValueError(f"k must be positive, not {k!r}")
        _check_count("warmup", warmup)
        if relearn_after is not None:
            _check_count("relearn_after", relearn_after)
        if not min_std >= 0 or not min_relative_std >= 0:
            raise ValueError("min_std and min_relative_std must be >= 0")
        self.k = k
        self.warmup = warmup
        self.min_std = min_std
        self.min_relative_std = min_relative_std
        self.relearn_after = relearn_after
        self.stats = RunningStats(alpha, variance_alpha)
        self.warm = False
        self._warmup_values: list[float] = []
        self.away_direction: Direction | None = None
        # the anomalous values in a row, kept for relearning (none kept without it)
        self._away: deque[float] = deque(maxlen=relearn_after or 0)
        self.away_streak = 0

    @property
    def mean(self) -> float:
        return self.stats.mean

    @property
    def std(self) -> float:
        return self.stats.std

    @property
    def warmup_seen(self) -> int:
        return self.warmup if self.warm else len(self._warmup_values)

    def sigma(self, level: float = 0.0, floor: float = 0.0) -> float:
        """max(std, min_std, min_relative_std x |level + mean|, floor)."""
        return max(
            self.stats.std,
            self.min_std,
            self.min_relative_std * abs(level + self.stats.mean),
            floor,
        )

    def observe(self, x: float, *, level: float = 0.0, floor: float = 0.0) -> Judgement:
        """Judge x and learn from it. `level` is added to the mean for the relative floor
        (the seasonal expectation when x is a residual); `floor` is one more floor on
        sigma for this value."""
        x = _finite(x)
        if not self.warm:
            self._warmup_values.append(x)
            if len(self._warmup_values) >= self.warmup:
                self._seed(self._warmup_values)
                self._warmup_values = []
                self.warm = True
            return Judgement(False, False, None, None, None, self.k)
        mean = self.stats.mean
        sigma = self.sigma(level, floor)
        if abs(x - mean) <= self.k * sigma:
            self.stats.add(x)
            self._away.clear()
            self.away_streak = 0
            self.away_direction = None
            return Judgement(True, False, None, mean, sigma, self.k)
        direction: Direction = "spike" if x > mean else "drop"
        if direction != self.away_direction:
            self._away.clear()
            self.away_streak = 0
            self.away_direction = direction
        self._away.append(x)
        self.away_streak += 1
        if self.relearn_after is not None and self.away_streak >= self.relearn_after:
            self._seed(self._away)
            self._away.clear()
            self.away_streak = 0
            self.away_direction = None
            return Judgement(
                True,
                False,
                None,
                self.stats.mean,
                self.sigma(level, floor),
                self.k,
                relearned=True,
                left=mean,
            )
        return Judgement(True, True, direction, mean, sigma, self.k)

    def _seed(self, values: Iterable[float]) -> None:
        """Re-seed the statistics from values, leaving out those more than k robust
        deviations from their median."""
        values = list(values)
        median = statistics.median(values)
        mad = statistics.median(abs(v - median) for v in values)
        scale = max(MAD_TO_STD * mad, self.min_std, self.min_relative_std * abs(median))
        self.stats.reset(v for v in values if abs(v - median) <= self.k * scale)


class OnlineNormal:
    """A value per window against its own running mean and deviation, Deequ-like, with
    exponential weights and relearning (module docstring). The volume detector: e.g.
    OnlineNormal(name="impressions received", unit="per window")."""

    def __init__(
        self,
        *,
        name: str = "value",
        unit: str = "",
        fire_after: int = FIRE_AFTER,
        resolve_after: int = RESOLVE_AFTER,
        **model: Unpack[ModelOptions],
    ):
        self.name = name
        self.unit = unit
        self.model = NormalModel(**model)
        self.hysteresis = Hysteresis(fire_after, resolve_after)
        _check_relearn(self.model.relearn_after, fire_after)

    @property
    def firing(self) -> bool:
        return self.hysteresis.firing

    def update(self, value: float, at: At = None) -> Verdict:
        j = self.model.observe(value)
        what = f"{self.name} {_fmt(value)}{_unit(self.unit)}"
        return _verdict(at, value, j, self.hysteresis, what, unjudged=_learning(self.model))


class SeasonalBaseline:
    """A value per window against the same phase of the last `seasons` seasons, the
    residual through an OnlineNormal model; a plain OnlineNormal model until then
    (module docstring). `at` is an integer window index, strictly increasing."""

    def __init__(
        self,
        season: int,
        *,
        name: str = "value",
        unit: str = "",
        seasons: int = SEASONS,
        fallback: bool = True,
        fire_after: int = FIRE_AFTER,
        resolve_after: int = RESOLVE_AFTER,
        **model: Unpack[ModelOptions],
    ):
        _check_count("season", season)
        if not isinstance(seasons, Integral) or seasons < 2:
            raise ValueError(f"seasons must be an integer >= 2, not {seasons!r}")
        self.season = int(season)
        self.seasons = int(seasons)
        self.name = name
        self.unit = unit
        self.residual = NormalModel(**model)
        self.fallback = NormalModel(**model) if fallback else None
        self.hysteresis = Hysteresis(fire_after, resolve_after)
        _check_relearn(self.residual.relearn_after, fire_after)
        self.history: dict[int, deque[float]] = {}
        self.last_at: int | None = None

    @property
    def firing(self) -> bool:
        return self.hysteresis.firing

    @property
    def seasonal(self) -> bool:
        """The seasonal model judges (its residual warm-up is over)."""
        return self.residual.warm

    def baseline(self, at: int) -> float | None:
        """The mean of the last `seasons` values at at's phase; None until there are as
        many (the residual mean is not included)."""
        past = self.history.get(int(at) % self.season)
        if past is None or len(past) < self.seasons:
            return None
        return statistics.fmean(past)

    def update(self, value: float, at: int) -> Verdict:
        if not isinstance(at, Integral):
            raise TypeError(f"at must be an integer window index, not {at!r}")
        if self.last_at is not None and at <= self.last_at:
            raise ValueError(f"windows must come in order: {at} after {self.last_at}")
        value = _finite(value)
        self.last_at = int(at)
        past = self.history.setdefault(self.last_at % self.season, deque(maxlen=self.seasons))
        base = self.baseline(at)
        what = f"{self.name} {_fmt(value)}{_unit(self.unit)}"
        stored = value
        if base is not None and self.residual.warm:
            j = self.residual.observe(value - base, level=base)
            if j.relearned:
                # Accept the new level at every phase: the history moves by the new
                # residual mean, which becomes 0.
                offset = self.residual.mean
                for values in self.history.values():
                    shifted = [v + offset for v in values]
                    values.clear()
                    values.extend(shifted)
                self.residual.stats.shift(-offset)
                j = replace(
                    j,
                    expected=base + offset,
                    sigma=self.residual.sigma(level=base + offset),
                    left=base + j.left,
                )
            else:
                j = replace(j, expected=base + j.expected)
                if j.anomalous:
                    stored = j.expected
            past.append(stored)
            return _verdict(at, value, j, self.hysteresis, what)
        if base is not None:
            self.residual.observe(value - base, level=base)
        if base is None:
            waiting = f"no seasonal baseline yet ({len(past)} of {self.seasons} seasons)"
        else:
            waiting = f"learning the seasonal residual, {_learning(self.residual)}"
        past.append(stored)
        if self.fallback is None:
            j = Judgement(False, False, None, None, None, self.residual.k)
            return _verdict(at, value, j, self.hysteresis, what, unjudged=waiting)
        j = self.fallback.observe(value)
        return _verdict(
            at, value, j, self.hysteresis, what, unjudged=_learning(self.fallback), note=waiting
        )


class Silence:
    """Records per window against the source's own baseline: fires when a source that had
    traffic goes (nearly) silent (module docstring)."""

    def __init__(
        self,
        *,
        name: str = "records received",
        unit: str = "per window",
        warmup: int = WARMUP,
        alpha: float | None = ALPHA,
        min_baseline: float = MIN_BASELINE,
        silent_fraction: float = SILENT_FRACTION,
        burst_cap: float = BURST_CAP,
        fire_after: int = FIRE_AFTER,
        resolve_after: int = RESOLVE_AFTER,
    ):
        _check_count("warmup", warmup)
        if not burst_cap > 1:
            raise ValueError(f"burst_cap must be above 1, not {burst_cap!r}")
        if not min_baseline > 0:
            raise ValueError(f"min_baseline must be positive, not {min_baseline!r}")
        if not 0 < silent_fraction < 1:
            raise ValueError(f"silent_fraction must be in (0, 1), not {silent_fraction!r}")
        self.name = name
        self.unit = unit
        self.warmup = warmup
        self.min_baseline = min_baseline
        self.silent_fraction = silent_fraction
        self.burst_cap = burst_cap
        self.baseline = RunningStats(alpha)
        self.hysteresis = Hysteresis(fire_after, resolve_after)

    @property
    def firing(self) -> bool:
        return self.hysteresis.firing

    @property
    def judging(self) -> bool:
        """Past the warm-up, with a baseline of at least min_baseline."""
        return self.baseline.n >= self.warmup and self.baseline.mean >= self.min_baseline

    def update(self, value: float, at: At = None) -> Verdict:
        return self._update(_finite(value), at, "")

    def update_missing(self, at: At = None) -> Verdict:
        """A window that is over by time and has no row: no records (as update(0, at))."""
        return self._update(0.0, at, " (no row for the window)")

    def _update(self, value: float, at: At, note: str) -> Verdict:
        if value < 0:
            raise ValueError(f"a record count cannot be negative: {value!r}")
        h = self.hysteresis
        what = f"{self.name} {_fmt(value)}{_unit(self.unit)}{note}"
        if not self.judging:
            self.baseline.add(value)
            if self.baseline.n <= self.warmup:
                why = f"learning the baseline ({self.baseline.n} of {self.warmup} windows)"
            else:
                why = (
                    f"not judged, the baseline {_fmt(self.baseline.mean)} is under "
                    f"{_fmt(self.min_baseline)}"
                )
            return _plain(at, value, None, None, None, h, None, f"{what}: {why}")
        expected = self.baseline.mean
        low = self.silent_fraction * expected
        silent = value < low
        if not silent:
            self.baseline.add(min(value, self.burst_cap * expected))
        changed = h.step(silent)
        reason = f"{what}, expected {_fmt(expected)}, silent under {_fmt(low)}"
        if silent:
            reason += f": silent {h.anomalous_streak} window(s) in a row"
        reason += _transition(h, changed)
        return _plain(at, value, expected, low, None, h, silent, reason, changed, "drop")


class RateThreshold:
    """numerator / denominator per window over a fixed threshold, judged only with at
    least `min_count` in the denominator (module docstring)."""

    def __init__(
        self,
        threshold: float,
        *,
        name: str = "rate",
        min_count: int = MIN_COUNT,
        fire_after: int = FIRE_AFTER,
        resolve_after: int = RESOLVE_AFTER,
    ):
        _check_count("min_count", min_count)
        self.threshold = _finite(threshold)
        self.name = name
        self.min_count = min_count
        self.hysteresis = Hysteresis(fire_after, resolve_after)

    @property
    def firing(self) -> bool:
        return self.hysteresis.firing

    def update(self, numerator: float, denominator: float, at: At = None) -> Verdict:
        numerator, denominator = _counts(numerator, denominator)
        h = self.hysteresis
        counts = f"{_fmt(numerator)} of {_fmt(denominator)}"
        if denominator < self.min_count:
            reason = f"{self.name} not judged: {counts}, fewer than {self.min_count} records"
            return _plain(at, None, None, None, self.threshold, h, None, reason)
        rate = numerator / denominator
        over = rate > self.threshold
        changed = h.step(over)
        reason = f"{self.name} {_pct(rate)} ({counts}), "
        reason += f"{'over' if over else 'within'} {_pct(self.threshold)}"
        reason += _transition(h, changed)
        return _plain(at, rate, None, None, self.threshold, h, over, reason, changed, "spike")


class ValueThreshold:
    """A value per window over a fixed threshold; None is not judged (module docstring)."""

    def __init__(
        self,
        threshold: float,
        *,
        name: str = "value",
        unit: str = "",
        fire_after: int = FIRE_AFTER,
        resolve_after: int = RESOLVE_AFTER,
    ):
        self.threshold = _finite(threshold)
        self.name = name
        self.unit = unit
        self.hysteresis = Hysteresis(fire_after, resolve_after)

    @property
    def firing(self) -> bool:
        return self.hysteresis.firing

    def update(self, value: float | None, at: At = None) -> Verdict:
        h = self.hysteresis
        if value is None:
            reason = f"{self.name} not judged: no value"
            return _plain(at, None, None, None, self.threshold, h, None, reason)
        value = _finite(value)
        over = value > self.threshold
        changed = h.step(over)
        reason = f"{self.name} {_fmt(value)}{_unit(self.unit)}, "
        reason += f"{'over' if over else 'within'} {_fmt(self.threshold)}"
        reason += _transition(h, changed)
        return _plain(at, value, None, None, self.threshold, h, over, reason, changed, "spike")


class BaselineRatio:
    """numerator / denominator per window against the ratio's own running baseline, an
    OnlineNormal model over the windows with at least `min_count` in the denominator
    (module docstring)."""

    def __init__(
        self,
        *,
        name: str = "ratio",
        min_count: int = MIN_COUNT,
        binomial: bool = True,
        fire_after: int = FIRE_AFTER,
        resolve_after: int = RESOLVE_AFTER,
        **model: Unpack[ModelOptions],
    ):
        _check_count("min_count", min_count)
        self.name = name
        self.min_count = min_count
        self.binomial = binomial
        self.model = NormalModel(**model)
        self.hysteresis = Hysteresis(fire_after, resolve_after)
        _check_relearn(self.model.relearn_after, fire_after)

    @property
    def firing(self) -> bool:
        return self.hysteresis.firing

    def update(self, numerator: float, denominator: float, at: At = None) -> Verdict:
        numerator, denominator = _counts(numerator, denominator)
        h = self.hysteresis
        counts = f"{_fmt(numerator)} of {_fmt(denominator)}"
        if denominator < self.min_count:
            reason = f"{self.name} not judged: {counts}, fewer than {self.min_count} records"
            return _plain(at, None, None, None, None, h, None, reason)
        ratio = numerator / denominator
        floor = 0.0
        if self.binomial and self.model.warm:
            p = min(max(self.model.mean, 0.0), 1.0)
            floor = math.sqrt(p * (1 - p) / denominator)
        j = self.model.observe(ratio, floor=floor)
        what = f"{self.name} {_pct(ratio)} ({counts})"
        return _verdict(at, ratio, j, h, what, unjudged=_learning(self.model), pct=True)


def window_index(window_start_ms: int, window_ms: int = 60_000) -> int:
    """The integer window index SeasonalBaseline takes: window_start_ms // window_ms."""
    return int(window_start_ms) // int(window_ms)


def _verdict(
    at: At,
    observed: float,
    j: Judgement,
    h: Hysteresis,
    what: str,
    *,
    unjudged: str = "",
    note: str = "",
    pct: bool = False,
) -> Verdict:
    """Step the hysteresis with a NormalModel's judgement and say what happened."""
    if j.relearned:
        changed = h.reset()
    elif j.judged:
        changed = h.step(j.anomalous)
    else:
        changed = False
    if not j.judged:
        reason = f"{what}: {unjudged}"
    else:
        fmt = _pct if pct else _fmt
        band = f"{fmt(j.expected)} ± {fmt(j.k * j.sigma)}"
        if j.relearned:
            reason = f"{what}: accepted as the new level, expected {band} (was {fmt(j.left)})"
        else:
            reason = f"{what}, expected {band}"
        if j.anomalous:
            reason += f": a {j.direction}, {h.anomalous_streak} window(s) in a row"
        reason += _transition(h, changed, j.relearned)
    if note:
        reason += f" ({note})"
    return Verdict(
        at=at,
        observed=observed,
        expected=j.expected,
        low=j.low,
        high=j.high,
        judged=j.judged,
        anomalous=j.anomalous,
        direction=j.direction,
        firing=h.firing,
        changed=changed,
        reason=reason,
        relearned=j.relearned,
    )


def _plain(
    at: At,
    observed: float | None,
    expected: float | None,
    low: float | None,
    high: float | None,
    h: Hysteresis,
    anomalous: bool | None,
    reason: str,
    changed: bool = False,
    direction: Direction | None = None,
) -> Verdict:
    """A threshold detector's verdict; anomalous None: not judged."""
    return Verdict(
        at=at,
        observed=observed,
        expected=expected,
        low=low,
        high=high,
        judged=anomalous is not None,
        anomalous=bool(anomalous),
        direction=direction if anomalous else None,
        firing=h.firing,
        changed=changed,
        reason=reason,
    )


def _learning(model: NormalModel) -> str:
    return f"learning the baseline ({model.warmup_seen} of {model.warmup} windows)"


def _transition(h: Hysteresis, changed: bool, relearned: bool = False) -> str:
    if not changed:
        return ""
    if relearned:
        return "; resolved"
    if h.firing:
        return f"; firing after {h.fire_after} anomalous window(s) in a row"
    return f"; resolved after {h.resolve_after} normal window(s) in a row"


def _check_relearn(relearn_after: int | None, fire_after: int) -> None:
    if relearn_after is not None and relearn_after <= fire_after:
        raise ValueError(
            f"relearn_after ({relearn_after}) must be more than fire_after ({fire_after}): "
            "a lasting change would be relearnt before it could fire"
        )


def _check_count(name: str, value: int) -> None:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, not {value!r}")


def _finite(x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"values must be finite numbers, not {x!r}")
    return x


def _counts(numerator: float, denominator: float) -> tuple[float, float]:
    numerator, denominator = _finite(numerator), _finite(denominator)
    if numerator < 0 or denominator < 0:
        raise ValueError(f"counts cannot be negative: {numerator!r} of {denominator!r}")
    return numerator, denominator


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def _fmt(x: float | None) -> str:
    if x is None:
        return "none"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def _pct(x: float | None) -> str:
    return "none" if x is None else f"{x * 100:.3g} %"
