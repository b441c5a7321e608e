"""The data-quality monitor: detectors that read the pipeline's per-source, per-window
`dq_metrics` series and decide when something is wrong (`detectors`). Pure Python: no I/O
and no clock; the caller feeds the windows and turns firing detectors into alerts
(advertisex.alerting)."""
