"""Head throughput: what the pipeline's head (decode, validate, standardize and enrich every raw
message) costs per message, the JVM functions beside the Python UDF they replaced, with a
Flink pass-through job on the same topics as the limit (issue 13: at most 10 µs of CPU per
message above it).

Run on a running stack (addresses from the same ADVERTISEX_* variables as `advertisex stack
up`):

    advertisex stack up kafka flink
    python bench/head_throughput.py [--messages 300000] [--plot head.png] [--jfr head.jfr]

One run, one table. The simulator's traffic (every anomaly knob on) is preloaded once into
raw topics under a prefix of their own (three sources, 4 partitions each, no producer
timestamps); every row is a Flink job that reads all of it with a fresh consumer group, from
the earliest offset to the end the topics had when it started (`scan.bounded.mode =
latest-offset`, so it finishes by itself), at parallelism 1, into `blackhole` sinks:

1. pass-through: the raw Kafka tables, payload only. The limit.
2. JVM head (after): the raw tables as KafkaTables.raw_source builds them (rowtime from the
   payload by adx_event_time, the watermark in the source) and validate.sql's views built
   as pipeline.build() builds them; every checked_<source> row.
3. Python head (before): the old design's raw tables (rowtime = the message timestamp) and
   the same validate.sql views over a Python UDF per message that calls the reference rules
   (advertisex.contract.event_time.check) and looks the campaign up in a dict.

Each job is this file run by `flink run -py` (`job ROW ...`), so its driver is the same code.
Two settings differ from the pipeline's, in all three rows alike: no checkpoints (a bounded
job waits for a final one before its tasks finish: up to an interval more wall time) and no
watermark alignment (in a bounded Kafka source a split that ends while a pause is on its way
fails the job: FLINK-39728, not fixed in the connector used here).

Figures: wall time is the job's own (REST /jobs/<id>: start to end, deployment included).
CPU comes from /proc over that interval, sampled every 0.1 s by a thread: the TaskManager
JVM's, split by thread (task threads, Kafka fetchers, JIT compilers, GC: a job's start-up
compiling is seen apart from its work per message), and its Python workers' (followed until
they end, after the job). `above pass-through` is (row CPU - pass-through CPU) / messages:
what the head costs. `--jfr FILE` runs the JVM head once more (untimed) under Java Flight
Recorder on the TaskManager and sorts its stack samples into the head's parts. `--set
KEY=VALUE` passes Flink configuration to every job (an experiment, such as
pipeline.object-reuse=true); `--reuse PREFIX` reads a previous run's raw topics again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from pyflink.common import Row as FlinkRow
from pyflink.common.configuration import Configuration
from pyflink.table import (
    DataTypes,
    EnvironmentSettings,
    Schema,
    StatementSet,
    TableDescriptor,
    TableEnvironment,
)
from pyflink.table.udf import ScalarFunction, udf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from advertisex.contract.errors import ContractError
from advertisex.contract.event_time import check
from advertisex.contract.topics import CAMPAIGN_TOPIC, RAW_TOPICS
from advertisex.ingest.simulator import Simulator
from advertisex.jobs.flink_rest import FlinkError, FlinkRest, FlinkUnreachable, root_cause
from advertisex.jobs.submit import SubmitFailed, submit_python_job
from advertisex.stack import supervisor
from advertisex.stack.config import StackConfig
from advertisex.stack.jars import resolve
from flink_jobs.pipeline import _VIEW, PipelineSettings, _per_source, functions_jar
from flink_jobs.schema_types import validated_fields
from flink_jobs.sql_files import statements
from flink_jobs.tables import KafkaOptions, KafkaTables
from flink_jobs.udfs import SOURCES, CampaignSource, register

REPO = Path(__file__).resolve().parents[1]
ROWS = {
    "passthrough": "pass-through (raw tables -> blackhole)",
    "jvm": "JVM head (after)",
    "python": "Python head (before)",
}
GOAL_US = 10.0  # issue 13: the head's CPU per message above the pass-through
SAMPLE_S = 0.1
# Enrichment columns in the validated rows' order (schemas: x-set-by enrichment), from the
# campaign dimension's fields; campaign_known follows.
CAMPAIGN_FIELDS = ("advertiser_id", "name", "status", "daily_budget_micros")


# --- the jobs (run inside `flink run -py`) ------------------------------------------------


class PythonCheck(ScalarFunction):
    """The old head's per-message UDF: the reference rules, then a campaign dict lookup.
    Returns adx_check_<source>'s row (reason, checked_at_ms, validated fields), so the same
    validate.sql reads it."""

    def __init__(self, source: str, campaigns: dict[str, tuple]):
        self.source, self.campaigns = source, campaigns
        fields = [name for name, _ in validated_fields(source)]
        self.names = fields[: -len(CAMPAIGN_FIELDS) - 1]
        self.empty = (None,) * len(fields)
        self.unknown = (None,) * len(CAMPAIGN_FIELDS) + (False,)

    def eval(self, payload: bytes | None):
        now = time.time_ns() // 1_000_000
        try:
            record = check(self.source, payload or b"")
        except ContractError as error:
            return FlinkRow(error.reason, now, *self.empty)
        campaign = self.campaigns.get(record.get("campaign_id"), self.unknown)
        return FlinkRow(None, now, *[record.get(n) for n in self.names], *campaign)


def python_check(source: str, campaigns: dict[str, tuple]):
    fields = [("reason", DataTypes.STRING()), ("checked_at_ms", DataTypes.BIGINT())]
    fields += validated_fields(source)
    return udf(
        PythonCheck(source, campaigns),
        input_types=[DataTypes.BYTES()],
        result_type=DataTypes.ROW([DataTypes.FIELD(n, t) for n, t in fields]),
    )


def read_campaigns(bootstrap: str, topic: str) -> dict[str, tuple]:
    """campaign_id -> enrichment values, the compacted topic read to its end; the newest
    version wins and a tombstone deletes (what CampaignDirectory does)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-campaigns-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    campaigns: dict[str, tuple] = {}
    versions: dict[str, int] = {}
    while True:
        message = consumer.poll(10)
        if message is None:
            raise TimeoutError(f"{topic}: no end in sight after 10 s")
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                break
            raise RuntimeError(f"{topic}: {message.error()}")
        if message.value() is None:
            campaigns.pop(message.key().decode(), None)
            continue
        row = json.loads(message.value())
        version = int(row.get("updated_at_ms") or 0)
        if version >= versions.get(row["campaign_id"], -1):
            versions[row["campaign_id"]] = version
            campaigns[row["campaign_id"]] = (*(row.get(f) for f in CAMPAIGN_FIELDS), True)
    consumer.close()
    return campaigns


