"""Discrepancies per campaign: CTR and win rate far from the campaign's own baseline.

Fed campaign_metrics_1m rows: one per campaign and event-time minute, but an upsert output:
the job rewrites a minute's row as its records arrive (every mini-batch) until the
watermark passes the minute's end. A minute is therefore judged once, with its latest row,
when it has settled: once a row of a minute `campaign_settle_minutes` later (of any
campaign) has been read, event time has moved past it. An update of a minute already
judged is counted (`late_updates`) and otherwise left alone: judging every update would
count one minute many times, and its first updates are partial.

A campaign's ratios are judged only in minutes with enough impressions (CTR) or bids (win
rate): a minute of five impressions says nothing about a click-through rate.
"""

from __future__ import annotations

from advertisex.monitor.detectors import BaselineRatio
from advertisex.monitor.settings import MonitorSettings
from advertisex.monitor.source_watch import Finding


class CampaignWatch:
    def __init__(self, settings: MonitorSettings):
        self.settings = settings
        self.ctr: dict[str, BaselineRatio] = {}
        self.win_rate: dict[str, BaselineRatio] = {}
        self.findings: dict[tuple[str, str], Finding] = {}
        self.pending: dict[tuple[int, str], dict] = {}  # (minute, campaign) -> latest row
        self.newest_minute: int | None = None
        self.judged_through: int | None = None  # every minute up to this one is judged
        self.late_updates = 0

    def _detector(self, table: dict[str, BaselineRatio], campaign: str, name: str) -> BaselineRatio:
        s = self.settings
        if campaign not in table:
            table[campaign] = BaselineRatio(
                name=f"{name} of campaign {campaign}",
                min_count=s.campaign_min_count,
                k=s.ratio_sigmas,
                warmup=s.warmup_windows,
                fire_after=s.fire_after,
                resolve_after=s.resolve_after,
            )
        return table[campaign]

    def observe(self, row: dict) -> None:
        """Keep a row (the latest of its minute) and judge the minutes that have settled;
        `active()` then holds what fires."""
        minute = int(row["window_start_ms"]) // 60_000
        if self.judged_through is not None and minute <= self.judged_through:
            self.late_updates += 1
            return
        self.pending[(minute, str(row["campaign_id"]))] = row
        self.newest_minute = max(minute, self.newest_minute or minute)
        settled = self.newest_minute - self.settings.campaign_settle_minutes
        for key in sorted(k for k in self.pending if k[0] <= settled):
            self._judge(key[0], key[1], self.pending.pop(key))
        if self.judged_through is None or settled > self.judged_through:
            self.judged_through = settled

    def _judge(self, minute: int, campaign: str, row: dict) -> None:
        for alertname, table, name, numerator, denominator in (
            ("CampaignCtrAnomaly", self.ctr, "CTR", row["clicks"], row["impressions"]),
            ("CampaignWinRateAnomaly", self.win_rate, "win rate", row["wins"], row["bids"]),
        ):
            verdict = self._detector(table, campaign, name).update(numerator, denominator, minute)
            key = (alertname, campaign)
            if verdict.firing:
                self.findings[key] = Finding(
                    alertname, "campaigns", verdict.reason, (("campaign_id", campaign),)
                )
            else:
                self.findings.pop(key, None)

    def active(self) -> list[Finding]:
        return list(self.findings.values())
