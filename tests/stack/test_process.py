"""One server as one process: found by pid file and marker, stopped with its whole group."""

import time
from pathlib import Path

from advertisex.stack.process import ManagedProcess


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_stop_ends_the_children_a_dead_leader_left(tmp_path):
    proc = ManagedProcess("orphans", tmp_path / "orphans")
    child_pid_file = tmp_path / "child.pid"
    # The leader starts a child in its group, writes the child's pid, and exits at once.
    proc.start(["bash", "-c", f"sleep 300 & echo $! > {child_pid_file}; exit 0"])
    assert wait_until(lambda: child_pid_file.exists() and child_pid_file.read_text().strip())
    child = int(child_pid_file.read_text())
    assert wait_until(lambda: proc.pid() is None)  # the leader is gone...
    assert Path(f"/proc/{child}").exists()  # ...its child is not

    assert proc.stop(timeout=5) is True
    assert wait_until(
        lambda: (
            not Path(f"/proc/{child}").exists()
            or "Z" in Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1][:3]
        )
    )
    assert not proc.pid_file.exists()
    assert proc.stop() is False


def test_a_recycled_pid_is_not_taken_for_ours(tmp_path):
    proc = ManagedProcess("server", tmp_path / "server")
    proc.home.mkdir(parents=True)
    proc.pid_file.write_text("1\n")  # pid 1 runs, but it is not ours
    assert proc.pid() is None
    assert proc.stop() is False
