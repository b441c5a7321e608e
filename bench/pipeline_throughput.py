"""Pipeline throughput: the streaming job, Kafka to Kafka, beside a plain read of the same topics
and a one-process Python consumer that applies the same rules (issue 4).

Run on a running stack (the addresses come from the same ADVERTISEX_* variables as
`advertisex stack up`):

    advertisex stack up kafka flink
    python bench/pipeline_throughput.py [--messages 200000] [--json figures.json]

One run, one table. Every row reads the same simulated traffic (every anomaly knob on):

1. Preload: the simulator's messages go once into raw topics per copy, each copy under a
   topic prefix of its own (`bench-<time>-<id>-p<N>.`): the job reads `<prefix><raw topic>`
   and writes `<prefix><output>`, so each Flink run needs its own raw topics; the job is not
   changed, the data is copied.
2. Raw read: a plain consumer that only counts every message of the raw topics to their end,
   with confluent-kafka (librdkafka, the fastest plain consumer here) and with kafka-python.
3. Plain Python consumer: kafka-python in one process, one record at a time: the contract's
   decoders and standardize functions (what the job's UDFs call), campaign enrichment from
   the dimension topic read at start, first-wins deduplication in a dict, and each valid
   record or dead letter sent as JSON to output topics with kafka-python's producer
   (acks=all, idempotent, NOT transactional; the job's sinks are). Its time is split into
   fetching, the rules, and encoding plus sending.
4. The Flink job at each --parallelism, submitted like `advertisex job run` with its own
   consumer group and prefix, cancelled afterwards (its topics are kept).
5. Where the time goes: the UDF path (decode, standardize, campaign lookup) timed and
   profiled with cProfile in this process on the same messages, beside the CPU time each
   process of the job (TaskManager JVM, Python UDF workers) and the broker spent per
   message, and each task's busy and back-pressured time from the ended job's final I/O
   metrics (REST /jobs/<id>, read after the cancel: final values, nothing stale).

How a Flink run is timed. messages/s = raw messages / (first write -> all committed):
- the end is the first poll (every 0.25 s) at which the job's consumer group has committed
  every raw message. The Kafka source commits when a checkpoint completes, and an (aligned)
  checkpoint completes only once every operator has handled the records before its barrier
  (Python operators finish their bundle first), so a committed offset means those records
  went through the job's operators to its sinks. The
  end is late by up to one checkpoint interval (2 s) plus the checkpoint's duration, so the
  figure is conservative; the "steady" note is the slope between commits, free of that.
- the start is the first poll at which any topic the job writes (its internal and output
  topics, however the job is built) has grown: its first record has been through the UDF.
- not Flink's REST metrics: the REST API serves them through the JobManager's metric
  fetcher, which refreshes at most every `metrics.fetcher.update-interval` (10 s by default;
  seen here: numRecordsOut and KafkaSourceReader.commitsSucceeded move in 10 s steps), too
  coarse for runs of tens of seconds. The job's state is still read there, to stop on a
  failure.
After the end, the bench waits until a read_committed reader sees every dead letter and
record output the simulator's ground truth expects (the plain consumer is held to the same
truth): a check that both did the same work, and the "outputs complete +s" note (the
tail's latency through the job's transactions).

CPU figures read /proc of the stack's processes (pids from the stack's state folder), so
they are exact even when other work shares the machine; wall-clock figures are not.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import html
import json
import os
import pstats
import re
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaPythonPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from advertisex.contract.bid_requests import decode_bid_request
from advertisex.contract.clicks_csv import decode_click_row
from advertisex.contract.errors import ContractError
from advertisex.contract.impressions import decode_impression
from advertisex.contract.rules import (
    standardize_bid_request,
    standardize_click_or_conversion,
    standardize_impression,
)
from advertisex.contract.topics import CAMPAIGN_TOPIC, RAW_TOPICS, output_topics
from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import KafkaSink
from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkError, FlinkRest, FlinkUnreachable, root_cause
from advertisex.jobs.submit import SubmitFailed, submit_python_job
from advertisex.kafka_admin import TopicSpec
from advertisex.stack import supervisor
from advertisex.stack.config import StackConfig
from advertisex.stack.jars import resolve

DAY_MS = 86_400_000
REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "flink_jobs" / "pipeline.py"
SOURCES = ("impressions", "clicks_conversions", "bid_requests")
# source -> (decode, standardize, binary payload, id field): what the job's UDFs call.
RULES = {
    "impressions": (decode_impression, standardize_impression, False, "impression_id"),
    "clicks_conversions": (decode_click_row, standardize_click_or_conversion, False, "event_id"),
    "bid_requests": (decode_bid_request, standardize_bid_request, True, "request_id"),
}
RECORD_OUTPUTS = ("impressions", "clicks", "conversions", "bid_requests")
OUTPUTS = ("dead_letters", *RECORD_OUTPUTS)
# Output field <- campaign dimension field (contract 2.2), then campaign_known.
ENRICHMENT = {
    "advertiser_id": "advertiser_id",
    "campaign_name": "name",
    "campaign_status": "status",
    "campaign_daily_budget_micros": "daily_budget_micros",
}
UNKNOWN_CAMPAIGN = {**dict.fromkeys(ENRICHMENT), "campaign_known": False}
POLL_S = 0.25

err = Console(stderr=True)


@dataclass
class Row:
    label: str
    messages: int = 0
    seconds: float | None = None
    cpu_client_s: float | None = None  # this process, or the job's processes
    cpu_broker_s: float | None = None
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def rate(self) -> float | None:
        return self.messages / self.seconds if self.seconds else None


# --- CPU time of the stack's processes ----------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuClock:
    """CPU seconds so far, per process, of the broker, the TaskManager JVM, its Python UDF
    workers (its descendants) and this process. Pids come from the stack's state folder;
    servers not found there (a stack run elsewhere) are left out."""

    def __init__(self, cfg: StackConfig):
        pids = {s.name: s.pid for s in supervisor.status(cfg, ["kafka", "flink"])}
        self.broker = pids.get("kafka")
        self.taskmanager = pids.get("flink-taskmanager")

    def _descendants(self, root: int) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = _proc_stat(int(entry.name))
                if stat:
                    children.setdefault(stat[0], []).append(int(entry.name))
        found, todo = [], list(children.get(root, []))
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def sample(self) -> dict[str, dict[int, float]]:
        cpu = {"bench": {os.getpid(): time.process_time()}}
        kinds = {"broker": [self.broker] if self.broker else []}
        if self.taskmanager:
            kinds["taskmanager"] = [self.taskmanager]
            kinds["python_workers"] = self._descendants(self.taskmanager)
        for kind, pids in kinds.items():
            stats = {pid: _proc_stat(pid) for pid in pids}
            cpu[kind] = {pid: stat[1] for pid, stat in stats.items() if stat}
        return cpu


def cpu_spent(before: dict, after: dict, kind: str) -> float | None:
    """CPU seconds the processes of one kind spent between two samples (a process started
    in between counts whole; one that ended in between is lost)."""
    if not after.get(kind):
        return None
    return sum(cpu - before.get(kind, {}).get(pid, 0.0) for pid, cpu in after[kind].items())


# --- preload ------------------------------------------------------------------------------


def simulation(messages: int, bid_rate: float, seed: int) -> SimulationConfig:
    """A run of about `messages` messages: the base rate measured on two simulated minutes
    without the timed anomalies; the full run's 30 s spike at 3x adds about 60 s of it.

    Traffic starts at today's midnight UTC: the same time of day (so the same rates) in
    every run, and event times (the sink's Kafka timestamps) well inside the raw topics'
    one-week retention.
    """
    start = int(time.time() * 1000) // DAY_MS * DAY_MS
    probe_s = 120
    knobs = Anomalies.everything(probe_s).model_copy(update={"silent": [], "rate_changes": []})
    probe = SimulationConfig(
        start_ms=start, seed=seed, duration_s=probe_s, bid_rate=bid_rate, anomalies=knobs
    )
    per_second = sum(1 for _ in Simulator(probe).events()) / probe_s
    duration = max(60.0, round(messages / per_second - 60))
    return SimulationConfig(
        start_ms=start,
        seed=seed,
        duration_s=duration,
        bid_rate=bid_rate,
        anomalies=Anomalies.everything(duration),
    )


def preload(bootstrap: str, sim: Simulator, prefixes: list[str], progress: Progress) -> list:
    """Send the run's campaigns and messages to the raw topics of every prefix; returns the
    messages (payloads are kept for the in-process profile)."""
    sinks = []
    for prefix in prefixes:
        ensure_topics(bootstrap, raw_topic_specs(prefix=prefix))
        sink = KafkaSink(bootstrap, topic_prefix=prefix)
        sink.write_campaigns(sim.campaigns())
        sinks.append(sink)
    task = progress.add_task(f"simulate and preload x{len(prefixes)}", total=None)
    messages = []
    for message in sim.events():
        messages.append(message)
        for sink in sinks:
            sink.write(message)
        if len(messages) % 2000 == 0:
            progress.update(task, completed=len(messages))
    for sink in sinks:
        sink.close()
    progress.update(task, completed=len(messages), total=len(messages))
    return messages


def raw_partitions(bootstrap: str, prefix: str) -> list[tuple[str, int]]:
    """(topic, partition) of the raw topics under prefix."""
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return [
        (prefix + topic, p)
        for topic in RAW_TOPICS.values()
        for p in sorted(metadata.topics[prefix + topic].partitions)
    ]


# --- raw read -----------------------------------------------------------------------------


def raw_read_confluent(
    bootstrap: str, partitions: list, total: int, cpu: CpuClock, progress: Progress
) -> Row:
    row = Row("raw read: confluent-kafka, count only")
    task = progress.add_task(row.label, total=total)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    before, began = cpu.sample(), time.perf_counter()
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in partitions])
    count, ended = 0, set()
    while len(ended) < len(partitions):
        for message in consumer.consume(num_messages=10_000, timeout=1.0):
            error = message.error()
            if error is None:
                count += 1
            elif error.code() == KafkaError._PARTITION_EOF:
                ended.add((message.topic(), message.partition()))
            else:
                raise RuntimeError(f"raw read: {error}")
        progress.update(task, completed=count)
    row.seconds, after = time.perf_counter() - began, cpu.sample()
    consumer.close()
    row.messages = count
    row.cpu_client_s = cpu_spent(before, after, "bench")
    row.cpu_broker_s = cpu_spent(before, after, "broker")
    return row


def _kafka_python_consumer(bootstrap: str, partitions: list) -> tuple[KafkaConsumer, dict]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    assigned = [KafkaPythonPartition(t, p) for t, p in partitions]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    return consumer, consumer.end_offsets(assigned)


def raw_read_kafka_python(
    bootstrap: str, partitions: list, total: int, cpu: CpuClock, progress: Progress
) -> Row:
    row = Row("raw read: kafka-python, count only")
    task = progress.add_task(row.label, total=total)
    before, began = cpu.sample(), time.perf_counter()
    consumer, end = _kafka_python_consumer(bootstrap, partitions)
    count = 0
    while any(consumer.position(tp) < end[tp] for tp in end):
        for records in consumer.poll(timeout_ms=1000).values():
            count += len(records)
        progress.update(task, completed=count)
    row.seconds, after = time.perf_counter() - began, cpu.sample()
    consumer.close()
    row.messages = count
    row.cpu_client_s = cpu_spent(before, after, "bench")
    row.cpu_broker_s = cpu_spent(before, after, "broker")
    return row


# --- the rules, as the UDFs apply them ----------------------------------------------------


def read_campaigns(bootstrap: str, topic: str) -> dict[str, dict]:
    """campaign_id -> its enrichment fields, from the compacted topic read to its end; the
    newest version (updated_at_ms) wins and a null value deletes, as the UDFs do."""
    consumer, end = _kafka_python_consumer(bootstrap, [(topic, 0)])
    campaigns: dict[str, dict] = {}
    updated: dict[str, int] = {}
    while any(consumer.position(tp) < end[tp] for tp in end):
        for records in consumer.poll(timeout_ms=1000).values():
            for record in records:
                if record.value is None:
                    campaigns.pop(record.key.decode(), None)
                    continue
                row = json.loads(record.value)
                version = int(row.get("updated_at_ms") or 0)
                if version >= updated.get(row["campaign_id"], -1):
                    updated[row["campaign_id"]] = version
                    campaigns[row["campaign_id"]] = {
                        **{out: row.get(name) for out, name in ENRICHMENT.items()},
                        "campaign_known": True,
                    }
    consumer.close()
    return campaigns


def raw_payload(payload: bytes, binary: bool) -> tuple[str, str]:
    """The payload as a dead letter carries it: UTF-8 text where it is text, else base64."""
    if not binary:
        try:
            return payload.decode("utf-8"), "text"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(payload).decode("ascii"), "base64"


def udf_path(source: str, payload: bytes, campaigns: dict) -> tuple:
    """What a validation UDF does with one message: decode, standardize, look the campaign
    up, and return the values of its result row (or the rejection)."""
    decode, standardize, binary, _ = RULES[source]
    try:
        record = standardize(decode(payload))
    except ContractError as error:
        return (error.reason, error.detail, *raw_payload(payload, binary))
    campaign = campaigns.get(record.get("campaign_id"), UNKNOWN_CAMPAIGN)
    return (None, None, None, None, *record.values(), *campaign.values())


# --- the plain Python consumer ------------------------------------------------------------


def plain_consumer(
    bootstrap: str,
    prefix: str,
    out_prefix: str,
    partitions: list,
    total: int,
    cpu: CpuClock,
    progress: Progress,
) -> tuple[Row, Counter]:
    """kafka-python in one process: every raw message through the rules, one at a time;
    returns the row and how many records it sent to each output."""
    row = Row("plain Python consumer: kafka-python")
    task = progress.add_task("plain Python consumer", total=total)
    topics = output_topics()
    ensure_topics(bootstrap, [TopicSpec(out_prefix + topics[name], 4) for name in OUTPUTS])
    out_topic = {name: out_prefix + topics[name] for name in OUTPUTS}
    source_of = {prefix + topic: source for source, topic in RAW_TOPICS.items()}
    campaigns = read_campaigns(bootstrap, prefix + CAMPAIGN_TOPIC)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024
    )
    failures: list[Exception] = []
    seen: dict[str, dict[str, bool]] = {source: {} for source in SOURCES}
    sent: Counter = Counter()
    fetch = rules = send = 0.0
    clock = time.perf_counter

    before, began = cpu.sample(), clock()
    consumer, end = _kafka_python_consumer(bootstrap, partitions)
    count = 0
    while any(consumer.position(tp) < end[tp] for tp in end):
        t0 = clock()
        batches = consumer.poll(timeout_ms=1000)
        fetch += clock() - t0
        for records in batches.values():
            for record in records:
                t0 = clock()
                source = source_of[record.topic]
                decode, standardize, binary, id_field = RULES[source]
                try:
                    out = standardize(decode(record.value))
                except ContractError as error:
                    letter_id = f"{record.topic}:{record.partition}:{record.offset}"
                    text, encoding = raw_payload(record.value, binary)
                    name, key, out = (
                        "dead_letters",
                        letter_id,
                        {
                            "dead_letter_id": letter_id,
                            "source": source,
                            "reason": error.reason,
                            "detail": error.detail,
                            "raw_payload": text,
                            "payload_encoding": encoding,
                            "topic": record.topic,
                            "partition": record.partition,
                            "offset": record.offset,
                            "file": None,
                            "line": None,
                            "rejected_at_ms": int(time.time() * 1000),
                        },
                    )
                else:
                    key = out[id_field]
                    first = seen[source]
                    if key in first:  # a redelivery: the first one won
                        rules += clock() - t0
                        continue
                    first[key] = True
                    out.update(campaigns.get(out["campaign_id"], UNKNOWN_CAMPAIGN))
                    name = out["event_type"] + "s" if source == "clicks_conversions" else source
                t1 = clock()
                producer.send(
                    out_topic[name], key=key.encode(), value=json.dumps(out).encode()
                ).add_errback(failures.append)
                sent[name] += 1
                t2 = clock()
                rules += t1 - t0
                send += t2 - t1
            count += len(records)
        progress.update(task, completed=count)
    t0 = clock()
    producer.flush()
    flush = clock() - t0
    row.seconds, after = clock() - began, cpu.sample()
    producer.close()
    consumer.close()
    if failures:
        raise RuntimeError(f"plain consumer: {len(failures)} sends failed: {failures[0]}")
    row.messages = count
    row.cpu_client_s = cpu_spent(before, after, "bench")
    row.cpu_broker_s = cpu_spent(before, after, "broker")
    row.details = {
        "seconds": {"fetch": fetch, "rules": rules, "encode_send": send, "flush": flush},
        "sent": dict(sent),
        "output_prefix": out_prefix,
    }
    row.notes.append(
        "time: "
        + ", ".join(
            f"{label} {seconds / row.seconds:.0%}"
            for label, seconds in (
                ("rules", rules),
                ("encode+send", send),
                ("fetch", fetch),
                ("flush", flush),
            )
        )
    )
    return row, sent


# --- the Flink job ------------------------------------------------------------------------


class JobWatch:
    """What Kafka says of a job: its consumer group's committed offsets on the raw topics, and
    the end offsets of the topics it writes."""

    def __init__(self, bootstrap: str, group: str, prefix: str, partitions: list):
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.group = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        self.raw = [TopicPartition(t, p) for t, p in partitions]
        skip = {t for t, _ in partitions} | {prefix + CAMPAIGN_TOPIC}
        metadata = self.admin.list_topics(timeout=10)
        # The job's driver creates every topic it writes before the job starts.
        self.written = [
            TopicPartition(name, p)
            for name, topic in metadata.topics.items()
            if name.startswith(prefix) and name not in skip
            for p in topic.partitions
        ]

    def committed(self) -> int:
        return sum(max(tp.offset, 0) for tp in self.group.committed(self.raw, timeout=10))

    def written_offsets(self) -> int:
        if not self.written:
            return 0
        asked = self.admin.list_offsets({tp: OffsetSpec.latest() for tp in self.written})
        return sum(future.result().offset for future in asked.values())

    def close(self) -> None:
        self.group.close()


def count_outputs(bootstrap: str, prefix: str, expected: Counter, timeout: float) -> Counter:
    """Committed records per output under prefix, read until each reaches expected (or the
    deadline): what a read_committed reader downstream sees."""
    topics = output_topics()
    by_topic = {prefix + topics[name]: name for name in OUTPUTS}
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-count-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign(
        [
            TopicPartition(topic, p, OFFSET_BEGINNING)
            for topic in by_topic
            for p in metadata.topics[topic].partitions
        ]
    )
    counts: Counter = Counter()
    deadline = time.monotonic() + timeout
    while any(counts[n] < expected[n] for n in OUTPUTS) and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=10_000, timeout=0.1):
            if message.error() is None:
                counts[by_topic[message.topic()]] += 1
    consumer.close()
    return counts


def flink_run(
    cfg: StackConfig,
    pipeline: Path,
    prefix: str,
    parallelism: int,
    partitions: list,
    total: int,
    expected: Counter,
    args: argparse.Namespace,
    cpu: CpuClock,
    progress: Progress,
) -> Row:
    row = Row(f"Flink job, parallelism {parallelism}")
    name = prefix.rstrip(".")
    task = progress.add_task(f"Flink p={parallelism}: submitting", total=total)
    began = time.monotonic()
    job_id = submit_python_job(
        cfg.flink_rest_url,
        pipeline,
        [
            "--bootstrap",
            cfg.kafka_bootstrap,
            "--topic-prefix",
            prefix,
            "--job-name",
            name,
            "--group-id",
            name,
            "--parallelism",
            str(parallelism),
            "--checkpoint-interval",
            args.checkpoint_interval,
        ],
        jars=list(resolve("flink").glob("*.jar")),
    )
    row.details = {"job_id": job_id, "prefix": prefix, "submit_s": time.monotonic() - began}
    progress.update(task, description=f"Flink p={parallelism}: starting")
    rest = FlinkRest(cfg.flink_rest_url)
    watch = JobWatch(cfg.kafka_bootstrap, name, prefix, partitions)
    samples: list[tuple[float, int, dict]] = []  # (time, committed, cpu)
    first = done = None
    try:
        deadline, next_state = time.monotonic() + args.timeout, 0.0
        while done is None:
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"not all messages committed after {args.timeout:.0f}s")
            if now >= next_state:  # a failed job never commits: stop with its cause
                state, next_state = rest.state(job_id), now + 2
                if state in ("FAILED", "CANCELED", "FINISHED"):
                    failures = rest.exceptions(job_id)
                    why = root_cause(failures[0]["stacktrace"]) if failures else "no cause given"
                    raise FlinkError(f"job {job_id} is {state}: {why}")
            committed = watch.committed()
            samples.append((now, committed, cpu.sample()))
            if first is None and (committed or watch.written_offsets()):
                first = len(samples) - 1
                progress.update(task, description=f"Flink p={parallelism}")
            if committed >= total:
                done = len(samples) - 1
            progress.update(task, completed=committed)
            time.sleep(max(0.0, POLL_S - (time.monotonic() - now)))
        t_first, _, cpu_first = samples[first]
        t_done, _, cpu_done = samples[done]
        row.messages, row.seconds = total, t_done - t_first
        row.details["startup_s"] = t_first - began
        for part in ("taskmanager", "python_workers"):
            row.details[f"cpu_{part}_s"] = cpu_spent(cpu_first, cpu_done, part)
        if row.details["cpu_taskmanager_s"] is not None:
            row.cpu_client_s = (
                row.details["cpu_taskmanager_s"] + row.details["cpu_python_workers_s"]
            )
        row.cpu_broker_s = cpu_spent(cpu_first, cpu_done, "broker")
        # The slope between the first and the last commit that moved: no start-up, and
        # both ends wait for a checkpoint alike.
        moved = [
            (t, c) for i, (t, c, _) in enumerate(samples) if c != (samples[i - 1][1] if i else 0)
        ]
        if len(moved) >= 2 and moved[-1][0] > moved[0][0]:
            row.details["steady_rate"] = (moved[-1][1] - moved[0][1]) / (moved[-1][0] - moved[0][0])
        progress.update(task, description=f"Flink p={parallelism}: outputs")
        counts = count_outputs(cfg.kafka_bootstrap, prefix, expected, args.outputs_timeout)
        row.details["outputs"] = dict(counts)
        row.details["outputs_after_s"] = time.monotonic() - t_done
        row.notes.append(f"start-up {row.details['startup_s']:.0f} s")
        if "steady_rate" in row.details:
            row.notes.append(f"steady {row.details['steady_rate']:,.0f}/s")
        if all(counts[n] == expected[n] for n in OUTPUTS):
            row.notes.append(f"outputs complete +{row.details['outputs_after_s']:.1f} s")
        else:
            row.notes.append(
                "outputs differ from the simulator's truth: "
                + ", ".join(
                    f"{n} {counts[n]}/{expected[n]}" for n in OUTPUTS if counts[n] != expected[n]
                )
            )
    finally:
        watch.close()
        try:
            rest.cancel(job_id)
            rest.wait_for_state(job_id, {"CANCELED", "FAILED", "FINISHED"}, timeout=60)
        finally:
            rest.close()
    row.details["tasks"] = task_time(cfg.flink_rest_url, job_id)
    return row


def task_time(rest_url: str, job_id: str) -> list[dict]:
    """Per task (a chain of operators), summed over its subtasks, from the ended job's final
    I/O metrics: busy, back-pressured and idle time and records in; busiest first."""
    job = httpx.get(f"{rest_url}/jobs/{job_id}", timeout=10).json()
    plan = httpx.get(f"{rest_url}/jobs/{job_id}/plan", timeout=10).json()["plan"]
    described = {node["id"]: node["description"] for node in plan["nodes"]}
    tasks = [
        {
            "task": task_label(vertex["name"], described.get(vertex["id"], "")),
            "parallelism": vertex["parallelism"],
            "busy_s": vertex["metrics"]["accumulated-busy-time"] / 1000,
            "backpressured_s": vertex["metrics"]["accumulated-backpressured-time"] / 1000,
            "idle_s": vertex["metrics"]["accumulated-idle-time"] / 1000,
            "records_in": vertex["metrics"]["read-records"],
        }
        for vertex in job["vertices"]
    ]
    return sorted(tasks, key=lambda task: task["busy_s"], reverse=True)


def task_label(name: str, description: str) -> str:
    """A short name for a task: its first operator with what it is keyed by (and, for an
    aggregate, its functions), then the sinks it writes."""
    first = html.unescape(description.split("<br/>")[0])
    operator = re.match(r"(?:\[\d+\]:)?(\w+)", first)
    label = operator.group(1) if operator else name[:40]
    table = re.search(r"table=\[\[([^\]]*)", first)
    key = re.search(r"(?:groupBy|key|partitionBy)=\[([^\]]*)\]", first)
    if table:
        label += " " + table.group(1).split(", ")[min(2, table.group(1).count(", "))]
    elif key:
        label += f" by {key.group(1)}"
    if "PythonCalc" in name:
        label += " -> Python UDF"
    if label.startswith("GroupAggregate"):
        functions = dict.fromkeys(re.findall(r"\b([A-Z][A-Z_]*)\(", first))
        label += f" ({', '.join(functions)})"
    elif label.startswith("IntervalJoin"):
        on = re.search(r"where=\[\(\((\w+) = ", first)
        label += f" on {on.group(1)}" if on else ""
    sinks = [s for s in re.findall(r"(\w+)\[\d+\]: Writer", name)]
    if "Sink: Writer" in name and not sinks:
        sinks = ["an upsert sink"]
    return label + (f" -> {', '.join(sinks)}" if sinks else "")


# --- where the time goes ------------------------------------------------------------------


def profile_udf_path(messages: list, campaigns: dict, top: int) -> dict:
    """The UDF path on the same messages in this process: µs per message per source
    (timed without the profiler), then cProfile's busiest functions (own time)."""
    by_source: dict[str, list[bytes]] = {s: [] for s in SOURCES}
    for message in messages:
        by_source[message.source].append(message.payload)
    per_source = {}
    for source, payloads in by_source.items():
        began = time.perf_counter()
        for payload in payloads:
            udf_path(source, payload, campaigns)
        seconds = time.perf_counter() - began
        per_source[source] = {
            "messages": len(payloads),
            "us_per_message": seconds / max(len(payloads), 1) * 1e6,
        }
    total = sum(len(p) for p in by_source.values())
    mean = sum(s["us_per_message"] * s["messages"] for s in per_source.values()) / total

    profiler = cProfile.Profile()
    profiler.enable()
    for source, payloads in by_source.items():
        for payload in payloads:
            udf_path(source, payload, campaigns)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, calls, own, cumulative, _)
    own_total = sum(own for _, _, own, _, _ in stats.values())
    busiest = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    functions = [
        {
            "function": _function_name(file, line, func),
            "calls_per_message": calls / total,
            "own_share": own / own_total,
            "cumulative_share": cumulative / own_total,
        }
        for (file, line, func), (_, calls, own, cumulative, _) in busiest
    ]
    return {"per_source": per_source, "us_per_message": mean, "functions": functions}


