"""Running Prometheus and promtool for bench/rules_cost.py: loopback only, always stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prometheus_version() -> str:
    out = subprocess.run(["prometheus", "--version"], capture_output=True, text=True, check=True)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def link_blocks(source: Path, target: Path) -> None:
    """Hard-link TSDB blocks into a data dir: no copy of gigabytes, and Prometheus never rewrites
    a block's files (compaction is disabled in every run), so sharing them is safe."""
    target.mkdir(parents=True, exist_ok=True)
    for block in source.iterdir():
        if block.is_dir() and (block / "meta.json").exists():
            shutil.copytree(block, target / block.name, copy_function=os.link)


class Prometheus:
    """A Prometheus process on 127.0.0.1 with the given rule file; a context manager that always
    terminates it (SIGTERM, then SIGKILL) even when the benchmark fails half way."""

    def __init__(self, workdir: Path, data_dir: Path, rules_file: Path | None, evaluation_interval: str,
                 log_name: str, compaction: bool = False) -> None:
        self.compaction = compaction
        self.workdir = workdir
        self.data_dir = data_dir
        self.rules_file = rules_file
        self.evaluation_interval = evaluation_interval
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{log_name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=120)

    def __enter__(self) -> Prometheus:
        config = self.workdir / f"{self.log_path.stem}.prometheus.yml"
        lines = ["global:", f"  evaluation_interval: {self.evaluation_interval}"]
        if self.rules_file is not None:
            lines += ["rule_files:", f"  - {self.rules_file}"]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen([
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # The data is backfilled history; retention is counted from the newest block, but a
            # long one makes sure nothing is deleted under the benchmark.
            "--storage.tsdb.retention.time=3650d",
            # min = max = 2h turns off compaction, so no run spends CPU merging the imported blocks
            # while its rules are being timed (every rule set gets the same flags).
            *([] if self.compaction else ["--storage.tsdb.min-block-duration=2h",
                                          "--storage.tsdb.max-block-duration=2h"]),
            "--query.max-samples=500000000",
            "--log.level=info",
        ], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                tail = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"prometheus exited early; see {self.log_path}:\n{tail}")
            try:
                if self.client.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"prometheus not ready after {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.client.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        resp = self.client.get("/api/v1/query", params=params)
        body = resp.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query failed: {promql}: {body}")
        return list(body["data"]["result"])

    def metrics(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        """/metrics parsed into name -> [(labels, value)]; enough for Prometheus' own exposition."""
        text = self.client.get("/metrics").text
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for line in text.splitlines():
            if not line or line[0] == "#":
                continue
            head, _, value = line.rpartition(" ")
            name, brace, rest = head.partition("{")
            labels: dict[str, str] = {}
            if brace:
                for part in _split_labels(rest.rstrip("}")):
                    key, _, val = part.partition("=")
                    labels[key] = val.strip('"')
            out.setdefault(name, []).append((labels, float(value)))
        return out


def _split_labels(text: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    if buf:
        parts.append("".join(buf))
    return parts


@dataclass
class GroupSamples:
    interval_seconds: float = 0.0
    durations: dict[float, float] = field(default_factory=dict)  # evaluation timestamp -> seconds
    seen: set[float] = field(default_factory=set)


@dataclass
class CostSample:
    groups: dict[str, GroupSamples]
    rss_max: float
    series_created: float
    samples_queried: float | None  # prometheus_engine_query_samples_total; None on 2.42 (not exported)
    iterations_missed: float
    wall_seconds: float
    cpu_seconds_per_minute: float  # Prometheus process CPU over the timed window, per minute
    other_cores_busy: float  # CPU used by everything else on the machine meanwhile, in cores


def _metric_value(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float | None:
    rows = metrics.get(name)
    return sum(v for _, v in rows) if rows else None


def collect_costs(prom: Prometheus, wanted: dict[str, int], warmups: dict[str, int], max_seconds: float,
                  poll_seconds: float) -> CostSample:
    """Poll /metrics and keep each group's last duration once per new evaluation timestamp,
    until every group has its wanted evaluations after its warm-up ones (keys: group names)."""
    groups: dict[str, GroupSamples] = {}
    seen: dict[str, int] = {}
    rss_max = 0.0
    started = time.monotonic()
    cpu_start: float | None = None
    busy_start = machine_busy_seconds()
    while True:
        m = prom.metrics()
        cpu = _metric_value(m, "process_cpu_seconds_total") or 0.0
        if cpu_start is None:
            cpu_start = cpu
        rss_max = max(rss_max, _metric_value(m, "process_resident_memory_bytes") or 0.0)
        last_ts = {lbl["rule_group"]: v
                   for lbl, v in m.get("prometheus_rule_group_last_evaluation_timestamp_seconds", [])}
        intervals = {lbl["rule_group"]: v for lbl, v in m.get("prometheus_rule_group_interval_seconds", [])}
        for lbl, dur in m.get("prometheus_rule_group_last_duration_seconds", []):
            name = lbl["rule_group"]
            ts = last_ts.get(name, 0.0)
            if ts <= 0:
                continue
            g = groups.setdefault(name, GroupSamples(interval_seconds=intervals.get(name, 0.0)))
            if ts not in g.seen:
                g.seen.add(ts)
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > warmups[short_name(name)]:
                    g.durations[ts] = dur
        done = len(groups) == len(wanted) and all(
            len(g.durations) >= wanted[short_name(n)] for n, g in groups.items())
        elapsed = time.monotonic() - started
        if done or elapsed > max_seconds:
            if not done:
                raise RuntimeError(f"not enough evaluations of some group after {elapsed:.0f}s")
            prom_cpu = cpu - cpu_start
            return CostSample(
                cpu_seconds_per_minute=prom_cpu / elapsed * 60 if elapsed else 0.0,
                other_cores_busy=max(machine_busy_seconds() - busy_start - prom_cpu, 0.0) / elapsed if elapsed else 0.0,
                groups=groups,
                rss_max=rss_max,
                series_created=_metric_value(m, "prometheus_tsdb_head_series_created_total") or 0.0,
                samples_queried=_metric_value(m, "prometheus_engine_query_samples_total"),
                iterations_missed=_metric_value(m, "prometheus_rule_group_iterations_missed_total") or 0.0,
                wall_seconds=elapsed,
            )
        time.sleep(poll_seconds)


def machine_busy_seconds() -> float:
    """CPU seconds spent by the whole machine (all cores, not idle/iowait) since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def short_name(rule_group: str) -> str:
    """rule_group label is "<file>;<group>"."""
    return rule_group.split(";", 1)[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def run_checked(cmd: list[str], log: Path, cwd: Path | None = None) -> float:
    """Run a command, output to a log file; raise with the log tail on failure. Returns seconds."""
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed ({proc.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    return time.monotonic() - started
