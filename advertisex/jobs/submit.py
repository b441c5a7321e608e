"""Submit a PyFlink job script to a session cluster with the distribution's `flink run -py`.

Why the CLI and not a TableEnvironment in this process: a job with Python UDFs submitted
from a plain Python process is given a loopback UDF server that dies with that process;
under `flink run -py` the TaskManager starts its own Python workers (-pyexec).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from advertisex.jobs.flink_rest import FlinkRest

_SUBMITTED = re.compile(r"Job has been submitted with JobID ([0-9a-f]{32})")
_JAVA_FRAME = re.compile(r"^\s+(at |\.\.\. \d+ more)")


class SubmitFailed(RuntimeError):
    """`flink run` did not submit the job; the message holds the client's error lines."""


def pyflink_home() -> Path:
    """FLINK_HOME: the apache-flink wheel installs a whole distribution as `pyflink`."""
    import pyflink

    return Path(pyflink.__file__).parent


def error_lines(stdout: str, stderr: str) -> list[str]:
    """What went wrong, from the client's output: the Python traceback if the script raised
    (its frames and exception), else the Java exception; of Java's "Caused by" chain only
    the root cause, and no stack frames."""
    tracebacks = [i for i, line in enumerate(stdout.splitlines()) if line.startswith("Traceback")]
    if tracebacks:
        lines = stdout.splitlines()[tracebacks[-1] :]
    else:
        lines = (stdout + "\n" + stderr).splitlines()
    lines = [line for line in lines if line.strip() and not _JAVA_FRAME.match(line)]
    causes = [line for line in lines if line.startswith("Caused by:")]
    return [line for line in lines if not line.startswith("Caused by:")] + causes[-1:]


def _client_home(work: Path, jars: list[Path]) -> dict[str, str]:
    """conf/, lib/ and log/ of the CLI under work; returns the environment pointing at them.

    The connector jars go on the client's own class path (FLINK_LIB_DIR) rather than with
    the job: `flink run` in 2.2 has no option for several extra jars (-j is the one program
    jar), and pipeline.jars or -C would ship the connector into the job's class loader on a
    cluster that already has it in lib/, loading the same classes twice. The client needs
    them only to plan the job.
    """
    home = pyflink_home()
    conf, lib, log = work / "conf", work / "lib", work / "log"
    for folder in (conf, lib, log):
        folder.mkdir(parents=True, exist_ok=True)
    # The distribution's client defaults (its Java 17 module flags); -m names the cluster.
    for name in ("config.yaml", "log4j-cli.properties"):
        shutil.copy(home / "conf" / name, conf / name)
    for jar in [*(home / "lib").glob("*.jar"), *jars]:
        link = lib / Path(jar).name
        if not link.exists():
            link.symlink_to(Path(jar).resolve())
    return {"FLINK_CONF_DIR": str(conf), "FLINK_LIB_DIR": str(lib), "FLINK_LOG_DIR": str(log)}


def flink_run_command(
    rest_url: str,
    script: Path,
    args: list[str],
    parallelism: int | None = None,
    savepoint_path: str | None = None,
    allow_non_restored_state: bool = False,
    python: str = sys.executable,
    configuration: dict[str, str] | None = None,
) -> list[str]:
    url = urlparse(rest_url)
    command = [
        "bash",
        str(pyflink_home() / "bin" / "flink"),
        "run",
        "-m",
        f"{url.hostname}:{url.port or 8081}",
        "-d",
        "-py",
        str(Path(script).resolve()),
        "-pyexec",
        python,
        "-pyclientexec",
        python,
    ]
    if parallelism is not None:
        command += ["-p", str(parallelism)]
    if savepoint_path:
        command += ["-s", str(savepoint_path)]
    if allow_non_restored_state:
        command.append("-n")
    for key, value in (configuration or {}).items():
        command += ["-D", f"{key}={value}"]
    return [*command, "--", *args]


def submit_python_job(
    rest_url: str,
    script: Path,
    args: list[str],
    jars: list[Path],
    parallelism: int | None = None,
    savepoint_path: str | None = None,
    allow_non_restored_state: bool = False,
    python: str = sys.executable,
    timeout: float = 300,
    configuration: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run script with `flink run -d -py` against the cluster at rest_url; returns the job id.

    args go to the script; jars are what the client needs to plan the job (connectors);
    savepoint_path restores the job's state; python runs both the script and the UDF workers;
    configuration is Flink configuration for the job (-D key=value); env is added to the
    client's environment (the script reads its secrets from there, not from argv).
    """
    if not Path(script).is_file():
        raise SubmitFailed(f"no job script at {script}")
    # Fail at once when nothing answers: the CLI would retry for about a minute.
    with FlinkRest(rest_url) as rest:
        rest.overview()
    command = flink_run_command(
        rest_url,
        script,
        args,
        parallelism,
        savepoint_path,
        allow_non_restored_state,
        python,
        configuration,
    )
    with tempfile.TemporaryDirectory(prefix="advertisex-flink-client-") as work:
        env = {**os.environ, **(env or {}), **_client_home(Path(work), jars)}
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SubmitFailed(f"`flink run` did not finish within {timeout}s") from None
    submitted = _SUBMITTED.search(done.stdout)
    if done.returncode == 0 and submitted:
        return submitted.group(1)
    lines = error_lines(done.stdout, done.stderr) or ["(no output)"]
    raise SubmitFailed(
        f"`flink run` of {script} failed (exit {done.returncode}):\n" + "\n".join(lines)
    )
