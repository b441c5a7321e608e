"""Creating the raw topics the sources write to, and the campaign dimension's topic."""

from __future__ import annotations

from advertisex.contract.topics import CAMPAIGN_TOPIC, RAW_TOPICS
from advertisex.kafka_admin import TopicSpec, ensure_topics

__all__ = ["CAMPAIGN_TOPIC", "RAW_TOPICS", "TopicSpec", "ensure_topics", "raw_topic_specs"]
WEEK_MS = 7 * 24 * 3_600_000
# Messages carry their event time as timestamp. Retention counts from it, and the broker
# would refuse timestamps more than an hour ahead of its clock (Kafka 4's default), which
# simulated traffic, produced faster than real time, soon is.
RAW_CONFIG = {"retention.ms": str(WEEK_MS), "message.timestamp.after.max.ms": str(2**63 - 1)}


def raw_topic_specs(partitions: int = 4, prefix: str = "") -> list[TopicSpec]:
    """Raw topics keep a week of event time (room for a backfill or a replay after an
    outage; older records are deleted soon after they land) and accept event times of any
    future; the campaign dimension is compacted, so the latest row of each campaign is kept
    forever. prefix goes before every name (isolated runs, such as tests)."""
    specs = [TopicSpec(prefix + name, partitions, RAW_CONFIG) for name in RAW_TOPICS.values()]
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "3600000"}
    specs.append(TopicSpec(prefix + CAMPAIGN_TOPIC, 1, compacted))
    return specs
