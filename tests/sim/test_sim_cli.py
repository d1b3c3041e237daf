"""`fireline simulate` end to end: output shapes, determinism, one-line errors with exit code 2,
CSV and Prometheus histories."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from typer.testing import CliRunner

from fireline.cli import app
from fireline.sim.errors import SimInputError
from fireline.sim.prometheus_source import MAX_POINTS, RangeWindow, fetch_history, open_client
from fireline.slo.durations import Duration
from fireline.spec.loader import load_services

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHECKOUT = str(EXAMPLES / "checkout.yaml")
runner = CliRunner()

JSON_KEYS = ["policy", "service", "slo", "severity", "tier", "first_fire_seconds", "budget_consumed_at_detection",
             "notifications", "firing_seconds", "reset_seconds", "precision", "recall"]


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_scenario_json_has_a_row_per_tier_and_is_deterministic() -> None:
    args = [CHECKOUT, "--slo", "availability", "--scenario", "outage:duration=20m", "--duration", "12h",
            "--policy", "spec", "--policy", "single-burn", "--format", "json"]
    code, out, _ = _run(*args)
    assert code == 0
    assert _run(*args)[1] == out
    rows = json.loads(out)["results"]
    assert all(list(r) == JSON_KEYS for r in rows)
    spec_tiers = [(r["severity"], r["tier"]) for r in rows if r["policy"] == "spec"]
    assert spec_tiers == [("page", "1h/5m"), ("page", "6h/30m"), ("page", "any"),
                          ("ticket", "1d/2h"), ("ticket", "3d/6h"), ("ticket", "trickle 6h"), ("ticket", "any")]
    # 10 requests a second is far above the guard: the trickle ticket never fires on it.
    trickle = next(r for r in rows if r["policy"] == "spec" and r["tier"] == "trickle 6h")
    assert trickle["notifications"] == 0
    fast = rows[0]
    # A full outage at 99.9%: the 1h/5m tier needs 14.4 x 0.001 x 1h = 52s of errors, seen on the next eval.
    assert fast["first_fire_seconds"] == 60
    assert fast["notifications"] == 1 and fast["precision"] == 1 and fast["recall"] == 1
    assert fast["reset_seconds"] == 300  # the 5m window empties of errors 5 minutes after recovery


def test_no_scenario_prints_the_sweep_for_the_spec_policy() -> None:
    code, out, _ = _run(CHECKOUT, "--slo", "checkout/availability")
    assert code == 0
    assert "spec on checkout/availability" in out
    assert "page 1h/5m" in out and "ticket 3d/6h" in out
    code, out, _ = _run(CHECKOUT, "--slo", "availability", "--sweep", "0.01,1", "--format", "json")
    rows = json.loads(out)["sweep"]
    assert {r["error_rate"] for r in rows} == {0.01, 1.0}
    outage_fast = next(r for r in rows if r["error_rate"] == 1.0 and r["tier"] == "1h/5m")
    assert outage_fast["closed_form_seconds"] == pytest.approx(51.84)


@pytest.mark.parametrize(("args", "message"), [
    (["--scenario", "constant:eror_rate=0.1"], "unknown key 'eror_rate'"),
    (["--scenario", "bogus"], "unknown scenario kind 'bogus'"),
    (["--scenario", "outage", "--duration", "3x"], "--duration: '3x' is not a duration"),
    (["--scenario", "outage", "--eval-interval", "0s"], "--eval-interval: must be longer than 0s"),
    (["--policy", "nope"], "unknown policy 'nope'"),
    (["--sweep", "0.1,abc"], "'abc' is not an error rate"),
    (["--scenario", "outage", "--sweep", "0.1"], "not --scenario and --sweep"),
    (["--slo", "latencyy"], "matches no SLO"),
    (["--format", "xml"], "--format must be table or json"),
])
def test_bad_input_is_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    code, out, err = _run(CHECKOUT, *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_csv_history_and_incidents(tmp_path: Path) -> None:
    lines = ["timestamp,total,errors"]
    total = errors = 0.0
    for i in range(0, 6 * 120):  # 6h at 30s, 10 rps; 50% errors from 2h to 2h30m
        t = 1_700_000_000 + 30 * i
        lines.append(f"{t},{total},{errors}" if i % 97 else f"{t},,")  # some failed scrapes
        total += 300
        errors += 150 if 240 <= i < 300 else 0
    csv_path = tmp_path / "history.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    incidents = tmp_path / "incidents.csv"
    incidents.write_text("start,end\n1700007200,1700009000\n", encoding="utf-8")
    code, out, err = _run(CHECKOUT, "--slo", "availability", "--csv", str(csv_path), "--incidents", str(incidents),
                          "--format", "json")
    assert code == 0, err
    fast = json.loads(out)["results"][0]
    assert fast["tier"] == "1h/5m"
    assert 0 < fast["first_fire_seconds"] <= 180
    assert fast["recall"] == 1 and fast["precision"] == 1


@pytest.mark.parametrize(("content", "message"), [
    ("time,total,errors\n1,2,3\n", "history.csv:1: header must name timestamp, total and errors"),
    ("timestamp,total,errors\n1,10,1\n2,abc,1\n", "history.csv:3: total 'abc' is not a number"),
    ("timestamp,total,errors\n1,10,1\n1,11,1\n", "history.csv:3: timestamps must increase"),
    ("timestamp,total,errors\n1,10,1\n2,11\n", "history.csv:3: expected 3 columns"),
    ("timestamp,total,errors\nyesterday,10,1\n", "history.csv:2: 'yesterday' is not a timestamp"),
])
def test_bad_csv_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "history.csv"
    path.write_text(content, encoding="utf-8")
    code, _, err = _run(CHECKOUT, "--slo", "availability", "--csv", str(path))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "backtest.png"
    code, _, err = _run(CHECKOUT, "--slo", "availability", "--scenario", "spikes:duration=2h", "--duration", "6h",
                        "--plot", str(target))
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_prometheus_history_is_pinned_to_one_end_time_and_chunked() -> None:
    slo = load_services([EXAMPLES / "checkout.yaml"])[0].spec.spec.slos[0]
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = parse_qs(urlparse(str(request.url)).query)
        seen.append(params)
        start, end, step = (float(params[k][0]) for k in ("start", "end", "step"))
        is_errors = "5.." in params["query"][0]
        values = [[start + i * step, "0.5" if is_errors else "10"] for i in range(int((end - start) / step) + 1)]
        result = [{"metric": {}, "values": values}]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": result}})

    window = RangeWindow.ending_at(1_700_000_123_456, Duration.parse("10d"), Duration.parse("1m"))
    with open_client("http://prometheus.test", httpx.MockTransport(handler)) as client:
        history = fetch_history(client, slo, window)
    ends = {float(p["end"][0]) for p in seen}
    assert max(ends) == window.end_ms / 1000 and window.end_ms % 60_000 == 0
    points = [round((float(p["end"][0]) - float(p["start"][0])) / 60) + 1 for p in seen]
    assert max(points) <= MAX_POINTS and len(seen) == 4  # 14,401 points per query, in two chunks each
    assert {p["query"][0] for p in seen} == {
        'sum(rate(http_requests_total{job="checkout",code=~"5.."}[2m]))',
        'sum(rate(http_requests_total{job="checkout"}[2m]))'}
    errors, total = history.events_between(history.start_ms, history.end_ms)
    assert errors / total == pytest.approx(0.05)


def test_prometheus_errors_are_one_line() -> None:
    slo = load_services([EXAMPLES / "checkout.yaml"])[0].spec.spec.slos[0]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "error": "parse error"})

    window = RangeWindow.ending_at(1_700_000_000_000, Duration.parse("1d"), Duration.parse("1m"))
    with open_client("http://prometheus.test", httpx.MockTransport(handler)) as client, \
            pytest.raises(SimInputError, match=r"Prometheus rejected .*parse error"):
        fetch_history(client, slo, window)


def test_bursty_preset_puts_plain_beside_guarded() -> None:
    code, out, _ = _run(CHECKOUT, "--slo", "availability", "--preset", "bursty", "--format", "json")
    assert code == 0
    rows = {(r["policy"], r["severity"], r["tier"]): r for r in json.loads(out)["results"]}
    assert rows[("plain", "page", "1h/5m")]["notifications"] > 5  # flapping
    assert rows[("spec", "page", "any")]["notifications"] == 0
    assert rows[("spec", "ticket", "trickle 6h")]["notifications"] == 1


def test_preset_refuses_a_second_input_and_unknown_names() -> None:
    code, _, err = _run(CHECKOUT, "--preset", "bursty", "--scenario", "outage")
    assert code == 2 and "--preset is a scenario of its own" in err
    code, _, err = _run(CHECKOUT, "--preset", "quiet")
    assert code == 2 and "use one of low-traffic, bursty, trickle" in err
