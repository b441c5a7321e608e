"""The AdvertiseX pipeline as one Flink job: a statement set over the stages' SQL files.

Run on the session cluster with `advertisex job run` (which calls `flink run -py` on this
file), or directly: `flink run -py flink_jobs/pipeline.py -- --bootstrap HOST:PORT`.
"""

from __future__ import annotations

import argparse

from pyflink.table import EnvironmentSettings, TableEnvironment

from advertisex.contract.topics import CAMPAIGN_TOPIC
from advertisex.kafka_admin import ensure_topics
from flink_jobs.sql_files import statements
from flink_jobs.tables import (
    KafkaOptions,
    checked_sink,
    checked_source,
    output_sink,
    pipeline_topics,
    raw_source,
)
from flink_jobs.udfs import CampaignSource, validators

SOURCES = ("impressions", "clicks_conversions", "bid_requests")
# The SQL files in order; the stages meet through Kafka topics (checked-*) inside the job.
STAGES = ("validate", "route", "records")
RECORD_OUTPUTS = ("impressions", "clicks", "conversions", "bid_requests")


def build(env: TableEnvironment, options: KafkaOptions):
    """Register tables and functions, run the views, and gather the INSERTs in one set."""
    campaigns = CampaignSource(
        bootstrap=options.bootstrap, topic=options.topic_prefix + CAMPAIGN_TOPIC
    )
    for name, function in validators(campaigns).items():
        env.create_temporary_system_function(name, function)
    for source in SOURCES:
        env.create_temporary_table(f"raw_{source}", raw_source(options, source))
        env.create_temporary_table(f"checked_{source}", checked_sink(options, source))
        env.create_temporary_table(f"checked_{source}_in", checked_source(options, source))
    for name in ("dead_letters", *RECORD_OUTPUTS):
        env.create_temporary_table(name, output_sink(options, name))
    statement_set = env.create_statement_set()
    for stage in STAGES:
        for statement in statements(stage):
            if statement.upper().startswith("INSERT"):
                statement_set.add_insert_sql(statement)
            else:
                env.execute_sql(statement)
    return statement_set


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--topic-prefix", default="")
    parser.add_argument("--group-id", default="advertisex-pipeline")
    parser.add_argument("--job-name", default="advertisex-pipeline")
    parser.add_argument("--checkpoint-interval", default="5 s")
    parser.add_argument("--dedup-horizon", default="24 h")
    parser.add_argument("--idle-timeout", default="5 s")
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args(argv)

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    config.set("pipeline.name", args.job_name)
    config.set("parallelism.default", str(args.parallelism))
    config.set("execution.checkpointing.interval", args.checkpoint_interval)
    # The dedup horizon: first-wins state per id is kept this long.
    config.set("table.exec.state.ttl", args.dedup_horizon)
    # A partition that goes quiet must not hold event time back.
    config.set("table.exec.source.idle-timeout", args.idle_timeout)
    options = KafkaOptions(
        bootstrap=args.bootstrap,
        topic_prefix=args.topic_prefix,
        group_id=args.group_id,
        transactional_prefix=args.job_name,
    )
    ensure_topics(options.bootstrap, pipeline_topics(options))
    result = build(env, options).execute()
    print(f"JOB_ID {result.get_job_client().get_job_id()}")


if __name__ == "__main__":
    main()
