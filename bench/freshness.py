"""End-to-end freshness (issue 14): from a message's produce to the raw topic until its row is
queryable in Pinot, through the streaming job, at a steady message rate.

Run on a running stack with Kafka, Flink and Pinot (`advertisex stack up`):

    python bench/freshness.py [--rate 5000] [--seconds 120] [--warmup-seconds 30]
        [--checkpoint-interval "5 s"] [--plot bench/freshness.png] [--json figures.json]

1. Topics and Pinot tables of the run's own (`fresh-<HHMMSS>.` and `fresh_<HHMMSS>_`, made
   by advertisex.serving.bootstrap as `advertisex bootstrap` makes them), and the streaming
   job (flink_jobs/pipeline.py, as `advertisex job run` submits it) on them.
2. Traffic: the simulator's messages, every anomaly knob on except the timed ones (a spike
   would leave the steady rate), at a flat bid rate chosen from a probe so that the run
   brings about --rate messages a second. The Python simulator makes only a few thousand
   messages a second, so the whole run is made first, then sent paced at its own arrival
   times (advertisex.ingest.pacing): a steady --rate, one process, librdkafka.
3. Markers: --marker-rate valid impressions a second among the traffic, each with an id of
   its own, an unknown campaign of the run's (`fresh-<run>`) and the event time of the
   traffic it is sent with; the moment each is produced is kept. Another thread queries
   the run's impressions table in Pinot every --poll seconds for the markers of the last
   two minutes. A marker's freshness is from its produce to the midpoint of the interval
   between the last query that did not see it (or its produce) and the end of the first
   that did. Markers go through everything an impression goes through: the JVM check,
   first-seen deduplication, the transactional sink (visible at a checkpoint) and Pinot's
   read_committed consumer.
4. Figures: p50, p90, p99 and max freshness of the markers sent after the warm-up, the
   rate actually sent, the job's raw backlog (messages its consumer group has not
   committed) when sending stops, beside the checkpoint interval: the issue's goal is p99 at
   most the interval + 5 s.

The run's job is cancelled and its tables and topics are deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from advertisex_operator.lag_reader import KafkaUnreachable, LagReadError, read_offsets
from kafka import KafkaAdminClient
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from advertisex.contract.topics import RAW_TOPICS
from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.pacing import paced
from advertisex.ingest.simulator import Emitted, Simulator
from advertisex.ingest.sinks import KafkaSink
from advertisex.jobs.flink_rest import FlinkRest
from advertisex.jobs.submit import submit_python_job
from advertisex.serving.bootstrap import BootstrapSettings, bootstrap
from advertisex.serving.pinot_admin import PinotAdmin
from advertisex.stack.config import StackConfig
from advertisex.stack.jars import resolve

PIPELINE = Path(__file__).resolve().parents[1] / "flink_jobs" / "pipeline.py"
PROBE_S = 20
console = Console()


def steady_config(rate: float, seconds: float, seed: int) -> SimulationConfig:
    """A flat-rate run of `seconds` bringing about `rate` messages a second, starting at
    this minute; the timed anomalies (silence, spike) left out."""
    start = int(time.time()) // 60 * 60_000

    def config(bid_rate: float, duration: float) -> SimulationConfig:
        knobs = Anomalies.everything(duration).model_copy(update={"silent": [], "rate_changes": []})
        return SimulationConfig(
            start_ms=start,
            seed=seed,
            duration_s=duration,
            bid_rate=bid_rate,
            diurnal=False,
            anomalies=knobs,
        )

    probe_end = start + PROBE_S * 1000
    probe = Simulator(config(100, PROBE_S)).events()
    per_bid = sum(1 for m in probe if m.arrival_ms < probe_end) / (100 * PROBE_S)
    return config(rate / per_bid, seconds)


@dataclass
class Markers:
    """Marker impressions: produced (wall clock) and first seen in Pinot (interval)."""

    campaign: str
    template: dict
    produced: dict[str, float] = field(default_factory=dict)
    event_ms: dict[str, int] = field(default_factory=dict)
    seen: dict[str, tuple[float, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def make(self, n: int, event_ms: int) -> tuple[str, bytes]:
        marker_id = f"{self.campaign}-{n:06d}"
        record = dict(self.template, impression_id=marker_id, campaign_id=self.campaign)
        record["event_time"] = event_ms
        with self.lock:
            self.event_ms[marker_id] = event_ms
        return marker_id, json.dumps(record, separators=(",", ":")).encode()

    def unseen_since(self) -> int | None:
        """The earliest event time of a marker not yet seen (what the next query needs)."""
        with self.lock:
            waiting = [t for k, t in self.event_ms.items() if k not in self.seen]
        return min(waiting, default=None)


def poll_pinot(
    broker_url: str, table: str, markers: Markers, every_s: float, stop: threading.Event
) -> list[float]:
    """Query the table for the markers until stop; returns each query's duration (ms)."""
    durations = []
    previous = time.time()
    with httpx.Client(base_url=broker_url, timeout=10) as http:
        while not stop.is_set():
            began = time.time()
            since = markers.unseen_since()
            keys: list[str] = []
            if since is not None:
                sql = (
                    f"SELECT impression_id FROM {table} WHERE campaign_id = '{markers.campaign}' "
                    f"AND event_time_ms >= {since} LIMIT 1000000"
                )
                try:
                    body = http.post("/query/sql", json={"sql": sql}).json()
                    keys = [row[0] for row in body.get("resultTable", {}).get("rows", [])]
                except (httpx.HTTPError, ValueError):
                    keys = []
            ended = time.time()
            durations.append((ended - began) * 1000)
            with markers.lock:
                for key in keys:
                    if key not in markers.seen:
                        markers.seen[key] = (previous, ended)
            previous = began
            stop.wait(max(0.0, every_s - (time.time() - began)))
    return durations


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def group_backlog(bootstrap_servers: str, group: str, topics: list[str]) -> int | None:
    """Raw messages on the topics beyond the group's committed offsets (Flink commits its
    offsets at each checkpoint), read as the operator's lag alert reads them."""
    try:
        offsets = read_offsets(bootstrap_servers, group, topics)
    except (LagReadError, KafkaUnreachable) as error:
        console.print(f"[yellow]the job's backlog could not be read: {error}[/]")
        return None
    return sum(end - (committed or 0) for committed, end in offsets.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000, help="messages/s, steady")
    parser.add_argument("--seconds", type=float, default=120, help="measured, after the warm-up")
    parser.add_argument("--warmup-seconds", type=float, default=30)
    parser.add_argument("--marker-rate", type=float, default=20, help="marker impressions/s")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between queries")
    parser.add_argument("--checkpoint-interval", default="5 s", help="the job's")
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plot", type=Path, help="a PNG: each marker's freshness over time")
    parser.add_argument("--json", type=Path, help="every figure and every marker")
    parser.add_argument("--keep", action="store_true", help="keep the job, tables and topics")
    args = parser.parse_args(argv)

    cfg = StackConfig()
    stamp = time.strftime("%H%M%S")
    topic_prefix, table_prefix = f"fresh-{stamp}.", f"fresh_{stamp}_"
    name = f"fresh-{stamp}"
    table = table_prefix + "impressions"
    raw_topics = [topic_prefix + t for t in RAW_TOPICS.values()]
    settings = BootstrapSettings(
        kafka_bootstrap=cfg.kafka_bootstrap,
        pinot_controller=cfg.pinot_controller_url,
        topic_prefix=topic_prefix,
        table_prefix=table_prefix,
    )
    total_s = args.warmup_seconds + args.seconds
    figures: dict = {"rate": args.rate, "checkpoint_interval": args.checkpoint_interval}
    job_id = None
    try:
        with console.status("topics and Pinot tables"):
            refused = [o for o in bootstrap(settings) if o.status == "refused"]
        if refused:
            raise SystemExit(f"bootstrap refused: {refused}")

        with console.status(f"making {total_s:.0f} s of traffic at {args.rate:,.0f} messages/s"):
            config = steady_config(args.rate, total_s, args.seed)
            sim = Simulator(config)
            campaigns = sim.campaigns()
            # Records the late knob holds back arrive up to minutes after the run's last
            # second: that tail is not steady traffic, so it is not sent.
            end_ms = config.start_ms + int(total_s * 1000)
            messages: list[Emitted] = [m for m in sim.events() if m.arrival_ms < end_ms]
        template = next(
            json.loads(m.payload) for m in messages if m.source == "impressions" and not m.malformed
        )
        markers = Markers(f"fresh-{stamp}", template)
        console.print(
            f"{len(messages):,} messages over {total_s:.0f} s of event time "
            f"(bid rate {config.bid_rate:,.0f}/s)"
        )

        with console.status("submitting the streaming job"):
            job_id = submit_python_job(
                cfg.flink_rest_url,
                PIPELINE,
                ["--bootstrap", cfg.kafka_bootstrap, "--topic-prefix", topic_prefix]
                + ["--job-name", name, "--group-id", name]
                + ["--checkpoint-interval", args.checkpoint_interval],
                jars=list(resolve("flink").glob("*.jar")),
                parallelism=args.parallelism,
            )
            with FlinkRest(cfg.flink_rest_url) as rest:
                while rest.state(job_id) != "RUNNING":
                    time.sleep(0.5)
        console.print(f"job {job_id} running")

        sink = KafkaSink(cfg.kafka_bootstrap, topic_prefix=topic_prefix)
        sink.write_campaigns(campaigns)
        stop = threading.Event()
        polls: list[float] = []
        poller = threading.Thread(
            target=lambda: polls.extend(
                poll_pinot(cfg.pinot_broker_url, table, markers, args.poll, stop)
            ),
            daemon=True,
        )
        poller.start()
        every_ms = 1000 / args.marker_rate
        next_marker = config.start_ms
        n_markers = 0
        warmup_end_ms = config.start_ms + args.warmup_seconds * 1000
        measured_from: float | None = None
        sent_in_measure = 0
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("sending", total=len(messages), info="")
            began = time.time()
            for i, message in enumerate(paced(messages, config.start_ms, 1.0)):
                sink.write(message)
                while message.arrival_ms >= next_marker:
                    marker_id, payload = markers.make(n_markers, message.arrival_ms)
                    at = message.arrival_ms
                    sink.write(Emitted("impressions", marker_id, payload, at, at))
                    markers.produced[marker_id] = time.time()
                    n_markers += 1
                    next_marker += every_ms
                if message.arrival_ms >= warmup_end_ms:
                    if measured_from is None:
                        measured_from = time.time()
                    sent_in_measure += 1
                if i % 2000 == 0:
                    elapsed = time.time() - began
                    seen = len(markers.seen)
                    progress.update(
                        task,
                        completed=i,
                        info=f"{i / max(elapsed, 1e-9):,.0f}/s, markers seen {seen}/{n_markers}",
                    )
            sink.flush()
            sent_until = time.time()
            progress.update(task, completed=len(messages))
        figures["sent_rate"] = sent_in_measure / max(sent_until - (measured_from or began), 1e-9)
        figures["backlog_at_end"] = group_backlog(cfg.kafka_bootstrap, name, raw_topics)
        with console.status("waiting for the last markers in Pinot"):
            deadline = time.time() + 120
            while len(markers.seen) < n_markers and time.time() < deadline:
                time.sleep(0.5)
        stop.set()
        poller.join(timeout=30)

        rows = []
        warm_cut = {k for k, t in markers.event_ms.items() if t >= warmup_end_ms}
        for key, produced in markers.produced.items():
            if key not in markers.seen:
                continue
            before, after = markers.seen[key]
            low = max(before, produced)
            rows.append(
                {
                    "marker": key,
                    "sent_s": round(produced - began, 3),
                    "freshness_ms": round(((low + after) / 2 - produced) * 1000, 1),
                    "measured": key in warm_cut,
                }
            )
        measured = [r["freshness_ms"] for r in rows if r["measured"]]
        figures |= {
            "job_id": job_id,
            "markers": n_markers,
            "markers_seen": len(markers.seen),
            "markers_measured": len(measured),
            "p50_ms": percentile(measured, 50),
            "p90_ms": percentile(measured, 90),
            "p99_ms": percentile(measured, 99),
            "max_ms": max(measured, default=None),
            "mean_ms": statistics.fmean(measured) if measured else None,
            "poll_p50_ms": percentile(polls, 50),
            "polls": len(polls),
            "messages": len(messages),
            "load_average": Path("/proc/loadavg").read_text().split()[:3],
        }
        report(figures, args)
        if args.json:
            args.json.write_text(json.dumps(figures | {"per_marker": rows}, indent=2))
        if args.plot:
            plot(rows, figures, args)
    finally:
        if not args.keep:
            cleanup(cfg, job_id, name, settings, raw_topics)


