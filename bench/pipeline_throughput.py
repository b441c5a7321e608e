"""Pipeline throughput: the streaming job, Kafka to Kafka, beside a Flink pass-through of the
same topics (the limit), a plain read of them and a one-process Python consumer that applies
the same rules (issues 4 and 14).

Run on a running stack (the addresses come from the same ADVERTISEX_* variables as
`advertisex stack up`):

    advertisex stack up kafka flink
    python bench/pipeline_throughput.py [--messages 200000] [--repeats 3] [--plot bench.png]
        [--backlog-minutes 10 60] [--json figures.json]

One run, two tables. Every row of the first reads the same simulated traffic (every anomaly
knob on), about --messages messages:

1. Preload: the simulator's messages go once into raw topics per copy, each copy under a
   topic prefix of its own (`bench-<time>-<id>-<copy>.`): the job reads `<prefix><raw
   topic>` and writes `<prefix><output>`, so each timed run of the job needs raw topics of
   its own; the job is not changed, the data is copied. Each job copy ends with the golden
   tests' closers (tests/kafka_outputs.py: one valid record per raw partition, 8 days of
   event time later), which close every window and join, so that all nine outputs can be
   complete; the base copy (`-base.`), read by every other row, has none.
2. Flink pass-through, parallelism N (shown first: the limit): a Flink SQL job, this file
   run by `flink run -py` (`pipeline_throughput.py job ...`), that reads the base copy's raw
   topics into a `blackhole` sink at the job row's parallelism, with the connector options of
   flink_jobs/tables.py KafkaTables.raw_source (raw format, read_committed, a fresh consumer
   group from the earliest offset) and its physical and metadata columns (payload, topic,
   partition, offset), but without the computed rowtime/proc_time and the watermark (so
   without watermark alignment), bounded (`scan.bounded.mode = latest-offset`: it finishes
   by itself) and without checkpoints (a bounded job would wait for a final one).
3. Raw read: a plain consumer that only counts every message of the raw topics to their end,
   with confluent-kafka (librdkafka, the fastest plain consumer here) and with kafka-python.
4. Plain Python consumer: kafka-python in one process, one record at a time: the contract's
   decoders and standardize functions, campaign enrichment from the dimension topic read at
   start, first-wins deduplication in a dict, and each valid record or dead letter sent as
   JSON to output topics with kafka-python's producer (acks=all, idempotent, NOT
   transactional; the job's sinks are). Its time is split into fetching, the rules, and
   encoding plus sending. Its outputs are checked against the simulator's ground truth.
5. Flink job, parallelism N: flink_jobs/pipeline.py submitted like `advertisex job run` with
   its own consumer group and prefix, cancelled once its outputs are complete (its topics
   are kept).
6. Where the time goes: the UDF path (decode, standardize, campaign lookup) timed and
   profiled with cProfile in this process on the same messages, beside the CPU time each
   process of the job (TaskManager JVM, Python UDF workers) and the broker spent per
   message, and each task's busy and back-pressured time from the ended job's final I/O
   metrics (REST /jobs/<id>, read after the cancel: final values, nothing stale).

Columns: `vs pass-through` divides messages/s by the pass-through's at the same parallelism,
`vs raw read` by the confluent-kafka read's, `vs plain Python` by the plain consumer's.

How a Flink row is timed: messages/s = raw messages / (start -> end).
- start, both Flink rows alike: the moment the job's first source subtask switched to
  RUNNING (REST /jobs/<id>/vertices/<id>/subtasktimes: when the JobManager, on this
  machine, heard of it): its operators are open and it may read its first record. A blackhole writes
  nothing Kafka could show, so this is the one start both rows share. The job's first
  output (the first poll, every 0.25 s, at which a topic it writes has grown) is a note.
- end, pass-through: its last source subtask FINISHED (the same endpoint): every message
  read; the sources' final records-in (REST /jobs/<id> after it finished) are checked
  against the messages.
- end, job: the moment a read_committed reader that reads all nine outputs while the job
  runs has seen everything the simulator's ground truth expects (closers left out): each
  record output's ids, the dead letters, the attributed clicks, the attributed
  conversions (latest row per key, its click), every campaign_metrics_1m row's counts and
  the dq_metrics totals per source. The sinks are transactional, so this includes the last
  checkpoint (every --checkpoint-interval) that commits them. The reader runs in this
  process (about 6 µs of CPU per output record, some 2% of the job's: counted in no row,
  but it shares the CPUs).
  Once the consumer group has committed every raw message, the outputs must complete
  within --outputs-timeout, and new output must keep coming (30 s at most between two);
  otherwise the run fails with what differs.
- "steady" (a note) is the slope of the consumer group's committed offsets between its
  first and last commit that moved (polled every 0.25 s): the rate without start and end.
- not Flink's REST metrics: the JobManager's metric fetcher refreshes them at most every
  `metrics.fetcher.update-interval` (10 s by default), too coarse for runs of seconds.

--repeats N (default 3): each Flink row, pass-through and job at each parallelism, is run N
times, interleaved (pass-through p1, job p1, pass-through p2, job p2, then again); the table
shows the median run (its seconds, CPU and tasks) and the notes min-max messages/s. Each
job run reads a copy of its own (the pass-through reads the base copy with a fresh group).
--warmup-messages M (default 20000, 0: none): before the timed runs, the job runs once,
untimed, on M messages of its own. Every job is a fresh job: its generated operator code and
the functions jar are loaded by its own class loader and compiled anew, which no warm-up
avoids (a long-running pipeline pays it once: it stays in every timed run, less per message
the more messages). What jobs share does warm up: the TaskManager's Flink runtime (network
stack, state backend, checkpointing, the JSON and upsert sinks), the Kafka connector and
client in the cluster's lib/, and the Python workers' files in the page cache.

--backlog-minutes A B ...: a second table, "Backlog drain". For each value, that many
simulated minutes of traffic at --bid-rate (every anomaly on) are preloaded, with closers,
into a copy per parallelism (x --backlog-repeats), and only then is the job started; it is
timed exactly as a job row (from its first source subtask RUNNING to all nine outputs
complete): the drain rate, beside the ratio to the first value's and to the job row at the
same parallelism. --messages 0 skips the first table.

CPU figures read /proc of the stack's processes (pids from the stack's state folder), so
they are exact even when other work shares the machine; wall-clock figures are not.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import json
import math
import os
import pstats
import re
import statistics
import sys
import textwrap
import threading
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
    Producer,
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
from advertisex.contract.errors import ContractError, raw_payload
from advertisex.contract.impressions import decode_impression
from advertisex.contract.rules import (
    standardize_bid_request,
    standardize_click_or_conversion,
    standardize_impression,
)
from advertisex.contract.topics import CAMPAIGN_TOPIC, RAW_TOPICS, output_topics, upsert_outputs
from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.ground_truth import CAMPAIGN_COUNTS
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
# The job's nine outputs: appended (each record once) or upserted (latest row per key).
UPSERT_OUTPUTS = upsert_outputs()
APPEND_OUTPUTS = tuple(name for name in output_topics() if name not in UPSERT_OUTPUTS)
# campaign_metrics_1m's counts, as the golden tests compare them.
METRIC_COUNTS = CAMPAIGN_COUNTS
DQ_TOTALS = ("received", "valid", "duplicates", "late", "unattributed")
# Output field <- campaign dimension field (contract 2.2), then campaign_known.
ENRICHMENT = {
    "advertiser_id": "advertiser_id",
    "campaign_name": "name",
    "campaign_status": "status",
    "campaign_daily_budget_micros": "daily_budget_micros",
}
UNKNOWN_CAMPAIGN = {**dict.fromkeys(ENRICHMENT), "campaign_known": False}
POLL_S = 0.25
PASSTHROUGH_POLL_S = 0.1  # its runs last seconds: finer CPU samples
QUIET_S = 30.0  # after every raw message is committed, at most this long without new output
PASSTHROUGH = "Flink pass-through"
JOB = "Flink job"

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
    kind: str = ""  # raw read | plain | passthrough | job | backlog
    parallelism: int | None = None

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


class CpuSampler(threading.Thread):
    """CpuClock's samples every `every` seconds in a thread, from before a job is submitted
    (`flink run` may return after the job has started, or even ended) until stop(): (time,
    cpu) in time order, the last one taken by stop()."""

    def __init__(self, cpu: CpuClock, every: float):
        super().__init__(daemon=True)
        self.cpu, self.every = cpu, every
        self.samples: list[tuple[float, dict]] = [(time.time(), cpu.sample())]
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.samples.append((time.time(), self.cpu.sample()))

    def stop(self) -> list[tuple[float, dict]]:
        if not self.done.is_set():
            self.done.set()
            self.join()
            self.samples.append((time.time(), self.cpu.sample()))
        return self.samples


# --- preload ------------------------------------------------------------------------------


def simulation(
    messages: int, bid_rate: float, seed: int, duration_s: float | None = None
) -> SimulationConfig:
    """A run of about `messages` messages: the base rate measured on two simulated minutes
    without the timed anomalies; the full run's 30 s spike at 3x adds about 60 s of it. Or,
    with duration_s, a run of that many simulated seconds (messages is then not used): a
    backlog of so many minutes of traffic at bid_rate.

    Traffic starts at today's midnight UTC: the same time of day (so the same rates) in
    every run, and event times (the sink's Kafka timestamps) well inside the raw topics'
    one-week retention.
    """
    start = int(time.time() * 1000) // DAY_MS * DAY_MS
    if duration_s is None:
        probe_s = 120
        knobs = Anomalies.everything(probe_s).model_copy(update={"silent": [], "rate_changes": []})
        probe = SimulationConfig(
            start_ms=start, seed=seed, duration_s=probe_s, bid_rate=bid_rate, anomalies=knobs
        )
        per_second = sum(1 for _ in Simulator(probe).events()) / probe_s
        duration_s = max(60.0, round(messages / per_second - 60))
    return SimulationConfig(
        start_ms=start,
        seed=seed,
        duration_s=duration_s,
        bid_rate=bid_rate,
        anomalies=Anomalies.everything(duration_s),
    )


def preload(
    bootstrap: str, sim: Simulator, prefixes: list[str], progress: Progress, keep: bool = True
) -> list:
    """Send the run's campaigns and messages to the raw topics of every prefix; returns the
    messages (payloads are kept for the in-process profile), or with keep=False only their
    sources (a long backlog is not held in memory)."""
    sinks = []
    for prefix in prefixes:
        ensure_topics(bootstrap, raw_topic_specs(prefix=prefix))
        sink = KafkaSink(bootstrap, topic_prefix=prefix)
        sink.write_campaigns(sim.campaigns())
        sinks.append(sink)
    task = progress.add_task(f"simulate and preload x{len(prefixes)}", total=None)
    messages = []
    count = 0
    for message in sim.events():
        messages.append(message if keep else message.source)
        for sink in sinks:
            sink.write(message)
        count += 1
        if count % 2000 == 0:
            progress.update(task, completed=count)
    for sink in sinks:
        sink.close()
    progress.update(task, completed=count, total=count)
    return messages


def closing_time(config: SimulationConfig) -> int:
    """Event time of the closers: 8 days after the run, past every window and join."""
    return config.start_ms + int(config.duration_s * 1000) + 8 * DAY_MS


def golden_closers():
    """tests/kafka_outputs.py, where the golden tests define their closers: one definition of
    what closes a run's windows, and of what the closers add to dq_metrics."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import kafka_outputs

    return kafka_outputs


def send_closers(bootstrap: str, prefixes: list[str], close_ms: int) -> int:
    """The golden tests' closers (tests/kafka_outputs.py) after the traffic of each prefix's
    raw topics: one valid record per partition, far ahead in event time, moves every
    partition's watermark past the run's last windows and joins, as later traffic would.
    Returns how many went into each prefix's topics."""
    closing_messages = golden_closers().closing_messages
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    producer = Producer({"bootstrap.servers": bootstrap})
    sent = 0
    for prefix in prefixes:
        sent = 0
        for source, topic in RAW_TOPICS.items():
            for partition in sorted(metadata.topics[prefix + topic].partitions):
                payload = closing_messages(close_ms, partition)[source]
                producer.produce(prefix + topic, payload, partition=partition)
                sent += 1
    if producer.flush(30):
        raise RuntimeError("closers: not all sent")
    return sent


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


# --- the Flink runs -----------------------------------------------------------------------


def passthrough_job(argv: list[str]) -> None:
    """Inside `flink run -py`: the pass-through job, the raw topics under --prefix into a
    blackhole. Each source has KafkaTables.raw_source's connector options, without the
    watermark's (no watermark here) and bounded at the end offsets the topics have at start,
    and its physical and metadata columns, without the computed ones."""
    from pyflink.table import (
        DataTypes,
        EnvironmentSettings,
        Schema,
        TableDescriptor,
        TableEnvironment,
    )

    from flink_jobs.pipeline import PipelineSettings
    from flink_jobs.tables import KafkaOptions, KafkaTables

    parser = argparse.ArgumentParser(prog="pipeline_throughput.py job")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--name", required=True, help="job name and consumer group")
    parser.add_argument("--parallelism", type=int, required=True)
    args = parser.parse_args(argv)
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    PipelineSettings(parallelism=args.parallelism).apply(env, args.name)
    # No checkpoints: a bounded job would wait for a final one before its tasks finish.
    env.get_config().get_configuration().remove_config("execution.checkpointing.interval")
    tables = KafkaTables(
        KafkaOptions(bootstrap=args.bootstrap, topic_prefix=args.prefix, group_id=args.name)
    )
    schema = (
        Schema.new_builder()
        .column("payload", DataTypes.BYTES())
        .column_by_metadata("kafka_topic", DataTypes.STRING(), "topic", True)
        .column_by_metadata("kafka_partition", DataTypes.INT(), "partition", True)
        .column_by_metadata("kafka_offset", DataTypes.BIGINT(), "offset", True)
        .build()
    )
    blackhole = TableDescriptor.for_connector("blackhole").build()
    statement_set = env.create_statement_set()
    for source in RAW_TOPICS:
        options = dict(tables.raw_source(source).get_options())
        builder = TableDescriptor.for_connector(options.pop("connector")).schema(schema)
        for key, value in options.items():
            if not key.startswith("scan.watermark."):
                builder = builder.option(key, value)
        # Named as the job's raw tables, so that its tasks are named alike.
        env.create_temporary_table(
            f"raw_{source}", builder.option("scan.bounded.mode", "latest-offset").build()
        )
        statement_set.add_insert(blackhole, env.from_path(f"raw_{source}"))
    result = statement_set.execute()
    print(f"JOB_ID {result.get_job_client().get_job_id()}")


def running_jobs(rest_url: str) -> list[str]:
    """Names of the jobs running on the cluster (before a run: others that share it)."""
    with FlinkRest(rest_url) as rest:
        return [job["name"] for job in rest.jobs() if job["state"] == "RUNNING"]


def source_times(rest_url: str, job_id: str) -> tuple[float | None, float | None]:
    """(first RUNNING, last FINISHED) of the job's source subtasks, in epoch seconds (the
    JobManager's clock, this machine's), None where no subtask has it yet."""
    job = httpx.get(f"{rest_url}/jobs/{job_id}", timeout=10).json()
    running, finished = [], []
    for vertex in job["vertices"]:
        if not vertex["name"].startswith("Source"):
            continue
        url = f"{rest_url}/jobs/{job_id}/vertices/{vertex['id']}/subtasktimes"
        for subtask in httpx.get(url, timeout=10).json()["subtasks"]:
            stamps = subtask["timestamps"]
            if stamps.get("RUNNING"):
                running.append(stamps["RUNNING"] / 1000)
            finished.append(stamps.get("FINISHED", 0) / 1000 or None)
    first = min(running) if running else None
    last = None if not finished or None in finished else max(finished)
    return first, last


def cpu_window(samples: list[tuple], start: float, end: float) -> tuple[dict, dict]:
    """The CPU samples around [start, end] from (time, ..., cpu) tuples in time order: the
    last at or before start (else the first) and the first at or after end (else the
    last)."""
    before = next((s for s in reversed(samples) if s[0] <= start), samples[0])
    after = next((s for s in samples if s[0] >= end), samples[-1])
    return before[-1], after[-1]


def passthrough_run(
    cfg: StackConfig,
    prefix: str,
    parallelism: int,
    total: int,
    args: argparse.Namespace,
    cpu: CpuClock,
    progress: Progress,
) -> Row:
    """One pass-through run: submit, wait until it finished; from its first source subtask
    RUNNING to its last FINISHED."""
    row = Row(f"{PASSTHROUGH}, parallelism {parallelism}", kind="passthrough")
    row.parallelism = parallelism
    name = f"{prefix.rstrip('.')}-pass-p{parallelism}-{uuid.uuid4().hex[:4]}"
    task = progress.add_task(f"pass-through p={parallelism}: submitting", total=None)
    others = running_jobs(cfg.flink_rest_url)
    sampler = CpuSampler(cpu, PASSTHROUGH_POLL_S)
    began = time.time()
    try:
        job_id = submit_python_job(
            cfg.flink_rest_url,
            Path(__file__),
            ["job", "--bootstrap", cfg.kafka_bootstrap, "--prefix", prefix, "--name", name]
            + ["--parallelism", str(parallelism)],
            jars=list(resolve("flink").glob("*.jar")),
        )
        row.details = {"job_id": job_id, "prefix": prefix, "submit_s": time.time() - began}
        progress.update(task, description=f"pass-through p={parallelism}: running")
        deadline = time.time() + args.timeout
        with FlinkRest(cfg.flink_rest_url) as rest:
            while (state := rest.state(job_id)) != "FINISHED":
                if state in ("FAILED", "CANCELED"):
                    failures = rest.exceptions(job_id)
                    why = root_cause(failures[0]["stacktrace"]) if failures else "no cause given"
                    raise FlinkError(f"job {job_id} is {state}: {why}")
                if time.time() > deadline:
                    rest.cancel(job_id)
                    raise TimeoutError(f"pass-through not finished after {args.timeout:.0f} s")
                time.sleep(0.5)
    finally:
        samples = sampler.stop()
    start, end = source_times(cfg.flink_rest_url, job_id)
    if start is None or end is None:
        raise FlinkError(f"job {job_id}: no RUNNING or FINISHED time of its sources")
    before, after = cpu_window(samples, start, end)
    row.messages, row.seconds = total, end - start
    row.details["startup_s"] = start - began
    for part in ("taskmanager", "python_workers"):
        row.details[f"cpu_{part}_s"] = cpu_spent(before, after, part)
    if row.details["cpu_taskmanager_s"] is not None:
        row.cpu_client_s = row.details["cpu_taskmanager_s"] + (
            row.details["cpu_python_workers_s"] or 0.0
        )
    row.cpu_broker_s = cpu_spent(before, after, "broker")
    job = httpx.get(f"{cfg.flink_rest_url}/jobs/{job_id}", timeout=10).json()
    read = sum(
        v["metrics"]["read-records"] for v in job["vertices"] if v["name"].startswith("Source")
    )
    row.details["records_read"] = read
    row.notes.append(f"start-up {row.details['startup_s']:.0f} s")
    if read != total:
        row.notes.append(f"[red]read {read:,} of {total:,} messages[/]")
    if others:
        row.details["other_jobs"] = others
        row.notes.append(f"[red]other jobs running: {', '.join(others)}[/]")
    row.details["tasks"] = task_time(cfg.flink_rest_url, job_id)
    progress.update(task, total=1, completed=1, description=f"pass-through p={parallelism}")
    return row


class OutputsIncomplete(RuntimeError):
    """The job's outputs did not reach what the ground truth expects."""


class OutputTally:
    """What a read_committed reader has seen of a run's nine outputs, against what the
    simulator's ground truth (GroundTruth.to_dict()) expects. Rows of the closers (keys
    starting with `closing`) are left out, and what they add to dq_metrics (closers_dq:
    source -> field -> count) is expected on top of the truth."""

    def __init__(self, truth: dict, closers_dq: dict, closing: str = "closing-"):
        self.closing = closing.encode()
        self.ids = {name: truth["ids"][name] for name in RECORD_OUTPUTS}
        self.ids["attributed_clicks"] = list(truth["attributed_clicks"])
        self.expected = {name: len(ids) for name, ids in self.ids.items()}
        self.expected["dead_letters"] = len(truth["dead_letters"])
        self.conversions = dict(truth["attributed_conversions"])
        self.metrics = {
            (r["campaign_id"], r["window_start_ms"]): {c: r[c] for c in METRIC_COUNTS}
            for r in truth["campaign_metrics_1m"]
        }
        self.dq: dict[str, Counter] = {}
        for source, summary in truth["sources"].items():
            want = Counter({f: summary[f] for f in DQ_TOTALS})
            want.update({f"invalid:{reason}": n for reason, n in summary["invalid"].items()})
            want.update(closers_dq.get(source, {}))
            self.dq[source] = want
        self.keys: dict[str, set] = {name: set() for name in APPEND_OUTPUTS}
        self.count: Counter = Counter()
        self.latest: dict[str, dict] = {name: {} for name in UPSERT_OUTPUTS}
        self.records = 0  # every output record read, the closers' too
        self._upserts: list[str] | None = None  # their differences, None: to be compared

    def add(self, name: str, key: bytes | None, value: bytes | None) -> None:
        self.records += 1
        if key is not None and key.startswith(self.closing):
            return
        if name in self.keys:
            self.keys[name].add(key)
            self.count[name] += 1
        else:
            self.latest[name][key] = None if value is None else json.loads(value)
            self._upserts = None

    def complete(self) -> bool:
        """Every record the truth expects, and the upsert outputs' latest rows equal to it."""
        if any(len(self.keys[name]) < n for name, n in self.expected.items()):
            return False
        if self._upserts is None:
            self._upserts = self._upsert_differences()
        return not self._upserts

    def missing(self) -> list[str]:
        """What is short of the truth (or differs from it), one line per output."""
        short = [
            f"{name} {len(self.keys[name]):,}/{n:,}"
            for name, n in self.expected.items()
            if len(self.keys[name]) < n
        ]
        return short + self._upsert_differences()

    def differences(self) -> list[str]:
        """After completion: each id once and exactly the truth's ids, and the upserts."""
        out = []
        for name in APPEND_OUTPUTS:
            if self.count[name] != len(self.keys[name]):
                out.append(f"{name}: {self.count[name] - len(self.keys[name]):,} written twice")
        for name, ids in self.ids.items():
            got, want = {k.decode() for k in self.keys[name] if k is not None}, set(ids)
            if got != want:
                out.append(f"{name}: {len(got - want):,} unexpected, {len(want - got):,} missing")
        if len(self.keys["dead_letters"]) != self.expected["dead_letters"]:
            out.append(
                f"dead_letters: {len(self.keys['dead_letters']):,} of "
                f"{self.expected['dead_letters']:,}"
            )
        return out + self._upsert_differences()

    def _upsert_differences(self) -> list[str]:
        out = []
        latest = self.latest["attributed_conversions"]
        got = {k.decode(): row["click_id"] for k, row in latest.items() if row is not None}
        if got != self.conversions:
            same = sum(1 for k, click in self.conversions.items() if got.get(k) == click)
            out.append(f"attributed_conversions {same:,}/{len(self.conversions):,}")
        rows = {
            (row["campaign_id"], row["window_start_ms"]): row
            for row in self.latest["campaign_metrics_1m"].values()
            if row is not None
        }
        wrong = len(set(rows) - set(self.metrics)) + sum(
            1
            for key, want in self.metrics.items()
            if key not in rows or any(rows[key][c] != want[c] for c in METRIC_COUNTS)
        )
        if wrong:
            out.append(f"campaign_metrics_1m {wrong:,} of {len(self.metrics):,} rows differ")
        totals: dict[str, Counter] = {source: Counter() for source in self.dq}
        for row in self.latest["dq_metrics"].values():
            if row is None:
                continue
            total = totals.setdefault(row["source"], Counter())
            total.update({f: row[f] for f in DQ_TOTALS})
            total.update({f"invalid:{r}": n for r, n in (row["invalid_by_reason"] or {}).items()})
        for source, want in self.dq.items():
            got_total = totals[source]
            for f in sorted(set(want) | set(got_total)):
                if got_total[f] != want[f]:
                    out.append(f"dq_metrics {source} {f} {got_total[f]:,}/{want[f]:,}")
        return out


class OutputWatch:
    """A read_committed reader of the nine outputs under prefix, from their beginning, feeding
    a tally as the job runs."""

    def __init__(self, bootstrap: str, prefix: str, tally: OutputTally):
        self.tally = tally
        self.name_of = {prefix + topic: name for name, topic in output_topics().items()}
        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-outputs-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        self.consumer.assign(
            [
                TopicPartition(topic, p, OFFSET_BEGINNING)
                for topic in self.name_of
                for p in metadata.topics[topic].partitions
            ]
        )
        self.last_record = time.time()

    def poll(self, timeout: float) -> bool:
        """Read what has come (up to timeout s of waiting); True once the outputs are
        complete."""
        messages = self.consumer.consume(num_messages=10_000, timeout=timeout)
        add, name_of = self.tally.add, self.name_of
        for message in messages:
            if message.error() is None:
                add(name_of[message.topic()], message.key(), message.value())
        if messages:
            self.last_record = time.time()
        return self.tally.complete()

    def close(self) -> None:
        self.consumer.close()


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


def flink_run(
    cfg: StackConfig,
    pipeline: Path,
    prefix: str,
    parallelism: int,
    partitions: list,
    total: int,
    closers: int,
    tally: OutputTally,
    args: argparse.Namespace,
    cpu: CpuClock,
    progress: Progress,
    label: str | None = None,
) -> Row:
    """One run of the job on the copy under prefix (total messages, then closers): from its
    first source subtask RUNNING until a read_committed reader has seen every output the
    truth expects (tally); cancelled then."""
    row = Row(label or f"{JOB}, parallelism {parallelism}", kind="job", parallelism=parallelism)
    name = prefix.rstrip(".")
    task = progress.add_task(f"{row.label}: submitting", total=total + closers)
    others = running_jobs(cfg.flink_rest_url)
    sampler = CpuSampler(cpu, POLL_S)
    began = time.time()
    try:
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
                "--idle-timeout",
                args.idle_timeout,
            ],
            jars=list(resolve("flink").glob("*.jar")),
        )
    except BaseException:
        sampler.stop()
        raise
    row.details = {"job_id": job_id, "prefix": prefix, "submit_s": time.time() - began}
    progress.update(task, description=f"{row.label}: starting")
    rest = FlinkRest(cfg.flink_rest_url)
    watch = outputs = None
    commits: list[tuple[float, int]] = []  # (time, committed raw messages)
    first_write = all_committed = end = None
    try:
        watch = JobWatch(cfg.kafka_bootstrap, name, prefix, partitions)
        outputs = OutputWatch(cfg.kafka_bootstrap, prefix, tally)
        deadline, next_state, next_commit = time.time() + args.timeout, 0.0, 0.0
        while end is None:
            now = time.time()
            if now > deadline:
                raise TimeoutError(f"outputs not complete after {args.timeout:.0f} s")
            if now >= next_state:  # a failed job never completes: stop with its cause
                state, next_state = rest.state(job_id), now + 2
                if state in ("FAILED", "CANCELED", "FINISHED"):
                    failures = rest.exceptions(job_id)
                    why = root_cause(failures[0]["stacktrace"]) if failures else "no cause given"
                    raise FlinkError(f"job {job_id} is {state}: {why}")
            if now >= next_commit:
                next_commit = now + POLL_S
                committed = watch.committed()
                commits.append((now, committed))
                if first_write is None and (committed or watch.written_offsets()):
                    first_write = now
                    progress.update(task, description=row.label)
                if all_committed is None and committed >= total + closers:
                    all_committed = now
                    progress.update(task, description=f"{row.label}: outputs")
                progress.update(task, completed=committed)
            if outputs.poll(0.05):
                end = time.time()
            elif all_committed is not None and (
                now - all_committed > args.outputs_timeout or now - outputs.last_record > QUIET_S
            ):
                raise OutputsIncomplete(
                    f"outputs incomplete {now - all_committed:.0f} s after every message was "
                    f"committed: {'; '.join(tally.missing()[:6])}"
                )
        samples = sampler.stop()
        start, _ = source_times(cfg.flink_rest_url, job_id)
        if start is None:
            raise FlinkError(f"job {job_id}: no RUNNING time of its sources")
        before, after = cpu_window(samples, start, end)
        row.messages, row.seconds = total, end - start
        row.details["startup_s"] = start - began
        if first_write is not None:
            row.details["first_output_s"] = first_write - start
        if all_committed is not None:
            row.details["all_committed_s"] = all_committed - start
        for part in ("taskmanager", "python_workers"):
            row.details[f"cpu_{part}_s"] = cpu_spent(before, after, part)
        if row.details["cpu_taskmanager_s"] is not None:
            row.cpu_client_s = row.details["cpu_taskmanager_s"] + (
                row.details["cpu_python_workers_s"] or 0.0
            )
        row.cpu_broker_s = cpu_spent(before, after, "broker")
        # The slope between the first and the last commit that moved: no start-up, and
        # both ends wait for a checkpoint alike.
        moved = [(t, c) for i, (t, c) in enumerate(commits) if i and c != commits[i - 1][1]]
        if len(moved) >= 2 and moved[-1][0] > moved[0][0]:
            row.details["steady_rate"] = (moved[-1][1] - moved[0][1]) / (moved[-1][0] - moved[0][0])
        row.details["output_records"] = tally.records
        row.notes.append(f"start-up {row.details['startup_s']:.0f} s")
        if "first_output_s" in row.details:
            row.notes.append(f"first output +{row.details['first_output_s']:.1f} s")
        if "steady_rate" in row.details:
            row.notes.append(f"steady {row.details['steady_rate']:,.0f}/s")
        differences = tally.differences()
        row.details["differences"] = differences
        row.notes.append(
            "outputs = the truth"
            if not differences
            else f"[red]outputs differ:[/] {'; '.join(differences[:4])}"
        )
        failures = rest.exceptions(job_id)
        if failures:
            row.notes.append(f"[red]restarted: {root_cause(failures[0]['stacktrace'])}[/]")
        if others:
            row.details["other_jobs"] = others
            row.notes.append(f"[red]other jobs running: {', '.join(others)}[/]")
    finally:
        sampler.stop()
        for watcher in (outputs, watch):
            if watcher is not None:
                watcher.close()
        try:
            rest.cancel(job_id)
            rest.wait_for_state(job_id, {"CANCELED", "FAILED", "FINISHED"}, timeout=60)
        finally:
            rest.close()
    row.details["tasks"] = task_time(cfg.flink_rest_url, job_id)
    return row


