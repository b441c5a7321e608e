"""Creating the raw topics the sources write to, and the campaign dimension's topic."""

from __future__ import annotations

import zlib

from advertisex.contract.topics import CAMPAIGN_TOPIC, RAW_TOPICS
from advertisex.kafka_admin import TopicSpec, ensure_topics

__all__ = [
    "CAMPAIGN_TOPIC",
    "RAW_PARTITIONS",
    "RAW_TOPICS",
    "TopicSpec",
    "ensure_topics",
    "partition_for",
    "raw_topic_specs",
]
RAW_PARTITIONS = 4
WEEK_MS = 7 * 24 * 3_600_000
# The broker stamps each message with the time it arrived (LogAppendTime), whatever its
# producer set: retention then counts from arrival, so a replay of history weeks old is kept
# a week like any traffic, and no producer's clock (ahead, behind, or an event time it
# chose to stamp) can have its messages refused or deleted early. Event time is read from
# the payload (contract 2.5), never from this timestamp.
RAW_CONFIG = {"retention.ms": str(WEEK_MS), "message.timestamp.type": "LogAppendTime"}


def raw_topic_specs(partitions: int = RAW_PARTITIONS, prefix: str = "") -> list[TopicSpec]:
    """Raw topics keep what arrived in the last week (room to reprocess after an outage),
    whatever the event times it carries; the campaign dimension is compacted, so the latest
    row of each campaign is kept forever. prefix goes before every name (isolated runs,
    such as tests)."""
    specs = [TopicSpec(prefix + name, partitions, RAW_CONFIG) for name in RAW_TOPICS.values()]
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "3600000"}
    specs.append(TopicSpec(prefix + CAMPAIGN_TOPIC, 1, compacted))
    return specs


def partition_for(key: str, payload: bytes, partitions: int) -> int:
    """The raw partition our producers send a message to: CRC-32 of its key, or of its
    bytes when it has none (a record whose id cannot be read). Chosen by us, not by the
    client's partitioner, so that the ground truth knows each message's partition: the
    watermark, and so lateness, is per partition (contract 2.5). A redelivery, byte for byte
    the same, lands beside its original."""
    return zlib.crc32(key.encode() if key else payload) % partitions
