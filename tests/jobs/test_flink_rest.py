"""FlinkRest's errors against the real session cluster: unknown jobs, an unreachable URL."""

import socket

import pytest

from advertisex.jobs.flink_rest import (
    FlinkRest,
    FlinkUnreachable,
    SavepointFailed,
    UnknownJob,
    root_cause,
)

NO_SUCH_JOB = "0" * 32


@pytest.fixture
def rest(flink):
    with FlinkRest(flink.flink_rest_url) as client:
        yield client


def test_overview_counts_the_taskmanager(rest):
    overview = rest.overview()
    assert overview["taskmanagers"] >= 1
    assert overview["flink-version"] == "2.2.1"


@pytest.mark.parametrize("call", ["job", "cancel", "exceptions", "checkpoints"])
def test_an_unknown_job_is_named(rest, call):
    with pytest.raises(UnknownJob, match=f"has no job {NO_SUCH_JOB}"):
        getattr(rest, call)(NO_SUCH_JOB)


def test_a_malformed_job_id_is_refused_before_asking(rest):
    with pytest.raises(UnknownJob, match="not a Flink job id"):
        rest.job("nope")


def test_a_savepoint_of_an_unknown_job_fails_with_flinks_cause(rest):
    # Flink accepts the trigger and reports the failure in the savepoint's status.
    trigger = rest.trigger_savepoint(NO_SUCH_JOB)
    with pytest.raises(SavepointFailed, match="Could not find Flink job"):
        rest.wait_for_savepoint(NO_SUCH_JOB, trigger, timeout=30)


def test_an_unreachable_url_says_how_to_start_flink():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FlinkRest(f"http://127.0.0.1:{port}") as rest:
        with pytest.raises(FlinkUnreachable) as unreachable:
            rest.jobs()
    assert f"http://127.0.0.1:{port} is not reachable" in str(unreachable.value)
    assert "`advertisex stack up flink`, or pass --rest URL" in str(unreachable.value)


def test_root_cause_is_the_innermost_exception():
    trace = (
        "java.util.concurrent.CompletionException: outer\n\tat a.B.c(B.java:1)\n"
        "Caused by: org.apache.flink.FooException: inner\n\t... 3 more\n"
    )
    assert root_cause(trace) == "org.apache.flink.FooException: inner"
