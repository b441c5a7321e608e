"""The FlinkSqlJob spec as typed models: what the CRD's schema says, with its defaults.

The API server has already checked the schema (helm/advertisex/crds/); these models give the
operator typed access and hold the checks a schema cannot make (validate_spec).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from advertisex.monitor.settings import MonitorSettings


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class JobSpec(_Model):
    pipeline: Literal["advertisex-pipeline"] = Field(description="flink_jobs/pipeline.py")
    parallelism: int = Field(1, ge=1)
    state: Literal["running", "suspended"] = "running"
    upgrade_mode: Literal["stateless", "savepoint", "last-state"] = "savepoint"
    initial_savepoint_path: str | None = None
    allow_non_restored_state: bool = False
    topic_prefix: str = ""
    group_id: str | None = Field(None, description="default: <namespace>.<name>")
    dq_window_seconds: int = Field(
        60, ge=1, description="the job's dq_metrics window (--dq-window-s); the monitor's too"
    )
    flink_configuration: dict[str, str] = Field(default_factory=dict)


class FlinkSpec(_Model):
    rest_url: str


class SavepointSpec(_Model):
    directory: str
    history_max_count: int = Field(5, ge=1)


class RestartPolicy(_Model):
    max_restarts: int = Field(5, ge=0)
    backoff_seconds: int = Field(10, ge=0)


class CredentialsRef(_Model):
    name: str
    username_key: str = "username"
    password_key: str = "password"


class KafkaSpec(_Model):
    bootstrap_servers: str
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    credentials_secret_ref: CredentialsRef | None = None


class LagAlertSpec(_Model):
    max_lag_records: int | None = Field(None, ge=0)
    max_lag_seconds: int | None = Field(None, ge=0)
    window: int = Field(10, ge=2)
    interval_seconds: int = Field(10, ge=1)


class Receiver(_Model):
    name: str
    url: str
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "namespace", "name"])


class DataQualitySpec(_Model):
    """The data-quality monitor run for this job (advertisex/monitor, docs/monitor.md)."""

    enabled: bool = True
    history_minutes: float = Field(
        120, ge=0, description="dq_metrics read back at start to learn the baselines"
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="MonitorSettings fields in camelCase, e.g. invalidRateMax"
    )

    def monitor_settings(self, window_s: int) -> MonitorSettings:
        """The monitor's settings: its defaults, these thresholds, the job's window. A
        ValueError names the threshold and says what is wrong."""
        known = {to_camel(f): f for f in MonitorSettings.model_fields if f != "window_s"}
        values: dict[str, float] = {}
        for key, value in self.thresholds.items():
            if key not in known:
                raise ValueError(
                    f"spec.dataQuality.thresholds.{key} is not a monitor setting: use one of "
                    f"{', '.join(sorted(known))} (the window is spec.job.dqWindowSeconds)"
                )
            values[known[key]] = value
        try:
            return MonitorSettings(**values, window_s=window_s)
        except ValidationError as exc:
            problems = "; ".join(
                f"spec.dataQuality.thresholds.{to_camel(str(e['loc'][0]))}: {e['msg']}"
                for e in exc.errors()
            )
            raise ValueError(problems) from None


class FlinkSqlJobSpec(_Model):
    job: JobSpec
    flink: FlinkSpec | None = None
    savepoints: SavepointSpec | None = None
    restart_nonce: int | None = None
    restart_policy: RestartPolicy = RestartPolicy()
    deletion_policy: Literal["savepoint", "cancel"] = "savepoint"
    kafka: KafkaSpec | None = None
    lag_alert: LagAlertSpec = LagAlertSpec()
    alert_receivers: list[Receiver] = Field(default_factory=list)
    data_quality: DataQualitySpec = DataQualitySpec()

    def upgrade_key(self) -> dict:
        """The part of the spec whose change needs the job resubmitted.

        `state`, the restart nonce and policy, lag alerting, data-quality monitoring and
        receivers are acted on without an upgrade, so they are left out.
        """
        job = self.job.model_dump(by_alias=True, exclude={"state"})
        return {
            "job": job,
            "flink": self.flink.model_dump(by_alias=True) if self.flink else None,
            "kafka": self.kafka.model_dump(by_alias=True) if self.kafka else None,
        }


def validate_spec(
    spec: FlinkSqlJobSpec, defaults_have_kafka: bool, defaults_have_flink: bool
) -> str | None:
    """What the schema cannot check: a message naming the field and the fix, or None."""
    if spec.flink is None and not defaults_have_flink:
        return (
            "spec.flink.restUrl is not set and the operator has no default Flink address: "
            "set spec.flink.restUrl or the chart's flink.restUrl"
        )
    if spec.kafka is None and not defaults_have_kafka:
        return (
            "spec.kafka.bootstrapServers is not set and the operator has no default Kafka: "
            "set spec.kafka.bootstrapServers or the chart's kafka.bootstrapServers"
        )
    kafka = spec.kafka
    if kafka and kafka.security_protocol.startswith("SASL"):
        if kafka.sasl_mechanism is None:
            protocol = kafka.security_protocol
            return f"spec.kafka.saslMechanism is required with securityProtocol {protocol}"
        if kafka.credentials_secret_ref is None:
            return (
                f"spec.kafka.credentialsSecretRef is required with securityProtocol "
                f"{kafka.security_protocol}: name a Secret holding the username and password"
            )
    if kafka and kafka.credentials_secret_ref and not kafka.security_protocol.startswith("SASL"):
        return (
            "spec.kafka.credentialsSecretRef is set but spec.kafka.securityProtocol is "
            f"{kafka.security_protocol}: set SASL_PLAINTEXT or SASL_SSL, or drop the reference"
        )
    try:
        spec.data_quality.monitor_settings(spec.job.dq_window_seconds)
    except ValueError as exc:
        return str(exc)
    for key in spec.job.flink_configuration:
        if key in ("parallelism.default", "pipeline.name"):
            field = "spec.job.parallelism" if key == "parallelism.default" else "metadata.name"
            return (
                f"spec.job.flinkConfiguration.{key} is set by the operator from {field}: remove it"
            )
    return None
