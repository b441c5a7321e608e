"""`advertisex simulate` from the command line: files, a seed that repeats, clear errors."""

import hashlib
import json
import subprocess
from pathlib import Path


def simulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["advertisex", "simulate", *args], capture_output=True, text=True)


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_files_and_truth_repeat_for_a_seed(tmp_path):
    common = [
        "--to",
        "files",
        "--seed",
        "5",
        "--duration",
        "40",
        "--start",
        "2026-11-29T10:00:00Z",
        "--all-anomalies",
    ]
    first = simulate(*common, "--out", str(tmp_path / "a"), "--truth", str(tmp_path / "a.json"))
    second = simulate(*common, "--out", str(tmp_path / "b"), "--truth", str(tmp_path / "b.json"))
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    a = folder_digest(tmp_path / "a")
    # Avro container files carry a random sync marker: compare their datums instead.
    avro = [k for k in a if k.endswith(".avro")]
    assert avro and set(a) == set(folder_digest(tmp_path / "b"))
    assert {k: v for k, v in a.items() if k not in avro} == {
        k: v for k, v in folder_digest(tmp_path / "b").items() if k not in avro
    }
    from advertisex.ingest.avro_blocks import read_datums

    for name in avro:
        assert list(read_datums(tmp_path / "a" / name)) == list(read_datums(tmp_path / "b" / name))
    truth = json.loads((tmp_path / "a.json").read_text())
    assert truth == json.loads((tmp_path / "b.json").read_text())
    assert truth["config"]["start_ms"] == 1_795_946_400_000
    total = sum(row["received"] for row in truth["sources"].values())
    lines = sum(1 for _ in (tmp_path / "a" / "impressions").glob("*.jsonl"))
    assert lines == 1 and total > 0
    assert f"{total:,} messages" in first.stderr


def test_bad_arguments_say_what_is_wrong():
    bad_silence = simulate("--to", "files", "--out", "/tmp/x", "--silent", "clicks:abc")
    assert bad_silence.returncode == 2
    assert "expected SOURCE:START-END" in bad_silence.stderr
    no_out = simulate("--to", "files")
    assert no_out.returncode == 2 and "--to files needs --out FOLDER" in no_out.stderr
    bad_sink = simulate("--to", "s3")
    assert bad_sink.returncode == 2 and "choose kafka or files" in bad_sink.stderr
    bad_start = simulate("--to", "files", "--out", "/tmp/x", "--start", "yesterday")
    assert bad_start.returncode == 2 and "--start 'yesterday'" in bad_start.stderr
    bad_rate = simulate("--to", "files", "--out", "/tmp/x", "--malformed", "1.5")
    assert bad_rate.returncode == 2
    assert "--malformed: Input should be less than or equal to 1" in bad_rate.stderr
