"""A small stateful PyFlink job for the job-client tests, submitted with `flink run -py`.

usage: count_keys_job.py BOOTSTRAP SOURCE_TOPIC SINK_TOPIC STARTUP_MODE
"""

import sys
from pathlib import Path

from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment
from pyflink.table.udf import udf

SQL = (Path(__file__).parent / "count_keys.sql").read_text()


@udf(result_type=DataTypes.STRING())
def shout(key: str) -> str:
    return key.upper()


def main(bootstrap: str, source_topic: str, sink_topic: str, startup_mode: str) -> None:
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("pipeline.name", f"count-keys {source_topic}")
    env.create_temporary_function("shout", shout)
    statements = SQL.format(
        bootstrap=bootstrap,
        source_topic=source_topic,
        sink_topic=sink_topic,
        startup_mode=startup_mode,
    )
    *ddl, insert = [s for s in statements.split(";") if s.strip()]
    for statement in ddl:
        env.execute_sql(statement)
    # Detached under `flink run -d`: returns once the job is submitted.
    env.execute_sql(insert)


if __name__ == "__main__":
    main(*sys.argv[1:])
