"""One source's detectors, fed one closed dq_metrics window at a time.

Each window goes to every detector (volume of distinct records, silence, the rates, the
delays); what fires is returned as `Finding`s, which the monitor turns into alerts. A
source gone silent also drops in volume: the silence is the alert and the volume drop is
left out (as an Alertmanager inhibit rule would), since both say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from advertisex.monitor.detectors import (
    RateThreshold,
    SeasonalBaseline,
    Silence,
    ValueThreshold,
    Verdict,
)
from advertisex.monitor.settings import MonitorSettings
from advertisex.monitor.windows import DqWindow

# alertname -> (severity, one-line runbook)
RUNBOOKS = {
    "SourceVolumeAnomaly": (
        "warning",
        "Compare the source's traffic with its partners' dashboards; a spike is often a bot "
        "or a replay, a drop an upstream outage; it relearns a lasting new level by itself.",
    ),
    "SourceSilent": (
        "critical",
        "Check the producer of this source and its Kafka topic (kafka-consumer-groups, topic "
        "end offsets); nothing has arrived for several windows.",
    ),
    "InvalidRecordRate": (
        "warning",
        "Read the source's dead letters (reason and payload) and tell the sender which rule "
        "its records break.",
    ),
    "InvalidReasonRate": (
        "warning",
        "One validation rule is failing often: read the dead letters with this reason and "
        "fix the sender or, if the rule is wrong, the contract.",
    ),
    "DuplicateRate": (
        "warning",
        "A producer is redelivering: check its retries and acks; deduplication keeps the "
        "outputs right, but the cause is upstream.",
    ),
    "LateRecordRate": (
        "warning",
        "Records arrive behind the watermark: check the producers' buffering and clocks; "
        "late records are left out of campaign_metrics_1m.",
    ),
    "UnattributedRate": (
        "warning",
        "Clicks without impressions or conversions without clicks: check that impressions "
        "arrive (and in time) and look for click bots.",
    ),
    "CampaignCtrAnomaly": (
        "warning",
        "Compare the campaign's clicks with its impressions by website and user: a jump is "
        "often click fraud (bots), a fall a broken click tracker or creative.",
    ),
    "CampaignWinRateAnomaly": (
        "warning",
        "Check the campaign's bids and budget pacing: a changed bid price, a paused budget "
        "or an exchange change moves the win rate.",
    ),
    "EventTimeDelay": (
        "warning",
        "Records arrive long after they happened: look for a backlog upstream or a consumer "
        "catching up; the job's own lag is the operator's ConsumerLag alert.",
    ),
    "WatermarkLag": (
        "warning",
        "The job's event time trails the clock: look for backpressure (busy tasks in the "
        "Flink UI), a source partition that is behind (a backlog, or a producer stamping old "
        "times) or a TaskManager that stopped; a job with no traffic at all lags too.",
    ),
    "ReconciliationMismatch": (
        "warning",
        "Raw topic and Pinot counts differ: check the job's consumer lag and restarts, its "
        "dead letters, and Pinot's ingestion status of the dq_metrics table.",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One detector that fires for one source after a window."""

    alertname: str
    source: str
    summary: str
    extra_labels: tuple[tuple[str, str], ...] = ()

    @property
    def severity(self) -> str:
        return RUNBOOKS[self.alertname][0]

    @property
    def runbook(self) -> str:
        return RUNBOOKS[self.alertname][1]