def bounded(
    descriptor: TableDescriptor, schema: Schema | None = None, watermark: bool = True
) -> TableDescriptor:
    """A raw table that ends at the topics' end offsets at job start (the job then finishes),
    optionally with another schema (without a watermark: no watermark options).

    Without watermark alignment: in a bounded source it fails the job at random when a split
    ends while a pause is on its way (FLINK-39728). It also caps a backlog's replay speed,
    which the pass-through would not share."""
    options = dict(descriptor.get_options())
    builder = TableDescriptor.for_connector(options.pop("connector"))
    builder = builder.schema(schema or descriptor.get_schema())
    unused = None if watermark else "scan.watermark."
    for key, value in options.items():
        if not key.startswith("scan.watermark.alignment.") and not (
            unused and key.startswith(unused)
        ):
            builder = builder.option(key, value)
    return builder.option("scan.bounded.mode", "latest-offset").build()


def message_time_schema(out_of_orderness_s: int) -> Schema:
    """The old design's raw table: rowtime is the message timestamp (then the producer's
    event time; here the broker's LogAppendTime, which costs the same to read)."""
    return (
        Schema.new_builder()
        .column("payload", DataTypes.BYTES())
        .column_by_metadata("kafka_topic", DataTypes.STRING(), "topic", True)
        .column_by_metadata("kafka_partition", DataTypes.INT(), "partition", True)
        .column_by_metadata("kafka_offset", DataTypes.BIGINT(), "offset", True)
        .column_by_metadata("rowtime", DataTypes.TIMESTAMP_LTZ(3), "timestamp", True)
        .column_by_expression("file_name", "CAST(NULL AS STRING)")
        .column_by_expression("file_line", "CAST(NULL AS BIGINT)")
        .column_by_expression("proc_time", "PROCTIME()")
        .watermark("rowtime", f"rowtime - INTERVAL '{int(out_of_orderness_s)}' SECOND")
        .build()
    )


