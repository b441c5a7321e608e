"""A consumer group's committed offsets and its partitions' log ends, read from Kafka.

What `lag.LagTracker.observe` takes: `{(topic, partition): (committed or None, end)}`.

The end is the last stable offset (what a `read_committed` consumer can reach), not the
high watermark. Our raw topics and the job's sinks are written in transactions and Flink's
Kafka source reads `read_committed`: records of a transaction still open (a Flink sink keeps
one open for a whole checkpoint interval) lie between the last stable offset and the high
watermark, and no consumer of ours can read them yet. Measured against the high watermark,
every open transaction would show as lag that grows until the checkpoint and then drops, on
a consumer that is fully caught up. After a commit the last stable offset includes the
commit marker, so a caught-up consumer is 1 behind it: `lag.LagSettings.marker_allowance`.
On a topic without transactions both ends are the same.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import kafka.errors
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

Offsets = dict[tuple[str, int], tuple[int | None, int]]

# The security settings the operator passes (kafka-python's names).
SECURITY_KEYS = (
    "security_protocol",
    "sasl_mechanism",
    "sasl_plain_username",
    "sasl_plain_password",
    "ssl_cafile",
    "ssl_check_hostname",
)
# No broker answered (NoBrokersAvailable is kafka-python 2's; 3 raises KafkaTimeoutError).
_UNREACHABLE = tuple(
    getattr(kafka.errors, name)
    for name in ("KafkaConnectionError", "KafkaTimeoutError", "NoBrokersAvailable")
    if hasattr(kafka.errors, name)
)


_RETRY_S = 0.25


class LagReadError(RuntimeError):
    """The offsets could not be read; the message says what and where."""


class KafkaUnreachable(LagReadError):
    """No broker answers at the bootstrap address."""


def _unreachable(bootstrap: str, exc: Exception) -> KafkaUnreachable:
    return KafkaUnreachable(
        f"Kafka at {bootstrap} is not reachable ({type(exc).__name__}: {exc}). Locally, start "
        f"it with `advertisex stack up kafka`; otherwise check the bootstrap address and the "
        f"security settings."
    )


def _client_config(cls: type, admin_config: Mapping | None, timeout_s: float) -> dict:
    """admin_config checked against what the client knows (a Java property name such as
    `security.protocol` is refused with the name to use), plus the timeouts."""
    config = dict(admin_config or {})
    unknown = sorted(k for k in config if k not in cls.DEFAULT_CONFIG)
    if unknown:
        hint = ", ".join(f"{k} (use {k.replace('.', '_')!r}?)" if "." in k else k for k in unknown)
        raise ValueError(f"unknown Kafka client settings for kafka-python: {hint}")
    timeouts = {
        "request_timeout_ms": int(timeout_s * 1000),
        "bootstrap_timeout_ms": int(timeout_s * 1000),  # kafka-python 3
        "api_version_auto_timeout_ms": int(timeout_s * 1000),  # kafka-python 2
    }
    for key, value in timeouts.items():
        if key in cls.DEFAULT_CONFIG:
            config.setdefault(key, value)
    return config


def read_offsets(
    bootstrap: str,
    group_id: str,
    topics: Iterable[str] | None = None,
    admin_config: Mapping | None = None,
    timeout_s: float = 10.0,
) -> Offsets:
    """{(topic, partition): (the group's committed offset or None, the log end)}.

    `topics` None: the topics the group has committed offsets for (a group that never
    committed gives {}). Given topics: every partition of each, None where the group has no
    offset. `admin_config`: kafka-python's client settings, e.g. `security_protocol`,
    `sasl_mechanism`, `sasl_plain_username`, `sasl_plain_password`.

    Raises KafkaUnreachable when no broker answers, LagReadError when a topic does not
    exist or Kafka refuses the request (the message says which).
    """
    config = _client_config(KafkaAdminClient, admin_config, timeout_s)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="advertisex-lag-reader", **config
        )
    except _UNREACHABLE as exc:
        raise _unreachable(bootstrap, exc) from exc
    except KafkaError as exc:
        raise LagReadError(f"cannot connect to Kafka at {bootstrap}: {exc}") from exc
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                committed = _committed_offsets(admin, group_id)
                names = sorted({tp.topic for tp in committed} if topics is None else set(topics))
                if not names:
                    return {}
                partitions = _partitions(admin, bootstrap, names)
                ends = _end_offsets(admin, bootstrap, partitions, admin_config, timeout_s)
                break
            except _UNREACHABLE as exc:
                raise _unreachable(bootstrap, exc) from exc
            except KafkaError as exc:
                # The group coordinator moving or loading (and the offsets topic being
                # created on a new broker's first group request) passes: retry in time.
                if getattr(exc, "retriable", False) and time.monotonic() < deadline:
                    time.sleep(_RETRY_S)
                    continue
                raise LagReadError(
                    f"cannot read the offsets of group {group_id!r} at {bootstrap}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
    finally:
        admin.close()
    result: Offsets = {}
    for tp in partitions:
        meta = committed.get(tp)
        offset = None if meta is None or meta.offset is None or meta.offset < 0 else meta.offset
        result[(tp.topic, tp.partition)] = (offset, ends[tp])
    return result


def _committed_offsets(admin: KafkaAdminClient, group_id: str) -> dict:
    """{TopicPartition: OffsetAndMetadata}: what the group committed ({} if nothing)."""
    if hasattr(admin, "list_group_offsets"):  # kafka-python 3
        return admin.list_group_offsets({group_id: None}).get(group_id, {})
    return admin.list_consumer_group_offsets(group_id)  # kafka-python 2


def _partitions(admin: KafkaAdminClient, bootstrap: str, topics: list[str]) -> list:
    described = admin.describe_topics(topics)
    found = {t["name"]: t for t in described if t.get("error_code", 0) == 0}
    missing = [t for t in topics if t not in found]
    if missing:
        raise LagReadError(f"topic(s) {', '.join(missing)} do not exist on Kafka at {bootstrap}")
    return sorted(
        TopicPartition(name, p["partition_index"])
        for name, t in found.items()
        for p in t["partitions"]
    )


def _end_offsets(
    admin: KafkaAdminClient,
    bootstrap: str,
    partitions: list,
    admin_config: Mapping | None,
    timeout_s: float,
) -> dict:
    """{TopicPartition: last stable offset} (see the module's docstring for why)."""
    if hasattr(admin, "list_partition_offsets"):  # kafka-python 3: ListOffsets from the admin
        from kafka.admin import OffsetSpec

        answer = admin.list_partition_offsets(
            {tp: OffsetSpec.LATEST for tp in partitions}, isolation_level="read_committed"
        )
        return {tp: answer[tp].offset for tp in partitions}
    return end_offsets_by_consumer(bootstrap, partitions, admin_config, timeout_s)


def end_offsets_by_consumer(
    bootstrap: str,
    partitions: list,
    admin_config: Mapping | None = None,
    timeout_s: float = 10.0,
) -> dict:
    """The same ends through a read_committed consumer (kafka-python 2 has no ListOffsets
    in its admin client). The consumer joins no group and commits nothing."""
    config = _client_config(KafkaConsumer, admin_config, timeout_s)
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id="advertisex-lag-reader",
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            **config,
        )
    except _UNREACHABLE as exc:
        raise _unreachable(bootstrap, exc) from exc
    try:
        return consumer.end_offsets(list(partitions))
    finally:
        consumer.close()
