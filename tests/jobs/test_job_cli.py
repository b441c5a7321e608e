"""`advertisex job ...` as a user runs it, against a job on the real session cluster."""

import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse

from advertisex.ingest.topics import ensure_topics, raw_topic_specs
from advertisex.jobs.flink_rest import FlinkRest

ADVERTISEX = str(Path(sys.executable).with_name("advertisex"))


def advertisex(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ADVERTISEX, "job", *args], capture_output=True, text=True, timeout=300)


def test_list_savepoint_and_stop_a_job(count_keys, tmp_path):
    rest_url = count_keys.cfg.flink_rest_url
    job_id = count_keys.submit()
    # Savepoints need every task running, not only the job.
    count_keys.rest.wait_for_tasks_running(job_id)

    listed = advertisex("list", "--rest", rest_url)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if job_id in line)
    assert "RUNNING" in row and f"count-keys {count_keys.source}" in row

    taken = advertisex("savepoint", job_id, "--dir", str(tmp_path / "sp"), "--rest", rest_url)
    assert taken.returncode == 0, taken.stderr
    assert (Path(urlparse(taken.stdout.strip()).path) / "_metadata").is_file()

    stopped = advertisex(
        "stop", job_id, "--savepoint-dir", str(tmp_path / "stop"), "--rest", rest_url
    )
    assert stopped.returncode == 0, stopped.stderr
    assert urlparse(stopped.stdout.strip()).path.startswith(str(tmp_path / "stop"))
    assert count_keys.rest.wait_for_state(job_id, {"FINISHED"}) == "FINISHED"


def test_cancel_names_an_unknown_job(flink):
    unknown = "0" * 32
    cancelled = advertisex("cancel", unknown, "--rest", flink.flink_rest_url)
    assert cancelled.returncode == 1
    assert f"has no job {unknown}" in cancelled.stderr


def test_an_unreachable_rest_url_gives_the_start_hint():
    listed = advertisex("list", "--rest", "http://127.0.0.1:9")
    assert listed.returncode == 1
    assert "advertisex stack up flink" in listed.stderr


def test_run_submits_the_pipeline(flink):
    prefix = f"r{uuid.uuid4().hex[:6]}."
    env_args = [
        "--rest",
        flink.flink_rest_url,
        "--bootstrap",
        flink.kafka_bootstrap,
        "--topic-prefix",
        prefix,
        "--job-name",
        prefix.rstrip("."),
    ]
    ensure_topics(flink.kafka_bootstrap, raw_topic_specs(prefix=prefix))
    result = advertisex("run", *env_args)
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip().splitlines()[-1]
    assert len(job_id) == 32 and int(job_id, 16) >= 0
    rest = FlinkRest(flink.flink_rest_url)
    try:
        assert rest.wait_for_state(job_id, {"RUNNING"}, timeout=60) == "RUNNING"
        assert any(j["id"] == job_id and j["name"] == prefix.rstrip(".") for j in rest.jobs())
    finally:
        rest.cancel(job_id)
    batch = advertisex("run", "--mode", "batch")
    assert batch.returncode == 1 and "streaming mode only" in batch.stderr