def head_job(env: TableEnvironment, row: str, bootstrap: str, prefix: str) -> StatementSet:
    """One row's job: raw tables in, every row out to blackhole."""
    settings = PipelineSettings(parallelism=1)
    tables = KafkaTables(
        KafkaOptions(
            bootstrap=bootstrap,
            out_of_orderness_s=settings.out_of_orderness_s,
            topic_prefix=prefix,
            group_id=env.get_config().get("pipeline.name", "bench"),  # fresh: from earliest
        )
    )
    blackhole = TableDescriptor.for_connector("blackhole").build()
    statement_set = env.create_statement_set()
    if row == "passthrough":
        payload_only = Schema.new_builder().column("payload", DataTypes.BYTES()).build()
        for source in SOURCES:
            raw = env.from_descriptor(
                bounded(tables.raw_source(source), payload_only, watermark=False)
            )
            statement_set.add_insert(blackhole, raw)
        return statement_set
    if row == "jvm":
        # As pipeline.build(): the functions jar beside what `flink run` put there, then the
        # JVM functions and their job parameter.
        config = env.get_config()
        jars = Configuration.parse_list_value(config.get("pipeline.jars", "")) or []
        config.set("pipeline.jars", ";".join([*jars, functions_jar().resolve().as_uri()]))
        campaigns = CampaignSource(bootstrap=bootstrap, topic=prefix + CAMPAIGN_TOPIC)
        register(env, campaigns)
        schema = None
    else:
        known = read_campaigns(bootstrap, prefix + CAMPAIGN_TOPIC)
        for source in SOURCES:
            env.create_temporary_system_function(f"adx_check_{source}", python_check(source, known))
        schema = message_time_schema(settings.out_of_orderness_s)
    for source in SOURCES:
        env.create_temporary_table(f"raw_{source}", bounded(tables.raw_source(source), schema))
    parameters = settings.sql_parameters()
    parameters |= tables.sql_parameters(parameters["out_of_orderness"])
    for source in SOURCES:
        for statement in statements("validate", parameters | _per_source(source)):
            view = _VIEW.match(statement)
            env.create_temporary_view(view.group(1), env.sql_query(view.group(2)))
        statement_set.add_insert(blackhole, env.from_path(f"checked_{source}"))
    return statement_set


def run_job(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="head_throughput.py job")
    parser.add_argument("row", choices=ROWS)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--name", required=True, help="job name and consumer group")
    args = parser.parse_args(argv)
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    PipelineSettings(parallelism=1).apply(env, args.name)
    # No checkpoints: a bounded job would wait for a final one before finishing.
    env.get_config().get_configuration().remove_config("execution.checkpointing.interval")
    result = head_job(env, args.row, args.bootstrap, args.prefix).execute()
    print(f"JOB_ID {result.get_job_client().get_job_id()}")


# --- CPU time from /proc ------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, user + system CPU s, start time in ticks) of a process, None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, int(fields[19])


# The TaskManager's threads by what they do, from their names as /proc shows them (the first
# 15 characters): the first kind with a matching prefix; "task" is a task's own thread (its
# chain of operators), named after its first operator.
THREAD_KINDS = (
    ("JIT compilers", ("C1 CompilerThre", "C2 CompilerThre")),
    ("GC and VM", ("GC Thread", "G1 ", "VM Thread", "VM Periodic")),
    ("Kafka fetchers", ("Source Data Fet",)),
    ("campaign follower", ("campaign-direct",)),
    ("task threads", ("Source: ", "OverAggregate", "Calc[", "PythonCalc", "Sink: ")),
)


def thread_kind(name: str) -> str:
    """The kind of a TaskManager thread by its name; "other" for the rest (RPC, metrics)."""
    for kind, prefixes in THREAD_KINDS:
        if name.startswith(prefixes):
            return kind
    return "other"