def report(figures: dict, args: argparse.Namespace) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value / 1000:.2f} s"

    table = Table(
        title=f"freshness: produce -> queryable in Pinot ({figures['markers_measured']} markers "
        f"after a {args.warmup_seconds:.0f} s warm-up)"
    )
    for column in ("rate sent", "checkpoint", "p50", "p90", "p99", "max", "goal p99", "backlog"):
        table.add_column(column, justify="right")
    interval_s = float(args.checkpoint_interval.split()[0])
    table.add_row(
        f"{figures['sent_rate']:,.0f}/s",
        args.checkpoint_interval,
        ms(figures["p50_ms"]),
        ms(figures["p90_ms"]),
        ms(figures["p99_ms"]),
        ms(figures["max_ms"]),
        f"<= {interval_s + 5:g} s",
        "-" if figures["backlog_at_end"] is None else f"{figures['backlog_at_end']:,}",
    )
    console.print(table)
    console.print(
        f"markers: {figures['markers_seen']} of {figures['markers']} seen; Pinot queries "
        f"p50 {figures['poll_p50_ms']:.0f} ms; load average after {figures['load_average']}"
    )


def plot(rows: list[dict], figures: dict, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    for measured, colour in ((False, "#bbbbbb"), (True, "#1f77b4")):
        points = [r for r in rows if r["measured"] is measured]
        ax.scatter(
            [r["sent_s"] for r in points],
            [r["freshness_ms"] / 1000 for r in points],
            s=6,
            color=colour,
            label="measured" if measured else "warm-up",
        )
    interval_s = float(args.checkpoint_interval.split()[0])
    for value, label, style in (
        (figures["p50_ms"], "p50", ":"),
        (figures["p99_ms"], "p99", "--"),
    ):
        if value is not None:
            ax.axhline(value / 1000, linestyle=style, color="black", label=f"{label}")
    ax.axhline(interval_s + 5, color="red", label="goal: checkpoint interval + 5 s")
    ax.set_xlabel("seconds since the first message")
    ax.set_ylabel("produce -> queryable in Pinot (s)")
    ax.set_title(
        f"freshness at {figures['sent_rate']:,.0f} messages/s, checkpoints every "
        f"{args.checkpoint_interval}"
    )
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)
    console.print(f"plot: {args.plot}")


def cleanup(cfg, job_id, name, settings, raw_topics) -> None:
    with console.status("cleaning up: job, tables, topics"):
        if job_id:
            with FlinkRest(cfg.flink_rest_url) as rest:
                if rest.state(job_id) not in ("CANCELED", "FAILED", "FINISHED"):
                    rest.cancel(job_id)
        with PinotAdmin(settings.pinot_controller) as pinot:
            for table in pinot.table_names():
                if table.startswith(settings.table_prefix):
                    pinot.drop_table(table)
                    pinot.delete_schema(table)
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
            if mine:
                admin.delete_topics(mine)
        finally:
            admin.close()


if __name__ == "__main__":
    main()
