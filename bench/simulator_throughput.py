"""Simulator throughput: generation alone, to files, and to a real Kafka, side by side.

Run: python bench/simulator_throughput.py [--duration 300] [--bid-rate 400]
"to Kafka" is our sink (librdkafka); "kafka-python" sends the same messages with
kafka-python's producer, for comparison. Starts a Kafka broker of its own (a temporary
state folder, ports moved by 25000) and stops it afterwards. Prints events/s per sink
and the bytes per event of each format.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from kafka import KafkaProducer

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import FileSink, KafkaSink
from advertisex.ingest.topics import RAW_TOPICS, ensure_topics, raw_topic_specs
from advertisex.stack import supervisor
from advertisex.stack.config import StackConfig

START = 1_795_910_400_000


class KafkaPythonSink:
    """The same sends with kafka-python's pure-Python producer, for comparison."""

    def __init__(self, bootstrap: str):
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024
        )

    def write(self, message) -> None:
        self.producer.send(
            RAW_TOPICS[message.source], key=message.key.encode() or None, value=message.payload
        )

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


def config(args) -> SimulationConfig:
    return SimulationConfig(
        start_ms=START,
        seed=1,
        duration_s=args.duration,
        bid_rate=args.bid_rate,
        anomalies=Anomalies(duplicates=0.01),
    )


def timed(label: str, args, sink=None) -> tuple[str, int, float, Counter, Counter]:
    sim = Simulator(config(args))
    counts, sizes = Counter(), Counter()
    began = time.perf_counter()
    for message in sim.events():
        counts[message.source] += 1
        sizes[message.source] += len(message.payload)
        if sink is not None:
            sink.write(message)
    if sink is not None:
        sink.close()
    return label, sum(counts.values()), time.perf_counter() - began, counts, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="simulated seconds")
    parser.add_argument("--bid-rate", type=float, default=400.0)
    args = parser.parse_args()

    results = [timed("generate only", args)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "files"
        results.append(timed("to files", args, FileSink(folder)))
        file_bytes = {
            s: sum(p.stat().st_size for p in (folder / s).glob("*")) for s in FileSink.EXTENSIONS
        }
        cfg = StackConfig().shifted(25_000, state_dir=Path(tmp) / "stack")
        supervisor.up(cfg, ["kafka"])
        try:
            ensure_topics(cfg.kafka_bootstrap, raw_topic_specs())
            results.append(timed("to Kafka", args, KafkaSink(cfg.kafka_bootstrap)))
            results.append(timed("kafka-python", args, KafkaPythonSink(cfg.kafka_bootstrap)))
        finally:
            supervisor.down(cfg)

    base = results[0][1] / results[0][2]
    print(f"\n{args.duration:.0f} simulated seconds at {args.bid_rate:.0f} bid requests/s")
    print(f"{'sink':<15}{'events':>10}{'seconds':>10}{'events/s':>12}{'vs generate':>13}")
    for label, n, seconds, _, _ in results:
        print(
            f"{label:<15}{n:>10,}{seconds:>10.2f}{n / seconds:>12,.0f}{n / seconds / base:>12.2f}x"
        )
    _, _, _, counts, sizes = results[0]
    print(f"\n{'format':<34}{'messages':>10}{'bytes/message':>15}{'bytes/record in file':>22}")
    names = {
        "impressions": "impressions (JSON)",
        "clicks_conversions": "clicks/conv. (CSV)",
        "bid_requests": "bid requests (Avro)",
    }
    for source in ("impressions", "clicks_conversions", "bid_requests"):
        print(
            f"{names[source]:<34}{counts[source]:>10,}{sizes[source] / counts[source]:>15.1f}"
            f"{file_bytes[source] / counts[source]:>22.1f}"
        )


if __name__ == "__main__":
    main()