@dataclass
class CpuSample:
    at: float  # time.time()
    taskmanager: float  # the JVM's CPU s so far
    workers: float  # every Python worker's CPU s so far, ended ones at their last reading
    broker: float
    threads: dict[str, float]  # the JVM's CPU s so far by thread kind, ended at their last


class CpuSampler(threading.Thread):
    """CPU seconds so far of the TaskManager JVM, its Python workers and the broker, every
    SAMPLE_S, kept with the wall-clock time so that a job's [start, end] can be cut out.

    A worker is any descendant of the TaskManager, followed after it leaves: at a job's end
    the TaskManager kills the worker's launcher script, and the worker, now a child of init,
    finishes on its own (so the TaskManager's children counters never see its CPU).
    """

    def __init__(self, taskmanager: int, broker: int | None):
        super().__init__(daemon=True)
        self.taskmanager, self.broker = taskmanager, broker
        self.samples: list[CpuSample] = []
        self.workers: dict[tuple[int, int], float] = {}  # (pid, start ticks) -> CPU s
        self.threads: dict[tuple[int, int], tuple[str, float]] = {}  # -> (kind, CPU s)
        self._done = threading.Event()

    def sample(self) -> CpuSample:
        stats = {
            int(e.name): proc_stat(int(e.name)) for e in Path("/proc").iterdir() if e.name.isdigit()
        }
        stats = {pid: stat for pid, stat in stats.items() if stat}
        children: dict[int, list[int]] = {}
        for pid, (parent, _, _) in stats.items():
            children.setdefault(parent, []).append(pid)
        todo = list(children.get(self.taskmanager, []))
        while todo:
            pid = todo.pop()
            self.workers[(pid, stats[pid][2])] = stats[pid][1]
            todo += children.get(pid, [])
        for pid, start in list(self.workers):
            if pid in stats and stats[pid][2] == start:  # followed after it left
                self.workers[(pid, start)] = stats[pid][1]
        if self.taskmanager not in stats:
            raise RuntimeError(f"the TaskManager (pid {self.taskmanager}) is gone")
        broker = stats.get(self.broker)
        for task in Path(f"/proc/{self.taskmanager}/task").iterdir():
            try:
                text = (task / "stat").read_text()
            except OSError:
                continue  # ended since the listing
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rpartition(")")[2].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            self.threads[(int(task.name), int(fields[19]))] = (thread_kind(name), cpu)
        threads: Counter = Counter()
        for kind, cpu in self.threads.values():
            threads[kind] += cpu
        return CpuSample(
            time.time(),
            stats[self.taskmanager][1],
            sum(self.workers.values()),
            broker[1] if broker else 0.0,
            dict(threads),
        )

    def run(self) -> None:
        while not self._done.wait(SAMPLE_S):
            self.samples.append(self.sample())

    def stop(self) -> None:
        self._done.set()
        self.join()

    def workers_alive(self) -> bool:
        return any(proc_stat(pid) for pid, _ in self.workers)


def cpu_between(samples: list[CpuSample], start: float, end: float) -> dict[str, float]:
    """CPU seconds spent from start to end (epoch s): from the last sample at or before start
    to the first at or after end (so never less than the interval), per kind; the workers'
    to the last sample, taken after they ended (they finish after the job)."""
    before = [s for s in samples if s.at <= start]
    after = [s for s in samples if s.at >= end]
    if not before or not after:
        raise ValueError("the samples do not cover the interval")
    first, last = before[-1], after[0]
    spent = {
        "taskmanager": last.taskmanager - first.taskmanager,
        "python_workers": samples[-1].workers - first.workers,
        "broker": last.broker - first.broker,
    }
    for kind, _ in THREAD_KINDS:
        spent[f"thread: {kind}"] = last.threads.get(kind, 0.0) - first.threads.get(kind, 0.0)
    # The rest, with what threads that ended spent after their last sample: it all adds up.
    named = sum(value for key, value in spent.items() if key.startswith("thread: "))
    spent["thread: other"] = spent["taskmanager"] - named
    return spent


# --- JFR: where the JVM head's CPU goes ---------------------------------------------------

