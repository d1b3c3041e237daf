"""Process management: pid files, clean shutdown, crash recovery, clear errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fireline.stack.process import ProcessManager, StackError, find_binary, port_is_free
from fireline.stack.stack import Ports, StackOptions, down, up
from tests.stack.conftest import FIRELINE

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
STUBBORN = [sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(120)"]


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def test_stop_sends_sigterm_then_sigkill_and_removes_the_pid_file(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path / "run", tmp_path / "logs")
    record = procs.start("stubborn", STUBBORN)
    procs.wait_ready(record, lambda: "ready" in procs.tail("stubborn"), timeout=10)
    began = time.monotonic()
    assert procs.stop("stubborn", timeout=1.0).startswith("killed")
    assert 0.9 < time.monotonic() - began < 8
    assert _gone(record.pid)
    assert not procs.pid_file("stubborn").exists()


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path / "run", tmp_path / "logs")
    other = subprocess.Popen(SLEEPER)  # an unrelated process that happens to hold the recorded pid
    try:
        procs.run_dir.mkdir(parents=True)
        procs.pid_file("prometheus").write_text(
            f'{{"name": "prometheus", "pid": {other.pid}, "argv": ["/usr/bin/prometheus"], "log": "x"}}')
        assert procs.stop("prometheus") == "not running (stale pid file)"
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_start_refuses_a_second_copy_and_reports_an_early_exit(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path / "run", tmp_path / "logs")
    procs.start("sleeper", SLEEPER)
    with pytest.raises(StackError, match="already runs"):
        procs.start("sleeper", SLEEPER)
    procs.stop("sleeper")
    record = procs.start("crasher", [sys.executable, "-c", "import sys; print('bad flag'); sys.exit(3)"])
    with pytest.raises(StackError, match=r"exited during start-up(?s:.*)bad flag"):
        procs.wait_ready(record, lambda: False, timeout=10)


def test_missing_binary_names_the_package() -> None:
    with pytest.raises(StackError, match="apt-get install prometheus-alertmanager"):
        find_binary(["no-such-alertmanager-binary"], "prometheus-alertmanager")


def test_stack_up_says_which_port_is_taken(tmp_path: Path, bundle: Path) -> None:
    ports = Ports.free()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports.prometheus))
        sock.listen()
        assert not port_is_free(ports.prometheus)
        with pytest.raises(StackError, match=rf"port {ports.prometheus} .*\(prometheus\) is already in use.*"
                                             r"--prometheus-port"):
            up(StackOptions(bundle=bundle, state_dir=tmp_path / "state", ports=ports))
    assert not (tmp_path / "state" / "run").exists() or not list((tmp_path / "state" / "run").iterdir())


def test_stack_down_after_a_crash_uses_the_pid_files(tmp_path: Path) -> None:
    state = tmp_path / "state"
    procs = ProcessManager(state / "run", state / "logs")
    a, b = procs.start("capture", SLEEPER), procs.start("demo-service", SLEEPER)
    # No stack.json (the CLI died half-way): `fireline stack down` still finds and stops both.
    run = subprocess.run([FIRELINE, "stack", "down", "--dir", str(state)], capture_output=True, text=True,
                         check=False, env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stderr
    assert "capture" in run.stdout and "stopped" in run.stdout
    for record in (a, b):
        deadline = time.monotonic() + 5
        while not _gone(record.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(record.pid)
    assert down(state) == []


def test_stack_up_without_the_binaries_says_what_to_install(tmp_path: Path, bundle: Path) -> None:
    run = subprocess.run([FIRELINE, "stack", "up", "--bundle", str(bundle), "--dir", str(tmp_path / "state"),
                          "--free-ports"], capture_output=True, text=True, check=False,
                         env={**os.environ, "PATH": str(tmp_path / "empty"), "COLUMNS": "200"})
    assert run.returncode == 2
    assert "prometheus not found on PATH: install Debian's prometheus package" in " ".join(run.stderr.split())
    assert not (tmp_path / "state" / "run").exists()  # nothing was started
