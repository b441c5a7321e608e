"""Creating the raw topics the sources write to, and the campaign dimension's topic."""

from __future__ import annotations

from advertisex.contract.topics import CAMPAIGN_TOPIC, RAW_TOPICS
from advertisex.kafka_admin import TopicSpec, ensure_topics

__all__ = ["CAMPAIGN_TOPIC", "RAW_TOPICS", "TopicSpec", "ensure_topics", "raw_topic_specs"]
WEEK_MS = 7 * 24 * 3_600_000


def raw_topic_specs(partitions: int = 4, prefix: str = "") -> list[TopicSpec]:
    """Raw topics keep a week (room for a backfill or a replay after an outage); the
    campaign dimension is compacted, so the latest row of each campaign is kept forever.
    prefix goes before every name (isolated runs, such as tests)."""
    specs = [
        TopicSpec(prefix + name, partitions, {"retention.ms": str(WEEK_MS)})
        for name in RAW_TOPICS.values()
    ]
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "3600000"}
    specs.append(TopicSpec(prefix + CAMPAIGN_TOPIC, 1, compacted))
    return specs
