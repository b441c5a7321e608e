"""The operator's own settings, from ADVERTISEX_OPERATOR_* variables (the chart's ConfigMap).

The defaults for Kafka and Flink apply to jobs whose spec names none; receivers get every
job's lag alerts besides the job's own spec.alertReceivers.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from advertisex_operator.spec import Receiver


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADVERTISEX_OPERATOR_", frozen=True)

    default_kafka_bootstrap: str = Field("", description="for jobs without spec.kafka")
    default_kafka_security_protocol: str = "PLAINTEXT"
    default_kafka_sasl_mechanism: str = ""
    default_kafka_credentials_secret: str = Field(
        "", description="a Secret (username, password) in the job's namespace"
    )
    default_flink_rest_url: str = Field("", description="for jobs without spec.flink")
    receivers: list[Receiver] = Field(default_factory=list, description="JSON list")
    external_url: str = Field("", description="externalURL in the Alertmanager payloads")
    reconcile_interval_s: float = Field(5.0, gt=0, description="how often each job is checked")
    metrics_port: int = Field(9108, description="/metrics for Prometheus; 0 turns it off")
    submit_timeout_s: float = Field(300.0, description="how long one `flink run` may take")
    savepoint_timeout_s: float = Field(300.0, description="how long a savepoint may take")