class SourceWatch:
    def __init__(self, source: str, settings: MonitorSettings):
        s = settings
        self.source = source
        self.settings = settings
        hysteresis = {"fire_after": s.fire_after, "resolve_after": s.resolve_after}
        self.volume = SeasonalBaseline(
            s.season_windows,
            name=f"{source} received",
            unit="per window",
            k=s.volume_sigmas,
            warmup=s.warmup_windows,
            min_relative_std=s.volume_min_relative_std,
            relearn_after=s.volume_relearn_after,
            **hysteresis,
        )
        self.silence = Silence(
            name=f"{source} received",
            warmup=s.warmup_windows,
            min_baseline=s.silence_min_baseline,
            silent_fraction=s.silence_fraction,
            **hysteresis,
        )
        rate = {"min_count": s.min_count, **hysteresis}
        self.invalid = RateThreshold(s.invalid_rate_max, name="invalid rate", **rate)
        self.duplicates = RateThreshold(s.duplicate_rate_max, name="duplicate rate", **rate)
        self.late = RateThreshold(s.late_rate_max, name="late rate", **rate)
        self.unattributed = RateThreshold(s.unattributed_rate_max, name="unattributed rate", **rate)
        self.reasons: dict[str, RateThreshold] = {}
        self.delay_p50 = ValueThreshold(
            s.delay_p50_max_s * 1000, name="event-time delay p50", unit="ms", **hysteresis
        )
        self.delay_max = ValueThreshold(
            s.delay_max_s * 1000, name="event-time delay max", unit="ms", **hysteresis
        )
        self.windows_seen = 0
        self.volume_inhibited = False

    def observe(self, window: DqWindow) -> list[Finding]:
        """Judge one closed window; what fires after it."""
        if window.source != self.source:
            raise ValueError(f"a {window.source} window given to the {self.source} watch")
        at = window.start_ms // self.settings.window_ms
        self.windows_seen += 1
        # Volume counts distinct records: redeliveries are the DuplicateRate alert's, and
        # counted here a burst of them would read as a spike and the return to normal as
        # a drop from the baseline they had raised.
        volume = self.volume.update(float(window.received - window.duplicates), at)
        silence = (
            self.silence.update_missing(at)
            if window.filled
            else self.silence.update(float(window.received), at)
        )
        findings: list[Finding] = []
        # A volume alert that began while the source was silent is the silence's echo: it
        # stays inhibited until the volume detector resolves too.
        if silence.firing:
            self.volume_inhibited = volume.firing
        elif not volume.firing:
            self.volume_inhibited = False
        if silence.firing:
            findings.append(self._finding("SourceSilent", silence))
        elif volume.firing and not self.volume_inhibited and self._volume_judged():
            findings.append(self._finding("SourceVolumeAnomaly", volume))
        if window.filled:  # no records: no rates and no delays to judge
            return findings + self._still_firing()
        received = window.received
        for name, detector, numerator, denominator in (
            ("InvalidRecordRate", self.invalid, window.invalid, received),
            ("DuplicateRate", self.duplicates, window.duplicates, received),
            ("LateRecordRate", self.late, window.late, window.valid),
        ):
            verdict = detector.update(numerator, denominator, at)
            if verdict.firing:
                findings.append(self._finding(name, verdict))
        if self.source == "clicks_conversions":
            verdict = self.unattributed.update(window.unattributed, window.valid, at)
            if verdict.firing:
                findings.append(self._finding("UnattributedRate", verdict))
        for reason in set(self.reasons) | set(window.invalid_by_reason):
            detector = self.reasons.setdefault(
                reason,
                RateThreshold(
                    self.settings.invalid_reason_rate_max,
                    name=f"invalid rate for {reason}",
                    min_count=self.settings.min_count,
                    fire_after=self.settings.fire_after,
                    resolve_after=self.settings.resolve_after,
                ),
            )
            verdict = detector.update(window.invalid_by_reason.get(reason, 0), received, at)
            if verdict.firing:
                findings.append(self._finding("InvalidReasonRate", verdict, reason=reason))
        for measure, detector, value in (
            ("p50", self.delay_p50, window.delay_p50_ms),
            ("max", self.delay_max, window.delay_max_ms),
        ):
            verdict = detector.update(value, at)
            if verdict.firing:
                findings.append(self._finding("EventTimeDelay", verdict, measure=measure))
        return findings

    def _volume_judged(self) -> bool:
        """Enough records a window for a volume change to mean something."""
        return self.silence.baseline.mean >= self.settings.volume_min_baseline

    def _still_firing(self) -> list[Finding]:
        """The rate and delay alerts firing before an empty window: no records means no
        new evidence, so they hold (the detectors do the same with an unjudged window)."""
        held = []
        for name, detector in (
            ("InvalidRecordRate", self.invalid),
            ("DuplicateRate", self.duplicates),
            ("LateRecordRate", self.late),
            ("UnattributedRate", self.unattributed),
        ):
            if detector.firing:
                held.append(Finding(name, self.source, f"{detector.name}: no records to judge"))
        for reason, detector in self.reasons.items():
            if detector.firing:
                held.append(
                    Finding(
                        "InvalidReasonRate",
                        self.source,
                        f"{detector.name}: no records to judge",
                        (("reason", reason),),
                    )
                )
        for measure, detector in (("p50", self.delay_p50), ("max", self.delay_max)):
            if detector.firing:
                held.append(
                    Finding(
                        "EventTimeDelay",
                        self.source,
                        f"{detector.name}: no records to judge",
                        (("measure", measure),),
                    )
                )
        return held

    def _finding(self, alertname: str, verdict: Verdict, **labels: str) -> Finding:
        return Finding(alertname, self.source, verdict.reason, tuple(sorted(labels.items())))
