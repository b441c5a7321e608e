"""The raw topics the sources write to, and their creation."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

RAW_TOPICS = {
    "impressions": "ad-impressions",
    "clicks_conversions": "ad-clicks-conversions",
    "bid_requests": "bid-requests",
}
CAMPAIGN_TOPIC = "dim-campaigns"
WEEK_MS = 7 * 24 * 3_600_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def raw_topic_specs(partitions: int = 4) -> list[TopicSpec]:
    """Raw topics keep a week (room for a backfill or a replay after an outage); the
    campaign dimension is compacted, so the latest row of each campaign is kept forever."""
    specs = [
        TopicSpec(name, partitions, {"retention.ms": str(WEEK_MS)}) for name in RAW_TOPICS.values()
    ]
    specs.append(
        TopicSpec(
            CAMPAIGN_TOPIC,
            1,
            {
                "cleanup.policy": "compact",
                "min.compaction.lag.ms": "0",
                "segment.ms": "3600000",
            },
        )
    )
    return specs


def ensure_topics(bootstrap: str, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that do not exist; return the names created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
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
                pass  # another producer created it meanwhile
        return [s.name for s in missing]
    finally:
        admin.close()
