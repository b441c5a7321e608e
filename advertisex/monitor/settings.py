"""The monitor's thresholds and windows, one set of documented defaults.

Every field can be set from the environment as ADVERTISEX_MONITOR_<FIELD> (for example
ADVERTISEX_MONITOR_INVALID_RATE_MAX=0.02) or on `advertisex monitor --set field=value`.
The detectors' rules are in advertisex/monitor/detectors.py's docstring.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADVERTISEX_MONITOR_", frozen=True)

    window_s: float = Field(
        60, gt=0, description="the dq_metrics window: the job's --dq-window-s (60 s)"
    )
    grace_s: float = Field(
        15,
        ge=0,
        description="a window is judged this long after it ends (the job's sink "
        "flushes every second; its checkpoints commit every 5 s)",
    )
    season_windows: int = Field(
        1440,
        ge=2,
        description="windows in a season for the seasonal volume baseline (a day "
        "of minutes); it is used once two seasons are seen, a plain baseline until then",
    )
    warmup_windows: int = Field(10, ge=1, description="windows learnt before any judgement")
    fire_after: int = Field(2, ge=1, description="anomalous windows in a row that fire")
    resolve_after: int = Field(2, ge=1, description="normal windows in a row that resolve")
    volume_sigmas: float = Field(3.0, gt=0, description="volume band: k deviations")
    volume_min_relative_std: float = Field(
        0.05, ge=0, description="the band's deviation is at least this share of the mean"
    )
    volume_relearn_after: int = Field(
        30, ge=2, description="anomalous windows after which a new level is accepted"
    )
    volume_min_baseline: float = Field(
        30,
        gt=0,
        description="a source with fewer records a window has no volume alert: "
        "its counts are mostly noise (a Poisson count of 5 varies by 45 %)",
    )
    silence_fraction: float = Field(
        0.05, gt=0, lt=1, description="a window under this share of the baseline is silent"
    )
    silence_min_baseline: float = Field(
        10, gt=0, description="a source with fewer records a window is not judged silent"
    )
    min_count: int = Field(50, ge=1, description="records a window needs for its rates")
    invalid_rate_max: float = Field(0.05, ge=0, le=1, description="invalid / received")
    invalid_reason_rate_max: float = Field(
        0.03, ge=0, le=1, description="one reason's invalid / received"
    )
    duplicate_rate_max: float = Field(0.05, ge=0, le=1, description="duplicates / received")
    late_rate_max: float = Field(0.02, ge=0, le=1, description="late / valid")
    unattributed_rate_max: float = Field(
        0.2,
        ge=0,
        le=1,
        description="clicks with no impression and conversions with no "
        "click / valid clicks and conversions",
    )
    ratio_sigmas: float = Field(
        4.0,
        gt=0,
        description="CTR and win rate band: k deviations of the campaign's own "
        "baseline (at least the sampling noise of the minute's counts)",
    )
    campaign_min_count: int = Field(
        100, ge=1, description="impressions (CTR) or bids (win rate) a campaign minute needs"
    )
    campaign_settle_minutes: int = Field(
        2,
        ge=1,
        description="a campaign minute is judged once a row this many minutes later is read "
        "(its row is rewritten until the watermark passes its end)",
    )
    delay_p50_max_s: float = Field(
        60, gt=0, description="median event-time delay (arrival - event time)"
    )
    delay_max_s: float = Field(900, gt=0, description="largest event-time delay in a window")
    watermark_lag_max_s: float = Field(
        300,
        gt=0,
        description="the Flink job's watermark lag: wall clock minus its event-time "
        "watermark, read from the REST API (it includes the 10 s out-of-orderness)",
    )
    watermark_poll_s: float = Field(
        15, gt=0, description="seconds between readings of the job's watermark lag"
    )

    @property
    def window_ms(self) -> int:
        return round(self.window_s * 1000)

    @property
    def grace_ms(self) -> int:
        return round(self.grace_s * 1000)