# (part, patterns): a stack sample belongs to the first part with a pattern in one of its
# frames (`package.Class.method`), so the functions come first and Flink's plumbing after.
# JFR often walks only the top few frames, so the contract's own classes name the parts
# rather than the function that called them (adx_event_time and adx_check both decode).
PARTS = (
    (
        "decode (JSON, CSV, Avro)",
        ("contract.Sources.decode", "contract.BidRequestsAvro.", "contract.ClicksCsv.")
        + ("contract.Json.", "contract.Impressions."),
    ),
    (
        "standardize (the rules)",
        ("contract.Sources.standardize", "contract.Rules.", "contract.PyText."),
    ),
    ("adx_event_time, the rest", ("flink.EventTimeFunction.", "contract.Timestamps.")),
    ("adx_check: campaign lookup, result row", ("flink.CheckFunction.",)),
    ("row copies between chained operators", ("Serializer.copy", "CopyingChainingOutput")),
    (
        "rows to bytes and back (network)",
        ("runtime.io.network.", "Serializer.serialize", "Serializer.deserialize", "RecordWriter")
        + ("toBinaryRow", "BinaryRowWriter", "BinaryArrayWriter", "StringUtf8Utils"),
    ),
    ("OVER window (late)", ("OverAggregate", "Preceding", "KeyedProcessOperator")),
    ("Kafka client, source reader", ("kafka.shaded.", "connector.kafka.", "connector.base.")),
    ("job start: code generation, class loading", ("codehaus.", "antlr", "ClassLoader", "SHA.")),
    ("generated Calc, sink", ("StreamExecCalc", "SinkOperator", "SinkWriter", "BlackHole")),
)


def part_of(frames: list[str]) -> str:
    """The part of the head a stack sample (frames leaf first, `package.Class.method`) is in."""
    for part, patterns in PARTS:
        if any(p in f for f in frames for p in patterns):
            return part
    return "other"


