"""How a job's spec.lagAlert becomes the evaluator's settings and its receivers."""

from advertisex_operator.alert_channels import receivers
from advertisex_operator.lag_alerts import checkpoint_interval_s, lag_settings
from advertisex_operator.settings import OperatorSettings
from advertisex_operator.spec import FlinkSqlJobSpec


def spec(lag_alert: dict, configuration: dict | None = None, receivers=()) -> FlinkSqlJobSpec:
    return FlinkSqlJobSpec.model_validate(
        {
            "job": {"pipeline": "advertisex-pipeline", "flinkConfiguration": configuration or {}},
            "lagAlert": lag_alert,
            "alertReceivers": list(receivers),
        }
    )


def test_the_window_is_widened_to_span_two_checkpoints():
    # 5 s checkpoints polled each second: 11 polls at least, STOP after 15 s without one.
    fitted = lag_settings(spec({"window": 3, "intervalSeconds": 1, "maxLagRecords": 50}))
    assert (fitted.window, fitted.stop_after_s, fitted.max_lag_records) == (11, 15.0, 50)
    wide = lag_settings(spec({"window": 30, "intervalSeconds": 1}))
    assert wide.window == 30


def test_the_checkpoint_interval_comes_from_the_job_configuration():
    assert checkpoint_interval_s(spec({})) == 5.0
    assert checkpoint_interval_s(spec({}, {"execution.checkpointing.interval": "20 s"})) == 20.0
    assert checkpoint_interval_s(spec({}, {"execution.checkpointing.interval": "2min"})) == 120.0
    assert checkpoint_interval_s(spec({}, {"execution.checkpointing.interval": "1500"})) == 1.5
    assert checkpoint_interval_s(spec({}, {"execution.checkpointing.interval": "soon"})) == 5.0


def test_receivers_are_the_operators_then_the_jobs():
    settings = OperatorSettings(
        receivers=[{"name": "ops", "url": "http://am/a"}], external_url="http://x"
    )
    found = receivers(
        spec({}, receivers=[{"name": "team", "url": "http://t/b", "groupBy": ["name"]}]), settings
    )
    assert [(r.name, r.url, tuple(r.group_by), r.external_url) for r in found] == [
        ("ops", "http://am/a", ("alertname", "namespace", "name"), "http://x"),
        ("team", "http://t/b", ("name",), "http://x"),
    ]
