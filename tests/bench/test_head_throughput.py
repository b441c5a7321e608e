"""bench/head_throughput.py's pure helpers: cutting a job's CPU out of the samples, and
sorting threads and stack samples into kinds (the bench itself needs the running stack)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))  # the bench is a script, no package
import head_throughput as bench  # noqa: E402


def sample(at: float, tm: float, workers: float = 0.0, jit: float = 0.0, task: float = 0.0):
    threads = {"JIT compilers": jit, "task threads": task}
    return bench.CpuSample(at, tm, workers, broker=0.0, threads=threads)


def test_cpu_between_takes_the_samples_around_the_job():
    samples = [
        sample(10.0, 1.0),
        sample(10.1, 1.5, jit=0.2, task=0.1),  # the last before the start
        sample(10.2, 3.0, workers=0.5, jit=0.5, task=1.0),
        sample(10.3, 4.0, workers=1.0, jit=0.8, task=2.0),  # the first after the end
        sample(10.4, 4.1, workers=1.2, jit=0.8, task=2.0),  # a worker finishing after the job
    ]
    spent = bench.cpu_between(samples, start=10.15, end=10.25)
    assert spent["taskmanager"] == pytest.approx(2.5)
    assert spent["python_workers"] == pytest.approx(1.2)  # to the last sample
    assert spent["thread: JIT compilers"] == pytest.approx(0.6)
    assert spent["thread: task threads"] == pytest.approx(1.9)
    # The kinds add up to the JVM's CPU: the rest is "other".
    threads = sum(value for key, value in spent.items() if key.startswith("thread: "))
    assert threads == pytest.approx(spent["taskmanager"])


def test_cpu_between_refuses_samples_that_do_not_cover_the_job():
    with pytest.raises(ValueError):
        bench.cpu_between([sample(10.0, 1.0)], start=9.0, end=9.5)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("C2 CompilerThre", "JIT compilers"),
        ("GC Thread#0", "GC and VM"),
        ("Source Data Fet", "Kafka fetchers"),
        ("Source: raw_bid", "task threads"),
        ("OverAggregate[1", "task threads"),
        ("campaign-direct", "campaign follower"),
        ("flink-pekko.act", "other"),
    ],
)
def test_thread_kind(name, kind):
    assert bench.thread_kind(name) == kind


def test_part_of_puts_the_functions_before_flinks_plumbing():
    check = [
        "java.util.HashMap.putVal",
        "io.advertisex.contract.BidRequestsAvro.decode",
        "io.advertisex.contract.Sources.decode",
        "io.advertisex.flink.DecodedMessages.decode",
        "io.advertisex.flink.CheckFunction.eval",
        "StreamExecCalc$13.processElement",
    ]
    assert bench.part_of(check) == "decode (JSON, CSV, Avro)"
    copy = [
        "org.apache.flink.table.runtime.typeutils.RowDataSerializer.copy",
        "org.apache.flink.streaming.runtime.tasks.CopyingChainingOutput.pushToOperator",
    ]
    assert bench.part_of(copy) == "row copies between chained operators"
    assert bench.part_of([]) == "other"