def jfr_parts(recording: Path, jfr: Path) -> dict:
    """Execution samples of the recording by part, and the hottest methods by own samples."""
    text = subprocess.run(
        [str(jfr), "print", "--json", "--events", "jdk.ExecutionSample", str(recording)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    parts: Counter = Counter()
    own: Counter = Counter()
    events = json.loads(text)["recording"]["events"]
    for event in events:
        stack = event["values"]["stackTrace"] or {"frames": []}
        frames = [
            f"{f['method']['type']['name'].replace('/', '.')}.{f['method']['name']}"
            for f in stack["frames"]
        ]
        parts[part_of(frames)] += 1
        if frames:
            own[frames[0]] += 1
    return {"samples": len(events), "parts": dict(parts), "own": dict(own.most_common(15))}


# --- the runs -----------------------------------------------------------------------------


@dataclass
class Result:
    row: str
    label: str
    messages: int = 0
    seconds: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    job_id: str | None = None
    notes: list[str] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    error: str | None = None

    @property
    def cpu_s(self) -> float:
        return self.cpu.get("taskmanager", 0.0) + self.cpu.get("python_workers", 0.0)

    def us_per_message(self) -> float:
        return self.cpu_s / self.messages * 1e6

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def flink_run(cfg, row: str, prefix: str, total: int, sampler, progress, args) -> Result:
    """Submit one row's job and wait until it has finished; its wall time and CPU."""
    result = Result(row, ROWS[row])
    name = f"{prefix.rstrip('.')}-{row}-{uuid.uuid4().hex[:4]}"
    task = progress.add_task(f"{result.label}: submitting", total=total)
    result.job_id = job_id = submit_python_job(
        cfg.flink_rest_url,
        Path(__file__),
        ["job", row, "--bootstrap", cfg.kafka_bootstrap, "--prefix", prefix, "--name", name],
        jars=list(resolve("flink").glob("*.jar")),
        configuration=dict(item.split("=", 1) for item in args.set),
    )
    progress.update(task, description=f"{result.label}: running")
    timeout = args.timeout
    deadline = time.monotonic() + timeout
    with FlinkRest(cfg.flink_rest_url) as rest:
        while (state := rest.state(job_id)) not in ("FINISHED", "FAILED", "CANCELED"):
            if time.monotonic() > deadline:
                rest.cancel(job_id)
                raise TimeoutError(f"{row}: not finished after {timeout:.0f} s")
            read = records_read(cfg.flink_rest_url, job_id)
            if read is not None:
                progress.update(task, completed=read)
            time.sleep(0.5)
        if state != "FINISHED":
            failures = rest.exceptions(job_id)
            why = root_cause(failures[0]["stacktrace"]) if failures else "no cause given"
            raise FlinkError(f"job {job_id} is {state}: {why}")
        job = rest.job(job_id)
    # Python workers end after the job: wait for them (their last reading is their CPU).
    for _ in range(100):
        if not sampler.workers_alive():
            break
        time.sleep(SAMPLE_S)
    time.sleep(3 * SAMPLE_S)
    start, end = job["start-time"] / 1000, job["end-time"] / 1000
    result.messages, result.seconds = total, job["duration"] / 1000
    result.cpu = cpu_between(sampler.samples, start, end)
    # Compiling is a start-up cost: most of it falls in the job's first half.
    jit = result.cpu["thread: JIT compilers"]
    if jit > 0:
        early = cpu_between(sampler.samples, start, (start + end) / 2)["thread: JIT compilers"]
        result.notes.append(f"JIT {min(early / jit, 1):.0%} in the first half")
    # A source task's records in are the messages it read.
    read = sum(
        v["metrics"]["read-records"] for v in job["vertices"] if v["name"].startswith("Source")
    )
    if read != total:
        result.notes.append(f"[red]read {read:,} of {total:,} messages[/]")
    from pipeline_throughput import task_time  # the sibling bench's: see main()

    result.tasks = task_time(cfg.flink_rest_url, job_id)
    busy = sum(t["busy_s"] for t in result.tasks)
    result.notes.append(f"busy {busy:.1f} s of tasks")
    progress.update(task, completed=total, description=f"{result.label}: finished")
    return result


def records_read(rest_url: str, job_id: str) -> int | None:
    """Records the job's sources have read so far (REST metrics: refreshed every 10 s at most),
    for the progress bar only."""
    try:
        job = httpx.get(f"{rest_url}/jobs/{job_id}", timeout=5).json()
        total = 0
        for vertex in job["vertices"]:
            if not vertex["name"].startswith("Source"):
                continue
            url = f"{rest_url}/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
            names = [m["id"] for m in httpx.get(url, timeout=5).json()]
            wanted = [n for n in names if n.startswith("Source__") and n.endswith("numRecordsOut")]
            if wanted:
                values = httpx.get(url, params={"get": wanted[0]}, timeout=5).json()
                total += int(values[0]["sum"])
        return total
    except (httpx.HTTPError, KeyError, IndexError, ValueError):
        return None


def jfr_run(cfg, prefix: str, total: int, sampler, progress, args):
    """The JVM head once more, under Java Flight Recorder on the TaskManager."""
    java = Path(os.readlink(f"/proc/{sampler.taskmanager}/exe")).parent
    recording = args.jfr.resolve()
    pid, name = str(sampler.taskmanager), f"bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        [str(java / "jcmd"), pid, "JFR.start", f"name={name}", "settings=profile"],
        check=True,
        capture_output=True,
    )
    try:
        result = flink_run(cfg, "jvm", prefix, total, sampler, progress, args)
    finally:
        subprocess.run(
            [str(java / "jcmd"), pid, "JFR.stop", f"name={name}", f"filename={recording}"],
            check=True,
            capture_output=True,
        )
    return result, jfr_parts(recording, java / "jfr")


def raw_counts(bootstrap: str, prefix: str) -> Counter:
    """Messages per source in the raw topics under prefix (end offsets: nothing is deleted
    or transactional there)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-counts"})
    metadata = consumer.list_topics(timeout=10)
    counts: Counter = Counter()
    for source, topic in RAW_TOPICS.items():
        for partition in metadata.topics[prefix + topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(prefix + topic, partition))
            counts[source] += high - low
    consumer.close()
    return counts


# --- report -------------------------------------------------------------------------------


def report(results: list[Result], header: str, profile: dict | None) -> None:
    out = Console(width=max(Console().width, 160))
    base = next((r for r in results if r.row == "passthrough" and not r.error), None)
    table = Table(title="The pipeline's head, CPU per message (Kafka -> Flink -> blackhole)")
    table.caption = header
    table.add_column("")
    for column in (
        "messages",
        "wall s",
        "messages/s",
        "CPU s\nTM JVM",
        "CPU s\nPython",
        "CPU µs/msg\nall",
        "CPU µs/msg\nabove pass-through",
        "CPU vs\npass-through",
        "messages/s vs\npass-through",
    ):
        table.add_column(column, justify="right")
    table.add_column("notes", overflow="fold")
    for r in results:
        if r.error:
            table.add_row(r.label, *[""] * 9, f"[red]failed:[/] {r.error}")
            continue
        above = r.us_per_message() - base.us_per_message() if base else None
        table.add_row(
            r.label,
            f"{r.messages:,}",
            f"{r.seconds:.1f}",
            f"{r.rate:,.0f}",
            f"{r.cpu['taskmanager']:.1f}",
            f"{r.cpu['python_workers']:.1f}",
            f"{r.us_per_message():.1f}",
            "-" if r is base or above is None else f"{above:.1f}",
            f"{r.us_per_message() / base.us_per_message():.2f}x" if base else "-",
            f"{r.rate / base.rate:.2f}x" if base else "-",
            "; ".join(r.notes),
        )
    out.print(table)

    kinds = [*(kind for kind, _ in THREAD_KINDS), "other"]
    threads = Table(title="Where the CPU goes: µs per message by TaskManager thread, and Python")
    threads.add_column("")
    for kind in [*kinds, "Python workers"]:
        threads.add_column(kind, justify="right")
    for r in results:
        if not r.error:
            values = [r.cpu[f"thread: {kind}"] for kind in kinds] + [r.cpu["python_workers"]]
            threads.add_row(r.label, *(f"{v / r.messages * 1e6:.1f}" for v in values))
    out.print(threads)

    tasks = Table(title="Busy time per task (ended jobs' final I/O metrics)")
    for column in ("row", "task", "busy s", "back-pressured s", "idle s"):
        tasks.add_column(column, justify="left" if column in ("row", "task") else "right")
    for r in results:
        for t in r.tasks[:6]:
            tasks.add_row(
                r.label,
                t["task"],
                f"{t['busy_s']:.1f}",
                f"{t['backpressured_s']:.1f}",
                f"{t['idle_s']:.1f}",
            )
    out.print(tasks)

    if profile:
        parts = Table(title=f"JVM head under JFR: {profile['samples']:,} execution samples")
        parts.add_column("part")
        parts.add_column("share", justify="right")
        for part, count in sorted(profile["parts"].items(), key=lambda kv: -kv[1]):
            parts.add_row(part, f"{count / profile['samples']:.1%}")
        out.print(parts)
        hot = Table(title="Hottest methods (own samples)")
        hot.add_column("method", overflow="fold")
        hot.add_column("share", justify="right")
        for method, count in profile["own"].items():
            hot.add_row(method, f"{count / profile['samples']:.1%}")
        out.print(hot)


def plot(results: list[Result], path: Path, title: str) -> None:
    """CPU per message by thread kind and process beside messages/s, with the goal's line."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here
    import matplotlib.pyplot as plt

    done = [r for r in results if not r.error]
    labels = [r.label.replace(" (", "\n(") for r in done]
    fig, (cpu, rate) = plt.subplots(1, 2, figsize=(13, 5.5))
    parts = [f"thread: {kind}" for kind, _ in THREAD_KINDS] + ["thread: other", "python_workers"]
    bottom = [0.0] * len(done)
    for part in parts:
        values = [r.cpu[part] / r.messages * 1e6 for r in done]
        name = part.removeprefix("thread: ").replace("python_workers", "Python workers")
        cpu.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for x, total in enumerate(bottom):
        cpu.text(x, total, f"{total:.1f}", ha="center", va="bottom")
    base = next((r for r in done if r.row == "passthrough"), None)
    if base:
        goal = base.us_per_message() + GOAL_US
        cpu.axhline(goal, color="red", linestyle="--", label=f"goal: pass-through + {GOAL_US:g} µs")
    cpu.set_ylabel("CPU µs per message (TaskManager threads, Python workers)")
    cpu.legend(fontsize=8)
    rate.bar(labels, [r.rate for r in done], color="gray")
    for x, r in enumerate(done):
        rate.text(x, r.rate, f"{r.rate:,.0f}", ha="center", va="bottom")
    rate.set_ylabel("messages/s (job wall time)")
    fig.suptitle(textwrap.fill(title, 160), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300_000, help="about this many")
    parser.add_argument("--bid-rate", type=float, default=300.0, help="simulated bid requests/s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per job")
    parser.add_argument("--plot", type=Path, help="also draw the figures into this PNG")
    parser.add_argument("--jfr", type=Path, help="run the JVM head once more under JFR")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Flink configuration for every job (an experiment: `flink run -D`)",
    )
    parser.add_argument("--reuse", metavar="PREFIX", help="read a previous run's raw topics")
    args = parser.parse_args(argv)

    # The sibling bench: on the path when this file runs as a script, not inside flink run.
    from pipeline_throughput import preload, simulation

    cfg = StackConfig()
    try:
        with FlinkRest(cfg.flink_rest_url) as rest:
            others = [job["name"] for job in rest.jobs() if job["state"] == "RUNNING"]
        AdminClient({"bootstrap.servers": cfg.kafka_bootstrap}).list_topics(timeout=10)
    except (FlinkUnreachable, FlinkError, KafkaException):
        raise SystemExit(
            f"error: the stack does not answer (Kafka {cfg.kafka_bootstrap}, Flink "
            f"{cfg.flink_rest_url}): start it with `advertisex stack up kafka flink`"
        ) from None
    pids = {s.name: s.pid for s in supervisor.status(cfg, ["kafka", "flink"])}
    if not pids.get("flink-taskmanager"):
        raise SystemExit("error: no TaskManager of this stack found (its CPU is the figure)")
    err = Console(stderr=True)
    err.print("functions jar:", functions_jar())  # built now, not inside a timed job

    prefix = args.reuse or f"headbench-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:4]}."
    config = simulation(args.messages, args.bid_rate, args.seed)
    sampler = CpuSampler(pids["flink-taskmanager"], pids.get("kafka"))
    sampler.start()
    load_before = os.getloadavg()
    results: list[Result] = []
    profile = None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        if args.reuse:
            per_source = raw_counts(cfg.kafka_bootstrap, prefix)
        else:
            messages = preload(cfg.kafka_bootstrap, Simulator(config), [prefix], progress)
            per_source = Counter(m.source for m in messages)
            del messages
        total = sum(per_source.values())
        for row in args.rows:
            try:
                results.append(flink_run(cfg, row, prefix, total, sampler, progress, args))
            except (SubmitFailed, FlinkError, FlinkUnreachable, TimeoutError) as exc:
                results.append(Result(row, ROWS[row], error=str(exc).splitlines()[-1]))
                err.print(f"[red]{ROWS[row]} failed:[/] {exc}")
        if args.jfr:
            jfr_result, profile = jfr_run(cfg, prefix, total, sampler, progress, args)
            profile["us_per_message"] = jfr_result.us_per_message()
    sampler.stop()
    load_after = os.getloadavg()

    header = (
        f"{total:,} messages ({', '.join(f'{s} {n:,}' for s, n in per_source.items())}), "
        + ("" if args.reuse else f"{config.duration_s:.0f} simulated s, ")
        + "every anomaly on; parallelism 1; "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; topics {prefix}*"
    )
    if args.set:
        header += f"; with {', '.join(args.set)}"
    if others:
        header += f"; other jobs ran on the cluster: {', '.join(others)}"
    report(results, header, profile)
    if args.plot:
        plot(results, args.plot, header)
        err.print(f"plot: {args.plot}")
    if args.json:
        figures = {
            "prefix": prefix,
            "messages": dict(per_source),
            "total": total,
            "load_average": {"before": load_before, "after": load_after},
            "rows": [asdict(r) for r in results],
            "profile": profile,
        }
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["job"]:  # inside `flink run -py`: build and submit one row's job
        run_job(sys.argv[2:])
    else:
        main(sys.argv[1:])
