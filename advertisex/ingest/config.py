"""What a simulation run looks like: its size, its clock, and the anomaly knobs (all off)."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from advertisex.ingest.topics import RAW_PARTITIONS

Source = Literal["impressions", "clicks_conversions", "bid_requests"]
SOURCES: tuple[Source, ...] = ("impressions", "clicks_conversions", "bid_requests")


class Window(BaseModel):
    """An interval of the run, in seconds from its start."""

    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self

    def contains(self, offset_s: float) -> bool:
        return self.start_s <= offset_s < self.end_s


class Silence(Window):
    source: Source


class RateChange(Window):
    factor: float = Field(gt=0, description="> 1 a spike, < 1 a drop")


class Anomalies(BaseModel):
    """The knobs; every one is off by default, so a plain run is clean traffic."""

    duplicates: float = Field(0.0, ge=0, le=1, description="share of records redelivered")
    malformed: float = Field(0.0, ge=0, le=1, description="share replaced by a malformed one")
    out_of_order: float = Field(0.0, ge=0, le=1, description="share arriving 0.2-5 s late")
    late: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share arriving 120-300 s late, far behind the watermark; a record whose "
        "join outcome this would put on an edge stays on time (docs/simulator.md)",
    )
    bots: int = Field(0, ge=0, description="bot users, each clicking ~5 times a second")
    crawlers: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of impressions rendered to a known crawler (its user agent is on "
        "the crawler-user-agents list: contract 2.6 known_crawler)",
    )
    unknown_campaigns: float = Field(
        0.0, ge=0, le=1, description="share of impressions of a campaign missing from the dimension"
    )
    silent: list[Silence] = Field(default_factory=list, description="a source goes quiet")
    rate_changes: list[RateChange] = Field(default_factory=list, description="spikes, drops")

    @classmethod
    def everything(cls, duration_s: float) -> Anomalies:
        """Every knob on at a noticeable level: the golden tests' setting."""
        third = duration_s / 3
        return cls(
            duplicates=0.03,
            malformed=0.02,
            out_of_order=0.05,
            late=0.01,
            bots=1,
            crawlers=0.02,
            unknown_campaigns=0.01,
            silent=[Silence(source="clicks_conversions", start_s=third, end_s=third + 20)],
            rate_changes=[RateChange(start_s=2 * third, end_s=2 * third + 30, factor=3.0)],
        )


class SimulationConfig(BaseModel):
    seed: int = 42
    market_seed: int | None = Field(
        None,
        description="seed of the market alone (campaigns, their CTRs and targeting, websites); "
        "runs that share it are one world: a scenario's segments, each its own seed "
        "(default: drawn from seed)",
    )
    start_ms: int = Field(
        default_factory=lambda: int(time.time()) // 60 * 60_000,
        description="event time of the first second (default: this minute)",
    )
    duration_s: float = Field(600.0, gt=0, description="simulated seconds of traffic")
    bid_rate: float = Field(100.0, gt=0, description="bid requests per second, daily mean")
    diurnal: bool = Field(
        True,
        description="the rate follows the time of day (diurnal_factor); False keeps it at "
        "bid_rate, so a run's volume does not depend on the hour it starts",
    )
    advertisers: int = Field(12, ge=1)
    campaigns: int = Field(40, ge=1)
    websites: int = Field(500, ge=1)
    users: int = Field(20_000, ge=1)
    anomalies: Anomalies = Field(default_factory=Anomalies)
    raw_partitions: int = Field(
        RAW_PARTITIONS,
        ge=1,
        description="partitions of each raw topic the messages are spread over "
        "(ingest.topics.partition_for): the ground truth judges lateness per partition, as "
        "the job does",
    )
    # The contract's rules, which the ground truth applies.
    out_of_orderness_ms: int = 10_000
    click_window_ms: int = 30 * 60_000
    conversion_window_ms: int = 7 * 24 * 3_600_000
    dedup_horizon_ms: int = 24 * 3_600_000