def median_row(label: str, runs: list[Row], kind: str, parallelism: int | None) -> Row:
    """The runs of one row as one: the median run's figures (seconds: the median of all;
    CPU, tasks and notes: of the run whose seconds are the median, the lower one for an
    even count), min-max messages/s in the notes, every run in details["runs"]."""
    done = [run for run in runs if not run.error and run.seconds]
    failed = [run for run in runs if run.error or not run.seconds]
    if not done:
        return Row(label, kind=kind, parallelism=parallelism, error=failed[0].error)
    ordered = sorted(done, key=lambda run: run.seconds)
    middle = ordered[(len(ordered) - 1) // 2]
    row = Row(
        label,
        messages=middle.messages,
        seconds=statistics.median(run.seconds for run in done),
        cpu_client_s=middle.cpu_client_s,
        cpu_broker_s=middle.cpu_broker_s,
        details=dict(middle.details),
        kind=kind,
        parallelism=parallelism,
    )
    rates = [run.rate for run in done]
    if len(done) > 1:
        row.notes.append(
            f"median of {len(done)}: {min(rates):,.0f}-{max(rates):,.0f}/s"
            + (f" (runs {', '.join(f'{r:,.0f}' for r in rates)})" if len(done) <= 5 else "")
        )
    row.notes += middle.notes
    if failed:
        row.notes.append(f"[red]{len(failed)} of {len(runs)} runs failed:[/] {failed[0].error}")
    row.details["runs"] = [
        {
            "seconds": run.seconds,
            "messages_per_s": run.rate,
            "cpu_job_s": run.cpu_client_s,
            "cpu_broker_s": run.cpu_broker_s,
            "error": run.error,
            "notes": run.notes,
            **{k: v for k, v in run.details.items() if k != "tasks"},
        }
        for run in runs
    ]
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


def _x(value: float | None) -> str:
    return f"{value:.3f}x" if value is not None else "-"


def ratios(row: Row, rows: list[Row]) -> dict[str, float | None]:
    """A row's messages/s over the pass-through's at its parallelism, the confluent-kafka raw
    read's and the plain Python consumer's (None where either is missing)."""
    passthrough = {r.parallelism: r.rate for r in rows if r.kind == "passthrough" and r.rate}
    raw = next((r.rate for r in rows if r.kind == "raw read" and r.rate), None)
    plain = next((r.rate for r in rows if r.kind == "plain" and r.rate), None)
    rate = row.rate
    base = passthrough.get(row.parallelism) if row.kind in ("passthrough", "job") else None
    return {
        "vs_pass_through": rate / base if rate and base else None,
        "vs_raw_read": rate / raw if rate and raw else None,
        "vs_plain_python": rate / plain if rate and plain else None,
    }


def backlog_ratios(row: Row, backlog: list[Row], rows: list[Row]) -> dict[str, float | None]:
    """A drain rate over the first backlog size's at the same parallelism, and over the job
    row's of the first table."""
    first = next((r for r in backlog if r.parallelism == row.parallelism and r.rate), None)
    job = next((r.rate for r in rows if r.kind == "job" and r.parallelism == row.parallelism), None)
    rate = row.rate
    return {
        "vs_first_backlog": rate / first.rate if rate and first else None,
        "vs_job_row": rate / job if rate and job else None,
    }


def report(rows: list[Row], backlog: list[Row], profile: dict | None, header: str) -> None:
    out = Console(width=max(Console().width, 180))
    if rows:
        table = Table(title="Pipeline throughput, Kafka to Kafka", caption=header)
        table.add_column("")
        for column in (
            "messages",
            "seconds",
            "messages/s",
            "vs\npass-through",
            "vs raw\nread",
            "vs plain\nPython",
            "CPU µs/msg\nclient or job",
            "CPU µs/msg\nbroker",
        ):
            table.add_column(column, justify="right")
        table.add_column("notes", overflow="fold")
        for row in rows:
            if row.error:
                table.add_row(row.label, *[""] * 8, f"[red]failed:[/] {row.error}")
                continue
            vs = ratios(row, rows)
            table.add_row(
                row.label,
                f"{row.messages:,}",
                f"{row.seconds:.2f}",
                f"{row.rate:,.0f}",
                _x(vs["vs_pass_through"]),
                _x(vs["vs_raw_read"]),
                _x(vs["vs_plain_python"]),
                _us(row.cpu_client_s, row.messages),
                _us(row.cpu_broker_s, row.messages),
                "; ".join(row.notes),
            )
        out.print(table)

    if backlog:
        caption = []
        for p in dict.fromkeys(r.parallelism for r in backlog):
            done = [r for r in backlog if r.parallelism == p and r.rate]
            if len(done) >= 2:
                caption.append(
                    f"p={p}: {done[-1].details['backlog_minutes']:g} min / "
                    f"{done[0].details['backlog_minutes']:g} min = "
                    f"{done[-1].rate / done[0].rate:.3f}x"
                )
        if not rows:  # the run's description goes under the only table
            caption.append(header)
        table = Table(
            title="Backlog drain: the job started after the whole backlog was in its topics",
            caption="; ".join(caption) or None,
        )
        table.add_column("")
        for column in (
            "backlog\nminutes",
            "messages",
            "seconds",
            "drain\nmessages/s",
            "vs first\nbacklog",
            "vs job\nrow",
            "CPU µs/msg\njob",
            "CPU µs/msg\nbroker",
        ):
            table.add_column(column, justify="right")
        table.add_column("notes", overflow="fold")
        for row in backlog:
            minutes = f"{row.details.get('backlog_minutes', 0):g}"
            if row.error:
                table.add_row(row.label, minutes, *[""] * 7, f"[red]failed:[/] {row.error}")
                continue
            vs = backlog_ratios(row, backlog, rows)
            table.add_row(
                row.label,
                minutes,
                f"{row.messages:,}",
                f"{row.seconds:.2f}",
                f"{row.rate:,.0f}",
                _x(vs["vs_first_backlog"]),
                _x(vs["vs_job_row"]),
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
    for row in [*rows, *backlog]:
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
            busy = sum(task["busy_s"] for task in row.details["tasks"]) or 1.0
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


KIND_COLORS = {
    "passthrough": "tab:gray",
    "raw read": "tab:olive",
    "plain": "tab:orange",
    "job": "tab:blue",
    "backlog": "tab:cyan",
}


def task_us(row: Row) -> dict[str, float]:
    """A Flink row's busy time per task (summed over subtasks), µs per message."""
    return {t["task"]: t["busy_s"] / row.messages * 1e6 for t in row.details.get("tasks", [])}


def plot(rows: list[Row], backlog: list[Row], path: Path, title: str, top: int = 8) -> bool:
    """Two panels: messages/s per row (log scale, min-max of the runs as whiskers), and each
    Flink row's busy time per task in µs per message (the `top` busiest tasks over all rows,
    the rest as one). False, and no file, when no row has a rate."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    shown = [r for r in [*rows, *backlog] if r.rate]
    if not shown:
        return False
    flink = [r for r in shown if r.details.get("tasks")]
    height = max(4.5, 0.45 * max(len(shown), len(flink)) + 3)
    fig, (rate_ax, task_ax) = plt.subplots(
        1, 2, figsize=(16, height), gridspec_kw={"width_ratios": [1, 1.2]}
    )

    def label(row: Row) -> str:
        return textwrap.fill(row.label, 34)

    rates = [r.rate for r in shown]
    y = list(range(len(shown)))
    rate_ax.barh(y, rates, color=[KIND_COLORS.get(r.kind, "tab:blue") for r in shown])
    for i, r in enumerate(shown):
        runs = [run["messages_per_s"] for run in r.details.get("runs", []) if run["messages_per_s"]]
        if len(runs) > 1:  # the runs' min-max
            spread = [[r.rate - min(runs)], [max(runs) - r.rate]]
            rate_ax.errorbar(r.rate, i, xerr=spread, color="black", capsize=3)
        rate_ax.text(max([r.rate, *runs]), i, f" {r.rate:,.0f}", va="center", fontsize=8)
    rate_ax.set_yticks(y, [label(r) for r in shown], fontsize=8)
    rate_ax.invert_yaxis()
    rate_ax.set_xscale("log")
    rate_ax.set_xlim(10 ** math.floor(math.log10(min(rates) * 0.8)), max(rates) * 6)
    rate_ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    rate_ax.set_xlabel("messages/s (log scale; whiskers: min-max of the runs)")
    rate_ax.set_title("Throughput per row", fontsize=10)

    per_row = [task_us(r) for r in flink]
    totals: Counter = Counter()
    for tasks in per_row:
        totals.update(tasks)
    kept = [task for task, _ in totals.most_common(top)]
    parts = kept + (["other tasks"] if len(totals) > len(kept) else [])
    y = list(range(len(flink)))
    left = [0.0] * len(flink)
    colors = plt.get_cmap("tab10").colors + plt.get_cmap("Set3").colors
    for n, part in enumerate(parts):
        if part == "other tasks":
            values = [sum(v for t, v in tasks.items() if t not in kept) for tasks in per_row]
        else:
            values = [tasks.get(part, 0.0) for tasks in per_row]
        name = part if len(part) <= 70 else part[:67] + "..."
        task_ax.barh(y, values, left=left, label=name, color=colors[n % len(colors)])
        left = [a + b for a, b in zip(left, values, strict=True)]
    for i, total in enumerate(left):
        task_ax.text(total, i, f" {total:,.1f}", va="center", fontsize=8)
    task_ax.set_yticks(y, [label(r) for r in flink], fontsize=8)
    task_ax.invert_yaxis()
    task_ax.set_xlim(right=max(left, default=1.0) * 1.15 or 1.0)
    task_ax.set_xlabel("busy time per task, µs per message (summed over subtasks)")
    task_ax.set_title("Where a Flink row's time goes (median run)", fontsize=10)
    task_ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(textwrap.fill(title, 190), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


# --- main ---------------------------------------------------------------------------------


def warm_up(
    cfg: StackConfig,
    pipeline: Path,
    run: str,
    args: argparse.Namespace,
    cpu: CpuClock,
    progress: Progress,
    closers_module,
) -> Row:
    """The job once, untimed, on --warmup-messages of traffic of its own (with closers, until
    its outputs are complete), before the timed runs."""
    config = simulation(args.warmup_messages, args.bid_rate, args.seed)
    sim = Simulator(config)
    prefix = f"{run}-warmup."
    sources = preload(cfg.kafka_bootstrap, sim, [prefix], progress, keep=False)
    closers = send_closers(cfg.kafka_bootstrap, [prefix], closing_time(config))
    tally = OutputTally(sim.truth.to_dict(), closers_module.CLOSERS_DQ, closers_module.CLOSING)
    parallelism = args.parallelism[0]
    return flink_run(
        cfg,
        pipeline,
        prefix,
        parallelism,
        raw_partitions(cfg.kafka_bootstrap, prefix),
        len(sources),
        closers,
        tally,
        args,
        cpu,
        progress,
        label=f"warm-up (untimed), parallelism {parallelism}",
    )


FLINK_FAILURES = (SubmitFailed, FlinkError, FlinkUnreachable, TimeoutError, OutputsIncomplete)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--messages", type=int, default=200_000, help="about this many (0: no first table)"
    )
    parser.add_argument("--bid-rate", type=float, default=300.0, help="simulated bid requests/s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--parallelism", type=int, nargs="*", default=[1, 2], help="Flink rows at each"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each Flink row (median)")
    parser.add_argument(
        "--warmup-messages",
        type=int,
        default=20_000,
        help="an untimed run of the job first, on about this many messages (0: none)",
    )
    parser.add_argument("--pipeline", type=Path, default=PIPELINE, help="the job script")
    parser.add_argument("--checkpoint-interval", default="2 s")
    parser.add_argument(
        "--idle-timeout",
        default="1 min",
        help="the job's: every row reads a backlog, where a partition waiting behind another "
        "in the reader must not be taken for idle (docs/pipeline.md, Idle partitions)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per Flink run")
    parser.add_argument(
        "--outputs-timeout",
        type=float,
        default=120,
        help="seconds for the outputs to complete once every message is committed",
    )
    parser.add_argument(
        "--backlog-minutes",
        type=float,
        nargs="*",
        default=[],
        help="the Backlog drain table: simulated minutes of traffic waiting, each",
    )
    parser.add_argument("--backlog-repeats", type=int, default=1, help="runs of each backlog")
    parser.add_argument("--no-kafka-python-read", action="store_true")
    parser.add_argument("--top", type=int, default=12, help="functions in the profile")
    parser.add_argument("--plot", type=Path, help="also draw the figures into this PNG")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.repeats < 1 or args.backlog_repeats < 1:
        parser.error("--repeats and --backlog-repeats are at least 1")

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
    closers_module = golden_closers()
    load_before = os.getloadavg()
    cpu = CpuClock(cfg)
    others = running_jobs(cfg.flink_rest_url)
    rows: list[Row] = []
    backlog: list[Row] = []
    profile = warmup = config = None
    per_source: Counter = Counter()
    total = closers = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:

        def tally(truth: dict) -> OutputTally:
            return OutputTally(truth, closers_module.CLOSERS_DQ, closers_module.CLOSING)

        def warm() -> None:
            nonlocal warmup
            if warmup is None and args.warmup_messages and args.parallelism:
                try:
                    warmup = warm_up(cfg, pipeline, run, args, cpu, progress, closers_module)
                except FLINK_FAILURES as exc:
                    warmup = Row("warm-up (untimed)", error=str(exc))
                    err.print(f"[red]warm-up failed:[/] {exc}")

        if args.messages:
            config = simulation(args.messages, args.bid_rate, args.seed)
            sim = Simulator(config)
            base = f"{run}-base."
            copies = {
                (p, r): f"{run}-p{p}-r{r}." for r in range(args.repeats) for p in args.parallelism
            }
            messages = preload(cfg.kafka_bootstrap, sim, [base, *copies.values()], progress)
            total = len(messages)
            per_source = Counter(m.source for m in messages)
            truth = sim.truth.to_dict()
            if copies:
                closers = send_closers(
                    cfg.kafka_bootstrap, list(copies.values()), closing_time(config)
                )
            partitions = raw_partitions(cfg.kafka_bootstrap, base)
            first = raw_read_confluent(cfg.kafka_bootstrap, partitions, total, cpu, progress)
            first.kind = "raw read"
            others_rows = [first]
            if not args.no_kafka_python_read:
                read = raw_read_kafka_python(cfg.kafka_bootstrap, partitions, total, cpu, progress)
                read.kind = "raw read, kafka-python"
                others_rows.append(read)
            plain, sent = plain_consumer(
                cfg.kafka_bootstrap, base, f"{run}-python.", partitions, total, cpu, progress
            )
            plain.kind = "plain"
            others_rows.append(plain)
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
            campaigns = read_campaigns(cfg.kafka_bootstrap, base + CAMPAIGN_TOPIC)
            profile = profile_udf_path(messages, campaigns, args.top)
            del messages
            progress.update(task, total=1, completed=1)

            warm()
            passthrough_runs: dict[int, list[Row]] = {p: [] for p in args.parallelism}
            job_runs: dict[int, list[Row]] = {p: [] for p in args.parallelism}
            for r in range(args.repeats):
                for p in args.parallelism:
                    try:
                        passthrough_runs[p].append(
                            passthrough_run(cfg, base, p, total, args, cpu, progress)
                        )
                    except FLINK_FAILURES as exc:
                        passthrough_runs[p].append(Row(PASSTHROUGH, error=str(exc)))
                        err.print(f"[red]pass-through p={p} failed:[/] {exc}")
                    prefix = copies[p, r]
                    try:
                        job_runs[p].append(
                            flink_run(
                                cfg,
                                pipeline,
                                prefix,
                                p,
                                raw_partitions(cfg.kafka_bootstrap, prefix),
                                total,
                                closers,
                                tally(truth),
                                args,
                                cpu,
                                progress,
                            )
                        )
                    except FLINK_FAILURES as exc:
                        job_runs[p].append(Row(JOB, error=str(exc)))
                        err.print(f"[red]Flink job p={p} failed:[/] {exc}")
            rows = [
                median_row(f"{PASSTHROUGH}, parallelism {p}", runs, "passthrough", p)
                for p, runs in passthrough_runs.items()
            ]
            rows += others_rows
            rows += [
                median_row(f"{JOB}, parallelism {p}", runs, "job", p)
                for p, runs in job_runs.items()
            ]

        for minutes in args.backlog_minutes if args.parallelism else []:
            warm()
            backlog_config = simulation(0, args.bid_rate, args.seed, duration_s=minutes * 60)
            sim = Simulator(backlog_config)
            copies = {
                (p, r): f"{run}-b{minutes:g}m-p{p}-r{r}."
                for r in range(args.backlog_repeats)
                for p in args.parallelism
            }
            sources = Counter(
                preload(cfg.kafka_bootstrap, sim, list(copies.values()), progress, keep=False)
            )
            truth = sim.truth.to_dict()
            sent = send_closers(
                cfg.kafka_bootstrap, list(copies.values()), closing_time(backlog_config)
            )
            runs: dict[int, list[Row]] = {p: [] for p in args.parallelism}
            for (p, _), prefix in copies.items():
                label = f"{minutes:g} min backlog, parallelism {p}"
                try:
                    runs[p].append(
                        flink_run(
                            cfg,
                            pipeline,
                            prefix,
                            p,
                            raw_partitions(cfg.kafka_bootstrap, prefix),
                            sources.total(),
                            sent,
                            tally(truth),
                            args,
                            cpu,
                            progress,
                            label=label,
                        )
                    )
                except FLINK_FAILURES as exc:
                    runs[p].append(Row(label, error=str(exc)))
                    err.print(f"[red]{label} failed:[/] {exc}")
            for p, done in runs.items():
                row = median_row(f"{minutes:g} min backlog, parallelism {p}", done, "backlog", p)
                row.details |= {
                    "backlog_minutes": minutes,
                    "simulated_s": backlog_config.duration_s,
                    "per_source": dict(sources),
                }
                backlog.append(row)
    load_after = os.getloadavg()

    parts = []
    if config is not None:
        parts.append(
            f"{total:,} messages ({', '.join(f'{s} {n:,}' for s, n in per_source.items())}), "
            f"{config.duration_s:.0f} simulated s at {config.bid_rate:.0f} bid requests/s, "
            "every anomaly on"
        )
    if backlog:
        parts.append(
            "backlogs "
            + ", ".join(
                f"{r.details['backlog_minutes']:g} min = {sum(r.details['per_source'].values()):,}"
                " messages"
                for r in backlog
                if r.parallelism == args.parallelism[0]
            )
            + f" at {args.bid_rate:.0f} bid requests/s"
        )
    if args.parallelism:
        medians = [f"Flink rows: median of {args.repeats}"] if rows else []
        medians += [f"backlog rows: median of {args.backlog_repeats}"] if backlog else []
        parts.append(", ".join([*medians, f"checkpoints every {args.checkpoint_interval}"]))
        if warmup is None:
            parts.append("no warm-up")
        elif warmup.error:
            parts.append(f"[red]warm-up failed[/]: {warmup.error}")
        else:
            parts.append(
                f"warm-up: the job once on {warmup.messages:,} messages, untimed "
                f"({warmup.seconds:.0f} s)"
            )
    parts.append(
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; topics {run}-*"
    )
    header = "; ".join(parts)
    if others:
        header += f"; [red]other jobs ran on the cluster[/]: {', '.join(others)}"
    report(rows, backlog, profile, header)
    if args.plot:
        if plot(rows, backlog, args.plot, re.sub(r"\[/?[a-z ]+\]", "", header)):
            print(f"plot: {args.plot}")
        else:
            err.print("[red]no plot: no row has a rate[/]")
    if args.json:
        figures = {
            "run": run,
            "pipeline": str(pipeline),
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "simulation": json.loads(config.model_dump_json()) if config else None,
            "messages": dict(per_source),
            "total": total,
            "closers_per_copy": closers,
            "warmup": asdict(warmup) if warmup else None,
            "cpus": os.cpu_count(),
            "load_average": {"before": load_before, "after": load_after},
            "other_jobs": others,
            "rows": [
                {**asdict(row), "messages_per_s": row.rate, **ratios(row, rows)} for row in rows
            ],
            "backlog": [
                {**asdict(row), "messages_per_s": row.rate, **backlog_ratios(row, backlog, rows)}
                for row in backlog
            ],
            "profile": profile,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["job"]:  # inside `flink run -py`: build and submit the pass-through
        passthrough_job(sys.argv[2:])
    else:
        main()
