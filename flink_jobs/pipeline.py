"""The AdvertiseX pipeline as one Flink job: a statement set over the stages' SQL files.

Streaming (Kafka in, Kafka out) runs on the session cluster with `advertisex job run`
(which calls `flink run -py` on this file), or directly:
`flink run -py flink_jobs/pipeline.py -- --bootstrap HOST:PORT`. Batch (files in, files
out) is flink_jobs/batch.py: the same SQL over other tables.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from pydantic import BaseModel, Field
from pyflink.common.configuration import Configuration
from pyflink.table import EnvironmentSettings, StatementSet, TableEnvironment

from advertisex.contract.topics import CAMPAIGN_TOPIC, record_id_field
from advertisex.kafka_admin import ensure_topics
from advertisex.kafka_auth import kafka_python_config, properties_from_env
from flink_jobs.schema_types import validated_fields
from flink_jobs.sql_files import statements
from flink_jobs.tables import KafkaOptions, KafkaTables, connector_properties
from flink_jobs.udfs import SOURCES, CampaignSource, register

# The SQL files in order: each reads views the ones before it define.
STAGES = ("validate", "first_seen", "dead_letters", "records", "correlate", "metrics", "quality")
# Stages whose file is one template, instantiated per source.
PER_SOURCE_STAGES = ("validate", "first_seen")
OUTPUTS = (
    "dead_letters",
    "impressions",
    "clicks",
    "conversions",
    "bid_requests",
    "attributed_clicks",
    "attributed_conversions",
    "campaign_metrics_1m",
    "dq_metrics",
)
_VIEW = re.compile(r"CREATE TEMPORARY VIEW (\w+) AS\s+(.*)", re.DOTALL | re.IGNORECASE)


class PipelineSettings(BaseModel):
    """The contract's configurable rules and the job's runtime settings."""

    out_of_orderness_s: int = Field(10, ge=0, description="how far the watermark trails")
    click_window_s: int = Field(1800, gt=0, description="click attribution window")
    conversion_window_s: int = Field(7 * 86_400, gt=0, description="last-click window")
    dedup_horizon_s: int = Field(
        86_400, gt=0, description="an id is remembered this long after its event time"
    )
    campaign_minute_grace_s: int = Field(
        86_400, ge=0, description="a campaign-minute stays open this long after its end"
    )
    idle_timeout: str = Field("5 s", description="a quiet partition stops holding time back")
    checkpoint_interval: str = "5 s"
    mini_batch_latency: str = Field("500 ms", description="how long an aggregate batches")
    dq_window_s: int = Field(
        60, gt=0, description="dq_metrics window (arrival time); shorter in accelerated tests"
    )
    parallelism: int | None = Field(None, ge=1, description="default: flink run -p, or 1")

    def sql_parameters(self) -> dict[str, str]:
        return {
            "out_of_orderness": _interval(self.out_of_orderness_s),
            "click_window": _interval(self.click_window_s),
            "conversion_window": _interval(self.conversion_window_s),
            "dq_window_ms": str(self.dq_window_s * 1000),
            "aggregate_state_ttl": f"{self.aggregate_state_ttl_s}s",
            "dedup_horizon": _interval(self.dedup_horizon_s),
            "campaign_minute_grace_ms": str(self.campaign_minute_grace_s * 1000),
        }

    @property
    def aggregate_state_ttl_s(self) -> int:
        """How long an aggregate row's state outlives its last update: the conversion
        window and a day. Its last update (an unmatched conversion leaving the join, when
        the watermark passes the conversion's time) comes soon after arrival on a live job,
        but as late as the job lags or stays stopped; this keeps a row that long."""
        return self.conversion_window_s + 86_400

    def apply(self, env: TableEnvironment, job_name: str) -> None:
        config = env.get_config()
        for key, value in {
            "pipeline.name": job_name,
            "execution.checkpointing.interval": self.checkpoint_interval,
            # Operators without a bound of their own (the late flag's running maximum, one key
            # per Kafka partition): deduplication, campaign-minutes, the last click and the
            # joins forget by event time, dq_metrics has a hint.
            "table.exec.state.ttl": f"{self.dedup_horizon_s} s",
            "table.exec.source.idle-timeout": self.idle_timeout,
            "table.local-time-zone": "UTC",
            # The upsert sinks buffer and keep the last row per key. Each upsert output's key
            # is a function of its GROUP BY / PARTITION BY keys, so the sink needs no extra
            # materializing state to order its updates.
            "table.exec.sink.upsert-materialize": "NONE",
            # Aggregates fold a batch of records per key into one state access and one
            # update (dq_metrics has three hot keys), first locally, then per key.
            "table.exec.mini-batch.enabled": "true",
            "table.exec.mini-batch.allow-latency": self.mini_batch_latency,
            "table.exec.mini-batch.size": "5000",
            "table.optimizer.agg-phase-strategy": "TWO_PHASE",
            # A chained operator gets its input row as is, not a deep copy of it: Flink's SQL
            # operators copy what they keep (mini-batch buffers, the upsert sinks' buffers),
            # and our functions return new rows. Measured: -13% TaskManager CPU per message
            # (bench/README.md, object reuse).
            "pipeline.object-reuse": "true",
        }.items():
            config.set(key, value)
        if self.parallelism:
            config.set("parallelism.default", str(self.parallelism))


def _interval(seconds: int) -> str:
    """An interval literal Flink SQL accepts for any length (SECOND takes 2 digits)."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{secs:02d}' DAY TO SECOND"


def functions_jar() -> Path:
    """The JVM functions' jar: $ADVERTISEX_FUNCTIONS_JAR (an image that ships it), else built
    from flink_jobs/java into the cache (once; `advertisex stack fetch` builds it too)."""
    given = os.environ.get("ADVERTISEX_FUNCTIONS_JAR")
    if given:
        return Path(given)
    from advertisex.stack.jars import functions_jar as build_functions_jar

    return build_functions_jar()


def build(
    env: TableEnvironment, tables, campaigns: CampaignSource, settings: PipelineSettings
) -> StatementSet:
    """Register functions and tables, define the views, and gather the INSERTs in one set.

    tables gives raw_source(source), output_sink(name) and the SQL that differs between
    streaming and batch (sql_parameters) (flink_jobs/tables.py). Views are registered from
    Table objects, so that each is planned once for all its readers: the check function then
    runs once per message, not once per output.
    """
    config = env.get_config()
    # Beside what `flink run` put there (its value is a YAML list, or `;`-separated).
    jars = Configuration.parse_list_value(config.get("pipeline.jars", "")) or []
    config.set("pipeline.jars", ";".join([*jars, functions_jar().resolve().as_uri()]))
    register(env, campaigns)
    for source in SOURCES:
        env.create_temporary_table(f"raw_{source}", tables.raw_source(source))
    for name in OUTPUTS:
        env.create_temporary_table(name, tables.output_sink(name))
    parameters = settings.sql_parameters()
    parameters |= tables.sql_parameters(parameters["out_of_orderness"])
    statement_set = env.create_statement_set()
    for stage in STAGES:
        for source in SOURCES if stage in PER_SOURCE_STAGES else (None,):
            for statement in statements(
                stage, parameters | _per_source(source, tables, parameters)
            ):
                view = _VIEW.match(statement)
                if view:
                    env.create_temporary_view(view.group(1), env.sql_query(view.group(2)))
                elif statement.upper().startswith("INSERT"):
                    statement_set.add_insert_sql(statement)
                else:
                    env.execute_sql(statement)
    return statement_set


def _per_source(source: str | None, tables, parameters: dict[str, str]) -> dict[str, str]:
    """The parameters of a stage written once for every source: its name, the columns its
    check yields (from the schema files), its id and how the mode keeps its first record."""
    if source is None:
        return {}
    names = [name for name, _ in validated_fields(source)]
    key = record_id_field(source)
    return {
        "source": source,
        "validated_columns": ", ".join(f"v.{name}" for name in names),
        "record_columns": ", ".join(names),
        "id": key,
        "first_occurrence": tables.first_occurrence(source, key, parameters["dedup_horizon"]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--topic-prefix", default="")
    parser.add_argument("--group-id", default="advertisex-pipeline")
    parser.add_argument("--job-name", default="advertisex-pipeline")
    parser.add_argument(
        "--max-drift-s",
        type=int,
        default=None,
        help="watermark alignment of the raw partitions, seconds (default off: tables.py)",
    )
    for name, field in PipelineSettings.model_fields.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=int if field.annotation in (int, int | None) else str,
            default=field.default,
            help=field.description,
        )
    args = parser.parse_args(argv)
    settings = PipelineSettings(
        **{name: getattr(args, name) for name in PipelineSettings.model_fields}
    )

    # Kafka security (advertisex/kafka_auth.py) comes from the environment, not from the
    # arguments, which any process listing shows. Unset: plaintext, as before.
    kafka_properties = properties_from_env()
    client_config = kafka_python_config(kafka_properties)

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    settings.apply(env, args.job_name)
    options = KafkaOptions(
        bootstrap=args.bootstrap,
        out_of_orderness_s=settings.out_of_orderness_s,
        topic_prefix=args.topic_prefix,
        group_id=args.group_id,
        transactional_prefix=args.job_name,
        max_drift_s=args.max_drift_s,
        properties=kafka_properties,
    )
    tables = KafkaTables(options)
    ensure_topics(options.bootstrap, tables.topics(), client_config)
    campaigns = CampaignSource(
        bootstrap=options.bootstrap,
        topic=options.topic_prefix + CAMPAIGN_TOPIC,
        properties=connector_properties(kafka_properties),
    )
    result = build(env, tables, campaigns, settings).execute()
    print(f"JOB_ID {result.get_job_client().get_job_id()}")


if __name__ == "__main__":
    main()
