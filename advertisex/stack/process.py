"""One server as one OS process: started in its own session, found again by its pid file.

A pid file alone can point at a recycled pid, so the process also carries a marker in its
environment (ADVERTISEX_SERVICE=<name>@<state dir>) that is checked before it is trusted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MARKER_ENV = "ADVERTISEX_SERVICE"
# Children started by this Python process, kept so that stop() can reap them.
_children: dict[int, subprocess.Popen] = {}


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (a bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class ManagedProcess:
    name: str
    home: Path  # the service's folder under the state folder: logs, data, pid file

    @property
    def pid_file(self) -> Path:
        return self.home / "pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    def marker(self) -> str:
        return f"{self.name}@{self.home.resolve()}"

    def pid(self) -> int | None:
        """The pid of the running process, or None when it is not running."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        child = _children.get(pid)
        if child is not None:
            # Our own child: its Popen is the truth (an unreaped pid cannot be reused).
            # Its /proc environ can still be the one before exec for an instant after
            # Popen returns, which once made a starting etcd look gone.
            return pid if child.poll() is None else None
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return None
        if f"{MARKER_ENV}={self.marker}".encode() not in environ.split(b"\0"):
            return None
        return pid

    def start(self, argv: list[str], env: dict[str, str] | None = None) -> int:
        self.home.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, **(env or {}), MARKER_ENV: self.marker}
        with open(self.log_file, "ab") as log:
            log.write(
                f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode()
            )
            log.flush()
            proc = subprocess.Popen(
                argv,
                cwd=self.home,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _children[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def exited(self) -> int | None:
        """The exit code when this Python process started it and it has ended, else None."""
        with contextlib.suppress(FileNotFoundError, ValueError):
            child = _children.get(int(self.pid_file.read_text().strip()))
            if child is not None:
                return child.poll()
        return None

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the whole process group: TERM, then KILL after timeout. True if it ran.

        A Pinot server with many consuming tables takes half a minute to shut down. A
        group whose leader has died but whose children (ours by their marker) still run
        is stopped too.
        """
        pid = self.pid()
        if pid is None:
            pid = self._orphaned_group()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.2)
        if self._alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.1)
        child = _children.pop(pid, None)
        if child is not None:
            # The leader can exit between poll() and the group check, which then sees only
            # zombies: reap it, so that no process of ours outlives stop() as a zombie.
            child.wait()
        self.pid_file.unlink(missing_ok=True)
        return True

    def _orphaned_group(self) -> int | None:
        """The recorded group, if its leader is gone but a member of ours still runs."""
        try:
            pgid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        marker = f"{MARKER_ENV}={self.marker}".encode()
        for member in _group_members(pgid):
            with contextlib.suppress(OSError):
                environ = Path(f"/proc/{member}/environ").read_bytes()
                if _not_zombie(int(member)) and marker in environ.split(b"\0"):
                    return pgid
        return None

    def _alive(self, pid: int) -> bool:
        child = _children.get(pid)
        if child is not None and child.poll() is not None:
            _children.pop(pid, None)  # reaped; its group may still hold children of its own
        return _group_alive(pid)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group (a launcher script's java, say) still runs."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(_not_zombie(int(p)) for p in _group_members(pgid))


def _group_members(pgid: int) -> list[str]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    members.append(entry)
    return members


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
