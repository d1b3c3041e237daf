"""`fireline lint` beside `promtool check rules`: a 10,002-rule file, and start-up on a small one.

Every row runs the real command lines as a CI job would (a new process each time) and reports the
best and the median wall time of several runs, plus CPU time (user + system of the children):
on a shared machine the best run is the one least disturbed by other work.

    .venv/bin/python bench/lint_bench.py           # 5 runs each; writes bench/results/lint_bench.{json,md}
    .venv/bin/python bench/lint_bench.py --quick   # 2 runs each, the first 2,000 rules; writes nothing

Goals (issue 18): rules_large.yml in at most 5x promtool's wall time; `fireline --help` and
`fireline lint SMALLFILE` in at most 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FIRELINE_SHARED", ROOT.parent / "shared"))
LARGE = SHARED / "corpus" / "lint" / "prometheus+prometheus" / "cmd" / "promtool" / "testdata" / "rules_large.yml"
SMALL = ROOT / "tests" / "lint" / "fixtures" / "rules-missing-summary" / "good.yml"
RESULTS = ROOT / "bench" / "results"
FIRELINE = [str(Path(sys.executable).parent / "fireline")]
MAX_RATIO = 5.0
MAX_START = 0.3


@dataclass
class Timing:
    case: str
    command: str
    best: float
    median: float
    cpu: float  # user + system seconds of the best run's process tree, averaged over runs
    exit_code: int


def timed(command: list[str], runs: int) -> tuple[float, float, float, int]:
    walls: list[float] = []
    cpus: list[float] = []
    code = 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, timeout=900, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        code = done.returncode
    return min(walls), statistics.median(walls), statistics.mean(cpus), code


def prefix_file(source: Path, rules: int, folder: Path) -> Path:
    """The first `rules` rules of rules_large.yml (4 lines each after a 2-line header)."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    out = folder / f"rules_{rules}.yml"
    out.write_text("".join(lines[: 3 + 4 * rules]), encoding="utf-8")
    return out


def show(command: list[str]) -> str:
    return " ".join(Path(part).name if i == 0 else part for i, part in enumerate(command))


def run(runs: int, large: Path, small: Path) -> list[Timing]:
    promtool = shutil.which("promtool")
    if promtool is None:
        raise SystemExit("promtool is needed (Debian package prometheus)")
    cases = [
        ("large file", [promtool, "check", "rules", str(large)]),
        ("large file", [*FIRELINE, "lint", str(large)]),
        ("start: help", [promtool, "--help"]),
        ("start: help", [*FIRELINE, "--help"]),
        ("start: small file", [promtool, "check", "rules", str(small)]),
        ("start: small file", [*FIRELINE, "lint", str(small)]),
    ]
    out = []
    for case, command in cases:
        best, median, cpu, code = timed(command, runs)
        out.append(Timing(case, show(command).replace(str(SHARED), "../shared").replace(str(ROOT) + "/", ""),
                          best, median, cpu, code))
    return out


def table(timings: list[Timing], large_rules: int) -> str:
    lines = [
        "| case | command | best wall s | median wall s | CPU s | fireline / promtool (best) | goal |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    by_case: dict[str, list[Timing]] = {}
    for timing in timings:
        by_case.setdefault(timing.case, []).append(timing)
    for case, pair in by_case.items():
        reference, ours = pair
        ratio = ours.best / reference.best if reference.best else float("inf")
        if case == "large file":
            goal = f"<= {MAX_RATIO:g}x: {'met' if ratio <= MAX_RATIO else 'NOT met'}"
        else:
            goal = f"<= {MAX_START:g} s: {'met' if ours.best <= MAX_START else 'NOT met'}"
        label = f"{case} ({large_rules:,} rules)" if case == "large file" else case
        lines.append(f"| {label} | `{reference.command}` | {reference.best:.3f} | {reference.median:.3f} | "
                     f"{reference.cpu:.3f} | | |")
        lines.append(f"| {label} | `{ours.command}` | {ours.best:.3f} | {ours.median:.3f} | {ours.cpu:.3f} | "
                     f"{ratio:.2f}x | {goal} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 runs, 2,000 rules; never writes results")
    parser.add_argument("--runs", type=int, default=None, help="runs per command (default 5, quick 2)")
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 5)
    if not LARGE.is_file():
        raise SystemExit(f"{LARGE} not found: set FIRELINE_SHARED to the folder holding corpus/lint")
    with tempfile.TemporaryDirectory() as folder:
        large = prefix_file(LARGE, 2000, Path(folder)) if args.quick else LARGE
        rules = 2000 if args.quick else sum(1 for line in LARGE.read_text().splitlines() if "- record:" in line)
        timings = run(runs, large, SMALL)
    text = table(timings, rules)
    load = os.getloadavg()
    header = (f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"load average at the end {load[0]:.2f}; {runs} runs per command\n\n")
    sys.stdout.write(header + text)
    if args.quick:
        sys.stdout.write("(--quick: results not written)\n")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lint_bench.json").write_text(
        json.dumps({"runs": runs, "rules": rules, "timings": [asdict(t) for t in timings]}, indent=2) + "\n"
    )
    (RESULTS / "lint_bench.md").write_text(
        "# bench/lint_bench.py\n\n`.venv/bin/python bench/lint_bench.py`\n\n" + header + text
    )
    sys.stdout.write(f"wrote {RESULTS / 'lint_bench.json'} and lint_bench.md\n")


if __name__ == "__main__":
    main()