def _function_name(file: str, line: int, func: str) -> str:
    if file == "~":  # a built-in
        return func
    path = Path(file)
    try:
        where = path.relative_to(REPO)
    except ValueError:
        parts = path.parts
        where = (
            Path(*parts[parts.index("site-packages") + 1 :])
            if "site-packages" in parts
            else path.name
        )
    return f"{func} ({where}:{line})"


# --- report -------------------------------------------------------------------------------


def _us(seconds: float | None, messages: int) -> str:
    return f"{seconds / messages * 1e6:,.0f}" if seconds is not None and messages else "-"


def report(rows: list[Row], profile: dict | None, header: str) -> None:
    out = Console(width=max(Console().width, 150))
    base = rows[0].rate if rows and rows[0].rate else None
    table = Table(title="Pipeline throughput, Kafka to Kafka", caption=header)
    table.add_column("")
    for column in ("messages", "seconds", "messages/s", "vs raw read"):
        table.add_column(column, justify="right")
    table.add_column("CPU µs/msg\nclient or job", justify="right")
    table.add_column("CPU µs/msg\nbroker", justify="right")
    table.add_column("notes", overflow="fold")
    for row in rows:
        if row.error:
            table.add_row(row.label, "", "", "", "", "", "", f"[red]failed:[/] {row.error}")
            continue
        rate = row.rate
        table.add_row(
            row.label,
            f"{row.messages:,}",
            f"{row.seconds:.2f}",
            f"{rate:,.0f}",
            f"{rate / base:.3f}x" if base else "-",
            _us(row.cpu_client_s, row.messages),
            _us(row.cpu_broker_s, row.messages),
            "; ".join(row.notes),
        )
    out.print(table)

    where = Table(title="Where the time goes, µs per message")
    where.add_column("")
    where.add_column("µs/msg", justify="right")
    where.add_column("", overflow="fold")
    if profile:
        for source, figures in profile["per_source"].items():
            where.add_row(
                f"UDF path in this process, {source}",
                f"{figures['us_per_message']:.1f}",
                f"{figures['messages']:,} messages: decode, standardize, campaign lookup",
            )
        where.add_row("UDF path in this process, mean", f"{profile['us_per_message']:.1f}", "")
    for row in rows:
        if row.error or not row.rate:
            continue
        if "seconds" in row.details:
            for part, seconds in row.details["seconds"].items():
                where.add_row(
                    f"plain consumer: {part.replace('_', '+')}",
                    _us(seconds, row.messages),
                    "wall time, one process",
                )
        if "tasks" in row.details:
            parts = {
                "wall time": 1e6 / row.rate,
                "CPU, TaskManager JVM": row.details.get("cpu_taskmanager_s"),
                "CPU, Python UDF workers": row.details.get("cpu_python_workers_s"),
                "CPU, broker": row.cpu_broker_s,
            }
            for part, value in parts.items():
                shown = f"{value:,.0f}" if part == "wall time" else _us(value, row.messages)
                where.add_row(f"{row.label}: {part}", shown, "")
            busy = sum(task["busy_s"] for task in row.details["tasks"])
            for task in row.details["tasks"][:5]:
                where.add_row(
                    f"  busy: {task['task']}",
                    _us(task["busy_s"], row.messages),
                    f"{task['busy_s'] / busy:.0%} of busy time, p={task['parallelism']}; "
                    f"back-pressured {task['backpressured_s']:.0f} s",
                )
    out.print(where)

    if profile:
        functions = Table(title="Busiest functions of the UDF path (cProfile, own time)")
        functions.add_column("function", overflow="fold")
        functions.add_column("calls/msg", justify="right")
        functions.add_column("own", justify="right")
        functions.add_column("cumulative", justify="right")
        for f in profile["functions"]:
            functions.add_row(
                f["function"],
                f"{f['calls_per_message']:.2f}",
                f"{f['own_share']:.1%}",
                f"{f['cumulative_share']:.1%}",
            )
        out.print(functions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="about this many")
    parser.add_argument("--bid-rate", type=float, default=300.0, help="simulated bid requests/s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--parallelism", type=int, nargs="*", default=[1, 2], help="one Flink run each"
    )
    parser.add_argument("--pipeline", type=Path, default=PIPELINE, help="the job script")
    parser.add_argument("--checkpoint-interval", default="2 s")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per Flink run")
    parser.add_argument("--outputs-timeout", type=float, default=120)
    parser.add_argument("--no-kafka-python-read", action="store_true")
    parser.add_argument("--top", type=int, default=12, help="functions in the profile")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    cfg = StackConfig()
    try:
        with FlinkRest(cfg.flink_rest_url) as rest:
            rest.overview()
        AdminClient({"bootstrap.servers": cfg.kafka_bootstrap}).list_topics(timeout=10)
    except (FlinkUnreachable, FlinkError, KafkaException):
        raise SystemExit(
            f"error: the stack does not answer (Kafka {cfg.kafka_bootstrap}, Flink "
            f"{cfg.flink_rest_url}): start it with `advertisex stack up kafka flink` "
            "(same ADVERTISEX_* variables)"
        ) from None
    pipeline = args.pipeline.resolve()
    if REPO not in pipeline.parents:
        # A job script from another checkout imports its own flink_jobs package (the client
        # runs it); the TaskManager's UDF workers need the same path in their environment.
        root = str(pipeline.parents[1])
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [root, os.environ.get("PYTHONPATH")])
        )

    run = f"bench-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:4]}"
    copies = [f"{run}-p{p}." for p in args.parallelism] or [f"{run}."]
    config = simulation(args.messages, args.bid_rate, args.seed)
    sim = Simulator(config)
    load_before = os.getloadavg()
    cpu = CpuClock(cfg)
    with FlinkRest(cfg.flink_rest_url) as rest:
        others = [job["name"] for job in rest.jobs() if job["state"] == "RUNNING"]
    rows: list[Row] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        messages = preload(cfg.kafka_bootstrap, sim, copies, progress)
        total = len(messages)
        per_source = Counter(m.source for m in messages)
        partitions = raw_partitions(cfg.kafka_bootstrap, copies[0])
        rows.append(raw_read_confluent(cfg.kafka_bootstrap, partitions, total, cpu, progress))
        if not args.no_kafka_python_read:
            rows.append(
                raw_read_kafka_python(cfg.kafka_bootstrap, partitions, total, cpu, progress)
            )
        plain, sent = plain_consumer(
            cfg.kafka_bootstrap, copies[0], f"{run}-python.", partitions, total, cpu, progress
        )
        rows.append(plain)
        truth = sim.truth.to_dict()
        expected = Counter(
            {"dead_letters": len(truth["dead_letters"])}
            | {name: len(truth["ids"][name]) for name in RECORD_OUTPUTS}
        )
        if sent != expected:
            plain.notes.append(
                f"differs from the simulator's truth: {dict(sent)} vs {dict(expected)}"
            )
        else:
            plain.notes.append("outputs = the simulator's truth")
        task = progress.add_task("profile the UDF path", total=None)
        campaigns = read_campaigns(cfg.kafka_bootstrap, copies[0] + CAMPAIGN_TOPIC)
        profile = profile_udf_path(messages, campaigns, args.top)
        progress.update(task, total=1, completed=1)
        for parallelism, prefix in zip(args.parallelism, copies, strict=False):
            copy = raw_partitions(cfg.kafka_bootstrap, prefix)
            try:
                rows.append(
                    flink_run(
                        cfg,
                        pipeline,
                        prefix,
                        parallelism,
                        copy,
                        total,
                        expected,
                        args,
                        cpu,
                        progress,
                    )
                )
            except (SubmitFailed, FlinkError, FlinkUnreachable, TimeoutError) as exc:
                rows.append(Row(f"Flink job, parallelism {parallelism}", error=str(exc)))
                err.print(f"[red]Flink p={parallelism} failed:[/] {exc}")
    load_after = os.getloadavg()

    header = (
        f"{total:,} messages ({', '.join(f'{s} {n:,}' for s, n in per_source.items())}), "
        f"{config.duration_s:.0f} simulated s at {config.bid_rate:.0f} bid requests/s, every "
        f"anomaly on; {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; topics {run}-*"
    )
    if others:
        header += f"; [red]other jobs ran on the cluster[/]: {', '.join(others)}"
    report(rows, profile, header)
    if args.json:
        figures = {
            "run": run,
            "pipeline": str(pipeline),
            "simulation": json.loads(config.model_dump_json()),
            "messages": dict(per_source),
            "total": total,
            "cpus": os.cpu_count(),
            "load_average": {"before": load_before, "after": load_after},
            "other_jobs": others,
            "rows": [{**asdict(row), "messages_per_s": row.rate} for row in rows],
            "profile": profile,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
