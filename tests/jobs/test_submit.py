"""submit_python_job and FlinkRest over a job's life: run, savepoint, stop, restore, cancel."""

import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from advertisex.jobs.flink_rest import FlinkUnreachable
from advertisex.jobs.submit import SubmitFailed, error_lines, submit_python_job


def savepoint_folder(location: str) -> Path:
    """Flink names a savepoint by URI (file:/...); the folder on this machine."""
    return Path(urlparse(location).path)


def log(what: str, started: float) -> None:
    print(f"[timing] {what}: {time.monotonic() - started:.1f}s", file=sys.stderr)


def test_job_runs_savepoints_stops_and_restores_its_state(count_keys, tmp_path):
    rest = count_keys.rest
    started = time.monotonic()
    job_id = count_keys.submit()
    log("submit", started)
    rest.wait_for_tasks_running(job_id)
    log("submit until every task runs", started)
    listed = {job["id"]: job for job in rest.jobs()}
    assert listed[job_id]["state"] == "RUNNING"
    assert listed[job_id]["name"] == f"count-keys {count_keys.source}"

    count_keys.send("a", 5)
    assert count_keys.wait_for_count("a", 5) == 5

    started = time.monotonic()
    trigger = rest.trigger_savepoint(job_id, str(tmp_path / "savepoints"))
    taken = rest.wait_for_savepoint(job_id, trigger, timeout=60)
    log("savepoint", started)
    assert savepoint_folder(taken).parent == tmp_path / "savepoints"
    assert (savepoint_folder(taken) / "_metadata").is_file()
    assert rest.state(job_id) == "RUNNING"

    started = time.monotonic()
    trigger = rest.stop_with_savepoint(job_id, str(tmp_path / "stopped"))
    final = rest.wait_for_savepoint(job_id, trigger, timeout=60)
    assert rest.wait_for_state(job_id, {"FINISHED"}) == "FINISHED"
    log("stop with savepoint", started)
    assert (savepoint_folder(final) / "_metadata").is_file()

    # From latest-offset, a job that did not restore would count only what comes next.
    restored = count_keys.submit("latest-offset", savepoint_path=final)
    assert rest.wait_for_state(restored, {"RUNNING"}) == "RUNNING"
    assert rest.checkpoints(restored)["latest"]["restored"]["external_path"] == final
    count_keys.send("a", 3)
    assert count_keys.wait_for_count("a", 8) == 8

    rest.cancel(restored)
    assert rest.wait_for_state(restored, {"CANCELED"}) == "CANCELED"


def test_a_failing_script_names_the_python_error(flink, tmp_path):
    script = tmp_path / "bad_job.py"
    script.write_text('raise ValueError("no table called nowhere")\n')
    with pytest.raises(SubmitFailed) as failed:
        submit_python_job(flink.flink_rest_url, script, [], jars=[])
    message = str(failed.value)
    assert "ValueError: no table called nowhere" in message
    assert 'bad_job.py", line 1' in message
    # Neither Java's stack frames nor the client's wrapper exception.
    assert "\tat " not in message and "ProgramAbortException" not in message


def test_a_missing_savepoint_names_the_java_root_cause(count_keys, tmp_path):
    with pytest.raises(SubmitFailed) as failed:
        count_keys.submit(savepoint_path=str(tmp_path / "no-savepoint"))
    message = str(failed.value)
    assert (
        "Caused by: java.io.FileNotFoundException: Cannot find checkpoint or savepoint" in message
    )
    assert message.count("Caused by:") == 1
    assert "\tat " not in message


def test_an_unreachable_cluster_says_how_to_start_it(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "job.py"
    script.write_text("")
    with pytest.raises(FlinkUnreachable, match="advertisex stack up flink"):
        submit_python_job(f"http://127.0.0.1:{port}", script, [], jars=[])


def test_error_lines_keep_the_traceback_and_the_root_cause_only():
    stdout = "\n".join(
        [
            "some log line",
            "Traceback (most recent call last):",
            '  File "job.py", line 3, in <module>',
            "pyflink.util.exceptions.TableException: Failed to execute sql",
            "\tat org.apache.flink.Foo.bar(Foo.java:1)",
            "Caused by: java.lang.RuntimeException: outer",
            "\t... 14 more",
            "Caused by: java.io.IOException: inner",
        ]
    )
    assert error_lines(stdout, "ProgramAbortException: Python process exits") == [
        "Traceback (most recent call last):",
        '  File "job.py", line 3, in <module>',
        "pyflink.util.exceptions.TableException: Failed to execute sql",
        "Caused by: java.io.IOException: inner",
    ]
