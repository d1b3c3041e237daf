"""Local processes of the stack: ports, binaries, pid files, readiness and clean shutdown.

Every process is started in its own session (so Ctrl-C in the terminal that ran `make demo` does
not take the stack down with it), logs to a file under the state dir, and leaves a pid file
recording its pid and argv. `stop` trusts a pid file only while /proc shows the same argv, so a
pid reused by an unrelated process after a crash or reboot is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"


class StackError(Exception):
    """A problem the user can act on (port taken, binary missing, process died); message says which."""


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port (TCP bind test, as the binaries will do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT counts as taken; the binaries set it, so do we.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_binary(names: Sequence[str], package: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise StackError(
        f"{' or '.join(names)} not found on PATH: install Debian's {package} package "
        f"(sudo apt-get install {package}) or run `make install`"
    )


@dataclass(frozen=True)
class PidRecord:
    name: str
    pid: int
    argv: list[str]
    log: str

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "pid": self.pid, "argv": self.argv, "log": self.log})


def _proc_argv(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


class ProcessManager:
    """Start, find and stop the stack's processes; pid files live in run_dir, logs in log_dir."""

    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir
        # Children started by this manager: poll() tells "exited" reliably, even before exec.
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def record(self, name: str) -> PidRecord | None:
        try:
            data = json.loads(self.pid_file(name).read_text(encoding="utf-8"))
            return PidRecord(str(data["name"]), int(data["pid"]), [str(a) for a in data["argv"]], str(data["log"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def records(self) -> list[PidRecord]:
        if not self.run_dir.is_dir():
            return []
        found = (self.record(p.stem) for p in sorted(self.run_dir.glob("*.pid")))
        return [r for r in found if r is not None]

    def alive(self, record: PidRecord) -> bool:
        """The recorded process still runs: same pid *and* same argv (pids get reused)."""
        child = self._children.get(record.name)
        if child is not None and child.pid == record.pid:
            return child.poll() is None  # our own child, maybe not exec'd yet: its argv is still ours
        argv = _proc_argv(record.pid)
        if argv is None or _is_zombie(record.pid):
            return False
        # A script started through its shebang shows the interpreter first: compare what follows.
        tail = record.argv[1:]
        return argv == record.argv or (bool(tail) and argv[-len(tail):] == tail)

    def start(self, name: str, argv: list[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> PidRecord:
        existing = self.record(name)
        if existing is not None and self.alive(existing):
            raise StackError(f"{name} already runs (pid {existing.pid}); run `fireline stack down` first")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, **(env or {})}, cwd=cwd,
            )
        self._children[name] = proc
        record = PidRecord(name, proc.pid, list(argv), str(log_path))
        self.pid_file(name).write_text(record.to_json(), encoding="utf-8")
        return record

    def stop(self, name: str, timeout: float = 10.0) -> str:
        """SIGTERM, then SIGKILL after timeout; removes the pid file. Returns what happened."""
        record = self.record(name)
        if record is None:
            self.pid_file(name).unlink(missing_ok=True)
            return "not running"
        outcome = "not running (stale pid file)"
        if self.alive(record):
            outcome = terminate(record.pid, timeout)
        self.pid_file(name).unlink(missing_ok=True)
        return outcome

    def kill(self, name: str) -> bool:
        """SIGKILL without ceremony: what a crash looks like (used by the HA drill)."""
        record = self.record(name)
        if record is None or not self.alive(record):
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
        _wait_gone(record.pid, 5.0)
        return True

    def tail(self, name: str, lines: int = 15) -> str:
        path = self.log_dir / f"{name}.log"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, record: PidRecord, check: Callable[[], bool], timeout: float = 30.0) -> None:
        """Poll check() until it is true; fail with the log tail if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            child = self._children.get(record.name)
            exited = child.poll() is not None if child is not None else not self.alive(record)
            if exited:
                raise StackError(f"{record.name} exited during start-up; last lines of {record.log}:\n"
                                 f"{self.tail(record.name)}")
            with contextlib.suppress(httpx.HTTPError, OSError):
                if check():
                    return
            time.sleep(0.2)
        raise StackError(f"{record.name} not ready after {timeout:.0f}s; last lines of {record.log}:\n"
                         f"{self.tail(record.name)}")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Our own children become zombies until reaped; reap them so they really go away.
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        if _proc_argv(pid) is None or _is_zombie(pid):
            return True
        time.sleep(0.05)
    return False


def terminate(pid: int, timeout: float = 10.0) -> str:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "already gone"
    if _wait_gone(pid, timeout):
        return "stopped"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0)
    return f"killed (no exit {timeout:.0f}s after SIGTERM)"


def http_ok(url: str, timeout: float = 2.0) -> bool:
    return httpx.get(url, timeout=timeout).status_code == 200
