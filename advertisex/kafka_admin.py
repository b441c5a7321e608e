"""Create Kafka topics that are missing (shared by the ingestion and the pipeline), or
bring existing ones in line with their specs (`advertisex bootstrap`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def ensure_topics(
    bootstrap: str, specs: list[TopicSpec], client_config: dict | None = None
) -> list[str]:
    """Create the topics that do not exist; return the names created.

    client_config: more KafkaAdminClient keyword arguments (security:
    advertisex.kafka_auth.kafka_python_config).
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **(client_config or {}))
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            s.name,
                            num_partitions=s.partitions,
                            replication_factor=1,
                            topic_configs=s.config,
                        )
                        for s in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # another client created it meanwhile
        return [s.name for s in missing]
    finally:
        admin.close()


class KafkaUnreachable(RuntimeError):
    """No broker answers at the bootstrap address."""


@dataclass(frozen=True)
class TopicOutcome:
    spec: TopicSpec
    status: str  # created | unchanged | updated | refused
    detail: str = ""


def reconcile_topics(
    bootstrap: str, specs: list[TopicSpec], client_config: dict | None = None
) -> list[TopicOutcome]:
    """Create missing topics; set the configs of the spec that an existing topic has with
    another value (other configs are left alone). A partition count that differs is never
    changed: a new count moves keys to other partitions; it is reported as refused.
    client_config as for ensure_topics."""
    client_config = client_config or {}
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, bootstrap_timeout_ms=10_000, **client_config
        )
    except KafkaError:
        raise KafkaUnreachable(
            f"Kafka at {bootstrap} is not reachable: start it with `advertisex stack up kafka`"
        ) from None
    try:
        existing = set(admin.list_topics())
        outcomes = {}
        missing = [s for s in specs if s.name not in existing]
        if missing:
            created = ensure_topics(bootstrap, missing, client_config)
            for spec in missing:
                status = "created" if spec.name in created else "unchanged"
                outcomes[spec.name] = TopicOutcome(spec, status)
        present = [s for s in specs if s.name in existing]
        if present:
            partitions = {
                t["name"]: len(t["partitions"])
                for t in admin.describe_topics([s.name for s in present])
            }
            configs = _topic_configs(admin, present)
            for spec in present:
                outcomes[spec.name] = _reconcile_one(
                    admin, spec, partitions[spec.name], configs[spec.name]
                )
        return [outcomes[s.name] for s in specs]
    finally:
        admin.close()


def _topic_configs(admin: KafkaAdminClient, specs: list[TopicSpec]) -> dict[str, dict]:
    """Each topic's current value of the configs its spec sets (defaults included)."""
    wanted = [s for s in specs if s.config]
    found = {s.name: {} for s in specs}
    if not wanted:
        return found
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, s.name, dict.fromkeys(s.config)) for s in wanted
    ]
    described = admin.describe_configs(resources, config_filter="all")
    for name, entries in next(iter(described.values())).items():
        found[name] = {key: _config_value(entry) for key, entry in entries.items()}
    return found


def _config_value(entry) -> str | None:
    return entry.get("value") if isinstance(entry, dict) else entry


def _reconcile_one(
    admin: KafkaAdminClient, spec: TopicSpec, partitions: int, config: dict
) -> TopicOutcome:
    if partitions != spec.partitions:
        return TopicOutcome(
            spec,
            "refused",
            f"has {partitions} partitions, the spec says {spec.partitions}: partitions are "
            "not changed here, because a new count sends keys to other partitions and Pinot "
            "deduplicates and upserts within a partition only",
        )
    changed = {k: v for k, v in spec.config.items() if config.get(k) != v}
    if not changed:
        return TopicOutcome(spec, "unchanged")
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, spec.name, changed)], incremental=True
    )
    detail = ", ".join(f"{k}: {config.get(k)} -> {v}" for k, v in changed.items())
    return TopicOutcome(spec, "updated", detail)
