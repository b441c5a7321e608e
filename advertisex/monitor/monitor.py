"""The data-quality monitor: dq_metrics rows in, alert transitions out.

Rows are added as they are read (`add_row`), readings of the Flink job's watermark lag as
they are taken (`observe_watermark_lag`, every `watermark_poll_s`: `watermark_due`);
`tick(now)` closes the windows that are over,
runs each source's detectors on them in order, and returns what started firing or
resolved since the last tick: the AlertBook deduplicates, so an alert is announced once
when it fires and once when it resolves. Windows that closed long ago (history read at
start) train the detectors without announcing anything: an alert that already ended is not
news, and one still going is announced at the first current window. MonitorLoop
(monitor_loop.py) drives it from the readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from advertisex.alerting.alert import Alert, AlertBook
from advertisex.monitor.campaign_watch import CampaignWatch
from advertisex.monitor.reconcile import Reconciler, ReconcileUnavailable
from advertisex.monitor.settings import MonitorSettings
from advertisex.monitor.source_watch import Finding, SourceWatch
from advertisex.monitor.watermark_watch import WatermarkWatch
from advertisex.monitor.windows import SOURCES, DqWindow, WindowCloser


class Monitor:
    def __init__(
        self,
        settings: MonitorSettings | None = None,
        scope: Mapping[str, str] | None = None,
        sources: tuple[str, ...] = SOURCES,
        reconciler: Reconciler | None = None,
    ):
        """scope: labels naming what is watched (e.g. the pipeline's topic prefix, or the
        job's namespace and name), added to every alert."""
        self.settings = settings or MonitorSettings()
        self.scope = dict(scope or {})
        self.closer = WindowCloser(self.settings.window_ms, self.settings.grace_ms, sources)
        self.watches = {source: SourceWatch(source, self.settings) for source in sources}
        self.campaigns = CampaignWatch(self.settings)
        # Raw topics against Pinot, per source and interval (None: not reconciled).
        self.reconciler = reconciler
        self.reconcile_error: str | None = None
        self.book = AlertBook(repeat_interval=None)
        self.last_window: dict[str, DqWindow] = {}
        # Each source's findings after its latest window: a tick that closes no window of
        # a source keeps what it said.
        self.findings: dict[str, list[Finding]] = {source: [] for source in sources}
        self.watermark = WatermarkWatch(self.settings)
        self.watermark_findings: list[Finding] = []
        self.watermark_read_ms: int | None = None

    def add_row(self, row: dict) -> None:
        if row.get("source") in self.watches:
            self.closer.add(row)

    def add_campaign_row(self, row: dict) -> None:
        """A campaign_metrics_1m row (an upsert: a minute's latest so far); its minute is
        judged once it has settled (CampaignWatch)."""
        self.campaigns.observe(row)

    def watermark_due(self, now_ms: int) -> bool:
        return (
            self.watermark_read_ms is None
            or now_ms - self.watermark_read_ms >= self.settings.watermark_poll_s * 1000
        )

    def observe_watermark_lag(self, lag_s: float | None, now_ms: int) -> None:
        """One reading of the job's watermark lag (None: none could be read)."""
        self.watermark_read_ms = now_ms
        self.watermark_findings = self.watermark.observe(lag_s, now_ms)

    def tick(self, now_ms: int) -> list[Alert]:
        """Judge the windows closed by now_ms; the alerts that started or resolved."""
        findings: dict[str, list[Finding]] = {}
        newest_end = 0
        for window in self.closer.closed(now_ms):
            findings[window.source] = self.watches[window.source].observe(window)
            self.last_window[window.source] = window
            newest_end = max(newest_end, window.end_ms)
        if self.reconciler is not None:
            try:
                self.reconciler.tick(now_ms)
                self.reconcile_error = None
            except ReconcileUnavailable as exc:  # retried at the next tick
                self.reconcile_error = str(exc)
        # History: windows that ended before the last one that could be current.
        current_from = now_ms - self.settings.grace_ms - 2 * self.settings.window_ms
        self.findings.update(findings)
        firing = [f for source in self.watches for f in self.findings[source]]
        firing += self.campaigns.active()
        firing += self.watermark_findings
        if self.reconciler is not None:
            firing += self.reconciler.findings()
        alerts = [self._alert(f, newest_end or now_ms) for f in firing]
        if newest_end and newest_end < current_from:
            return []
        return self.book.update(alerts, datetime.fromtimestamp(now_ms / 1000, UTC))

    def firing(self) -> list[Alert]:
        return self.book.firing()

    def _alert(self, finding: Finding, at_ms: int) -> Alert:
        labels = {
            "alertname": finding.alertname,
            "severity": finding.severity,
            "source": finding.source,
            **self.scope,
            **dict(finding.extra_labels),
        }
        return Alert(
            labels=labels,
            annotations={
                "summary": f"{finding.source}: {finding.summary}",
                "description": f"{finding.alertname} for source {finding.source}: "
                f"{finding.summary} (windows of {self.settings.window_s:g} s)",
                "runbook": finding.runbook,
            },
            starts_at=datetime.fromtimestamp(at_ms / 1000, UTC),
        )
