"""The campaign dimension, held in memory by each validation UDF instance.

Loaded whole from the compacted topic (or the batch input's file) before the first record
is enriched, then refreshed in the background, so enrichment is a dict lookup and needs no
watermark: records leave as soon as they are checked. A campaign missing from the
dimension is kept and flagged.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

ENRICHMENT = (
    "advertiser_id",
    "campaign_name",
    "campaign_status",
    "campaign_daily_budget_micros",
    "campaign_known",
)
UNKNOWN = (None, None, None, None, False)


def _entry(row: dict) -> tuple:
    return (
        row.get("advertiser_id"),
        row.get("name"),
        row.get("status"),
        row.get("daily_budget_micros"),
        True,
    )


class CampaignDirectory:
    def __init__(self) -> None:
        self._by_id: dict[str, tuple] = {}
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def lookup(self, campaign_id: str | None) -> tuple:
        """(advertiser_id, name, status, daily budget, known) of a campaign."""
        if campaign_id is None:
            return UNKNOWN
        return self._by_id.get(campaign_id, UNKNOWN)

    def apply(self, row: dict | None, key: str | None = None) -> None:
        """One row of the dimension: newer versions replace older; None deletes."""
        with self._lock:
            if row is None:
                if key is not None:
                    self._by_id.pop(key, None)
                return
            campaign_id = row["campaign_id"]
            updated = int(row.get("updated_at_ms") or 0)
            if updated >= self._versions.get(campaign_id, -1):
                self._versions[campaign_id] = updated
                self._by_id[campaign_id] = _entry(row)

    def __len__(self) -> int:
        return len(self._by_id)

    @classmethod
    def from_file(cls, path: Path) -> CampaignDirectory:
        directory = cls()
        for line in Path(path).read_text().splitlines():
            if line.strip():
                directory.apply(json.loads(line))
        return directory

    @classmethod
    def from_kafka(
        cls, bootstrap: str, topic: str, refresh_s: float = 30.0, client_config: dict | None = None
    ) -> CampaignDirectory:
        """Read the topic to its end now; keep following it in a daemon thread.

        client_config: more KafkaConsumer keyword arguments (security:
        advertisex.kafka_auth.kafka_python_config).
        """
        directory = cls()
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            **(client_config or {}),
        )
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            directory._consume(consumer.poll(timeout_ms=1000))

        def follow() -> None:
            while True:
                directory._consume(consumer.poll(timeout_ms=int(refresh_s * 1000)))

        threading.Thread(target=follow, name="campaign-directory", daemon=True).start()
        return directory

    def _consume(self, batches: dict) -> None:
        for records in batches.values():
            for record in records:
                key = record.key.decode() if record.key else None
                self.apply(json.loads(record.value) if record.value else None, key)
