"""Read the dq_metrics topic: every row written from `since_ms` on, then rows as they come.

The topic is the job's upsert output (a compacted topic, written in transactions), so the
reader reads committed data only and keeps no consumer group: each monitor reads the
history it needs to learn its baselines, from a point in time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from advertisex.contract.topics import output_topics

_DEFAULTS = KafkaConsumer.DEFAULT_CONFIG
EMPTY_POLLS = 3


class DqTopicUnavailable(RuntimeError):
    """Kafka or the topic is not there; the message says which and what to do."""


class DqReader:
    def __init__(
        self,
        bootstrap: str,
        topic_prefix: str = "",
        client_config: dict | None = None,
        output: str = "dq_metrics",
    ):
        self.topic = topic_prefix + output_topics()[output]
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=None,
                enable_auto_commit=False,
                isolation_level="read_committed",
                auto_offset_reset="earliest",
                client_id="advertisex-monitor",
                # Say at once that no broker answers (kafka-python 3 waits 30 s by default).
                **({"bootstrap_timeout_ms": 5000} if "bootstrap_timeout_ms" in _DEFAULTS else {}),
                **(client_config or {}),
            )
        except (KafkaConnectionError, KafkaTimeoutError):  # kafka-python 3: no broker
            raise DqTopicUnavailable(
                f"no Kafka broker answers at {bootstrap}: start the local stack with "
                "`advertisex stack up` or pass --bootstrap"
            ) from None
        partitions = self.consumer.partitions_for_topic(self.topic)
        if not partitions:
            self.consumer.close()
            raise DqTopicUnavailable(
                f"topic {self.topic} does not exist on {bootstrap}: start the pipeline "
                f"(`advertisex job run`) with this topic prefix ({topic_prefix!r})"
            )
        self.partitions = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(self.partitions)
        self.caught_up = False  # see poll()
        self._history_end = self.consumer.end_offsets(self.partitions)
        self._empty_polls = 0

    def seek_to_time(self, since_ms: int) -> None:
        """Start at the first row written at or after since_ms (the end if none)."""
        found = self.consumer.offsets_for_times({tp: since_ms for tp in self.partitions})
        ends = self.consumer.end_offsets(self.partitions)
        for tp in self.partitions:
            at = found.get(tp)
            self.consumer.seek(tp, at.offset if at is not None else ends[tp])
        self._history_end, self._empty_polls, self.caught_up = ends, 0, False

    def poll(self, timeout_ms: int = 500) -> Iterator[dict]:
        """The rows that arrived within timeout_ms (tombstones skipped).

        `caught_up` turns True once the reader has reached the topic's end as it was when
        the reader started (or seeked), or after EMPTY_POLLS polls in a row found nothing
        (a position that stops short of that end, at a transaction marker). Until then a
        window closed by the clock may still have rows to come, so the monitor judges
        nothing: it would take the windows not read yet for silence."""
        try:
            batches = self.consumer.poll(timeout_ms=timeout_ms)
        except KafkaError as exc:
            raise DqTopicUnavailable(f"reading {self.topic} failed: {exc}") from exc
        if not self.caught_up:
            self._empty_polls = 0 if batches else self._empty_polls + 1
            self.caught_up = self._empty_polls >= EMPTY_POLLS or all(
                self.consumer.position(tp) >= end for tp, end in self._history_end.items()
            )
        for records in batches.values():
            for record in records:
                if record.value:
                    yield json.loads(record.value)

    def close(self) -> None:
        self.consumer.close()
