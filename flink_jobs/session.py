"""A PyFlink TableEnvironment that submits its jobs to a running session cluster."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlparse

from pyflink.table import EnvironmentSettings, TableEnvironment


def remote_table_environment(
    rest_url: str,
    jars: Iterable[Path],
    streaming: bool = True,
    options: Mapping[str, str] | None = None,
) -> TableEnvironment:
    """A TableEnvironment whose statements run on the session cluster at rest_url.

    jars are the connector jars the client needs to plan the job (the cluster has its own
    copy on its class path); options are further Flink settings such as checkpointing.
    """
    url = urlparse(rest_url)
    settings = EnvironmentSettings.new_instance()
    settings = settings.in_streaming_mode() if streaming else settings.in_batch_mode()
    env = TableEnvironment.create(settings.build())
    config = env.get_config()
    for key, value in {
        "execution.target": "remote",
        "rest.address": url.hostname or "127.0.0.1",
        "rest.port": str(url.port or 8081),
        "pipeline.jars": ";".join(Path(j).resolve().as_uri() for j in jars),
        **(options or {}),
    }.items():
        config.set(key, value)
    return env
