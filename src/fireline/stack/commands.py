"""Commands that run local processes: the demo service, `fireline stack up|down|status`, `fireline drill`."""

from __future__ import annotations

import json
import signal
import sys
import threading
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from fireline.routing.expected import ExpectedRoute, ExpectedRoutesError, expected_routes, load_expected_routes
from fireline.slo.durations import Duration, DurationError
from fireline.spec.errors import SpecError, display_path
from fireline.spec.loader import load_config
from fireline.stack.demo_service import DemoService
from fireline.stack.drill import ITEMS, Drill, DrillOptions, DrillRefused, DrillReport, DrillTarget, write_report
from fireline.stack.process import StackError
from fireline.stack.stack import (
    DEFAULT_STATE_DIR,
    Layout,
    Ports,
    StackOptions,
    StackState,
    down,
    restart_alertmanager,
    status,
    up,
)

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False)


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class Engine(StrEnum):
    PROMETHEUS = "prometheus"
    VICTORIAMETRICS = "victoriametrics"


stack_app = typer.Typer(name="stack", no_args_is_help=True,
                        help="Run Prometheus, Alertmanager, fireline serve, a capture server and the demo service "
                             "locally from a bundle.")

StateDir = Annotated[Path, typer.Option("--dir", help="State dir: processes, logs, data.",
                                        envvar="FIRELINE_STACK_DIR")]


def _error(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


@stack_app.command("up")
def stack_up(
    bundle: Annotated[Path, typer.Option("--bundle", help="A bundle from `fireline generate`.")] = Path("out"),
    state_dir: StateDir = DEFAULT_STATE_DIR,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The fireline.yaml the bundle came from "
                                                "(receivers and teams for fireline serve).")] = None,
    specs: Annotated[list[Path] | None, typer.Option("--specs", help="Spec files or folders, for the UI's SLO "
                                                     "pages (added to fireline.yaml's specs:).")] = None,
    replicas: Annotated[int, typer.Option("--alertmanager-replicas", min=1, max=2,
                                          help="2 runs an HA pair gossiping on loopback.")] = 1,
    demo: Annotated[bool, typer.Option("--demo/--live-receivers",
                                       help="Demo: every receiver notifies the capture server. --live-receivers "
                                            "keeps the bundle's Slack/PagerDuty (drills still go to capture).")] = True,
    free_ports: Annotated[bool, typer.Option("--free-ports", help="Pick unused ports instead of the defaults.")]
    = False,
    prometheus_port: Annotated[int | None, typer.Option(help="Default 9090.")] = None,
    alertmanager_port: Annotated[int | None, typer.Option(help="Default 9093; replica i uses this + i.")] = None,
    cluster_port: Annotated[int | None, typer.Option(help="Default 9194; replica i gossips on this + i.")] = None,
    fireline_port: Annotated[int | None, typer.Option(help="fireline serve; default 8080.")] = None,
    capture_port: Annotated[int | None, typer.Option(help="Default 9097.")] = None,
    demo_port: Annotated[int | None, typer.Option(help="Demo service; default 9464.")] = None,
    engine: Annotated[Engine, typer.Option(help="prometheus, or victoriametrics: VictoriaMetrics + vmagent + "
                                           "vmalert on the prometheus port (docs/engines.md).")] = Engine.PROMETHEUS,
    vmagent_port: Annotated[int | None, typer.Option(help="--engine victoriametrics; default 8429.")] = None,
    vmalert_port: Annotated[int | None, typer.Option(help="--engine victoriametrics; default 8880.")] = None,
    evaluation_interval: Annotated[str, typer.Option(help="Rule evaluation interval (Prometheus or vmalert).")] = "5s",
    scrape_interval: Annotated[str, typer.Option(help="Prometheus scrape interval.")] = "5s",
    group_wait: Annotated[str | None, typer.Option(help="Overrides the config's group_wait ('' keeps it).")] = "3s",
    group_interval: Annotated[str | None, typer.Option(help="Overrides group_interval ('' keeps it).")] = "10s",
    repeat_interval: Annotated[str | None, typer.Option(help="Overrides repeat_interval ('' keeps it).")] = "1h",
    rps: Annotated[float, typer.Option(help="Demo service self-traffic, requests per second.")] = 10.0,
    history: Annotated[str | None, typer.Option(
        help="Write the example services' last days first (e.g. 30d): budgets, tiers and charts from the start, "
             "with a story (docs/drill.md). Needs --specs examples and --engine prometheus.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = OutputFormat.TEXT,
) -> None:
    """Start the stack on 127.0.0.1 (clean data every time); `fireline stack down` stops it."""
    span: Duration | None = None
    if history:
        try:
            span = Duration.parse(history)
        except DurationError as exc:
            raise _error(f"--history {history!r}: {exc}") from None
        if not Duration.parse("1d").milliseconds <= span.milliseconds <= Duration.parse("90d").milliseconds:
            raise _error(f"--history {history}: give between 1d and 90d")
    ports = Ports.free(replicas) if free_ports else Ports()
    for attr, value in (("prometheus", prometheus_port), ("alertmanager", alertmanager_port),
                        ("cluster", cluster_port), ("fireline", fireline_port), ("capture", capture_port),
                        ("demo_service", demo_port), ("vmagent", vmagent_port), ("vmalert", vmalert_port)):
        if value is not None:
            setattr(ports, attr, value)
    options = StackOptions(
        bundle=bundle, state_dir=state_dir, config=config, specs=list(specs or []), ports=ports,
        alertmanager_replicas=replicas, demo=demo,
        scrape_interval=scrape_interval, evaluation_interval=evaluation_interval, group_wait=group_wait or None,
        group_interval=group_interval or None, repeat_interval=repeat_interval or None, demo_rps=rps,
        engine=engine.value, history=span)
    try:
        state = up(options)
    except StackError as exc:
        raise _error(str(exc)) from None
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(asdict(state), indent=2))
        return
    console.print(f"stack up in {display_path(Path(state.state_dir))} ({'demo' if state.demo else 'live'} receivers)")
    if state.history:
        _print_history(state.history)
    _print_urls(state)
    console.print(f"stop it with: {_self()} stack down" + _dir_flag(state_dir))


def _print_history(history: dict[str, Any]) -> None:
    steps = dict(history["seconds"])
    waited = steps.pop("waited for", 0.0)
    took = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in steps.items())
    console.print(f"  history       {history['span']}: {history['samples']:,} raw samples, their 5m recordings and "
                  f"hourly budgets ({history.get('blocks', 0)} blocks): {took}, while the other processes started "
                  f"(Prometheus waited {waited:.1f}s for it)", markup=False, highlight=False)
    left = ", ".join(f"{slo} {remaining:.0%}" for slo, remaining in history["budgets"].items())
    console.print(f"  story         budget left at its end: {left}", markup=False, highlight=False)
    for posted in history.get("exclusions_posted") or []:
        console.print(f"  excluded      {posted} (maintenance)", markup=False, highlight=False)


def _dir_flag(state_dir: Path) -> str:
    return "" if state_dir == DEFAULT_STATE_DIR else f" --dir {state_dir}"


def _self() -> str:
    """How the user ran us (`.venv/bin/fireline` from make), so printed commands can be pasted."""
    argv0 = sys.argv[0]
    return argv0 if "/" in argv0 and not argv0.startswith("/") and argv0.endswith("fireline") else "fireline"


def _print_urls(state: StackState) -> None:
    urls = state.urls
    console.print(f"  fireline      {urls['fireline']}/  (UI; API {urls['fireline']}/api/v1/incidents)")
    if "vmalert" in urls:
        console.print(f"  victoriametrics {urls['prometheus']}  (Prometheus query API; vmagent {urls['vmagent']}, "
                      f"vmalert {urls['vmalert']})")
    else:
        console.print(f"  prometheus    {urls['prometheus']}")
    for url in state.alertmanager_urls:
        console.print(f"  alertmanager  {url}")
    console.print(f"  capture       {urls['capture']}/_capture/requests  (what Slack/PagerDuty would have got)")
    console.print(f"  demo service  {urls['demo_service']}  (POST /control {{\"error_rate\": 1}} to break it)")


@stack_app.command("down")
def stack_down(state_dir: StateDir = DEFAULT_STATE_DIR,
               timeout: Annotated[float, typer.Option(help="Seconds between SIGTERM and SIGKILL.")] = 10.0) -> None:
    """Stop every process of the stack (SIGTERM, then SIGKILL); works after a crash from the pid files."""
    stopped = down(state_dir, timeout)
    if not stopped:
        console.print(f"nothing runs in {display_path(state_dir)}")
    for name, outcome in stopped:
        console.print(f"{name:<15} {outcome}")


@stack_app.command("status")
def stack_status(state_dir: StateDir = DEFAULT_STATE_DIR,
                 output: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = OutputFormat.TEXT
                 ) -> None:
    """Which processes run and answer their health check; exit 1 unless all do."""
    state, processes = status(state_dir)
    ok = bool(processes) and all(p.running and p.healthy is not False for p in processes)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps({"ok": ok, "state": asdict(state) if state else None,
                               "processes": [asdict(p) for p in processes]}, indent=2))
    elif not processes:
        console.print(f"no stack in {display_path(state_dir)}")
    else:
        for proc in processes:
            health = "" if proc.healthy is None else ("healthy" if proc.healthy else "NOT HEALTHY")
            what = f"running (pid {proc.pid})" if proc.running else "[red]not running[/red]"
            console.print(f"{proc.name:<15} {what:<22} {health:<12} {proc.url or ''}")
        if state is not None and any(p.running for p in processes):
            _print_urls(state)
    if not ok:
        raise typer.Exit(1)


def _parse_items(text: str) -> tuple[int, ...]:
    try:
        items = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise typer.BadParameter("a comma-separated list of item numbers, e.g. 1,2,3", param_hint="--items") from None
    if not items or any(i not in ITEMS for i in items):
        raise typer.BadParameter(f"item numbers are {min(ITEMS)}..{max(ITEMS)}", param_hint="--items")
    return items


def _stack_target(state_dir: Path) -> tuple[DrillTarget, StackState]:
    layout = Layout(state_dir)
    state = layout.load_state()
    expected_file = state.expected_routes_file()
    try:
        expected = load_expected_routes(expected_file)
    except (ExpectedRoutesError, SpecError, OSError) as exc:
        raise StackError(f"cannot read the drill's expectations {expected_file}: {exc}") from None
    token = Path(state.token_file).read_text(encoding="utf-8").strip()
    target = DrillTarget(
        alertmanagers=state.alertmanager_urls, expected=expected, capture=state.urls["capture"],
        captured=state.captured, bundle=Path(state.bundle), prometheus=state.urls["prometheus"],
        fireline=state.urls["fireline"], token=token, demo_service=state.urls["demo_service"], demo=state.demo,
        processes=layout.processes, restart_replica=lambda i: restart_alertmanager(state_dir, i),
        peer_timeout=Duration.parse(str(state.options.get("peer_timeout", "15s"))).seconds,
        demo_job=str(state.options.get("demo_job", "checkout")),
        prometheus_headers=_prometheus_headers(Path(state.config) if state.config else None),
        serve_config=layout.fireline / "fireline.yaml")
    return target, state


def _prometheus_headers(config: Path | None) -> dict[str, str]:
    """fireline.yaml's prometheus.tenant and headers, for the drill's queries (a query frontend needs them)."""
    if config is None:
        return {}
    try:
        return load_config(config).prometheus.request_headers()
    except SpecError as exc:
        raise StackError("; ".join(str(p) for p in exc.problems)) from None
    except ValueError as exc:  # names the unreadable file or variable, never a value
        raise StackError(str(exc)) from None


def _config_expectations(config: Path) -> list[ExpectedRoute]:
    try:
        loaded = load_config(config)
    except SpecError as exc:
        raise StackError("; ".join(str(p) for p in exc.problems)) from None
    if loaded.default_receiver is None:
        raise StackError(f"{config} has no default_receiver: there is no routing intent to drill")
    return expected_routes(loaded)


_MARK = {"pass": "[green]PASS[/green]", "fail": "[red]FAIL[/red]", "warn": "[yellow]WARN[/yellow]",
         "skip": "[dim]SKIP[/dim]"}


def print_report(report: DrillReport, state: StackState | None, state_dir: Path | None) -> None:
    console.print(f"\n[bold]fireline drill {report.run_id}[/bold]: the alerting checklist")
    for item in report.items:
        console.print(f"  {_MARK[item.status]}  ({item.number}) {escape(item.title)}  [dim]{item.seconds:.0f}s[/dim]")
        for line in item.details:
            console.print(f"          {escape(line)}", soft_wrap=True)
    if report.incident:
        inc = report.incident
        console.print(f"\n[bold]incident #{inc['id']}[/bold] {escape(str(inc['title']))} "
                      f"({inc['severity']}, {inc['status']}, team {inc.get('team')})")
        for event in inc.get("timeline") or []:
            console.print(f"  {str(event['at'])[11:19]}  {event['kind']:<18} {escape(str(event['actor'])):<13} "
                          f"{escape(str(event['message']))}", soft_wrap=True)
    failed = [i for i in report.items if i.status == "fail"]
    verdict = "[green]all checks passed[/green]" if not failed else \
        f"[red]{len(failed)} check(s) failed: {', '.join(f'({i.number}) {i.name}' for i in failed)}[/red]"
    console.print(f"\n{verdict}")
    if state is not None and state_dir is not None:
        root = Path(state.state_dir)
        serve = state.urls["fireline"]
        rows = [
            ("fireline UI", f"{serve}/  (this checklist: {serve}/drill; log in for actions with the token in "
                            f"{display_path(root / 'secrets' / 'fireline.token')})"),
            ("incidents", f"{serve}/incidents  or  {_self()} incidents list --server {serve} "
                          f"-c {display_path(root / 'fireline' / 'fireline.yaml')}"),
            ("notifications", f"{serve}/notifications  (raw: {state.urls['capture']}/_capture/requests)"),
            # On a VictoriaMetrics stack the alerts live in vmalert, whose UI lists them under /vmalert/alerts.
            ("vmalert", f"{state.urls['vmalert']}/vmalert/alerts") if "vmalert" in state.urls
            else ("Prometheus", f"{state.urls['prometheus']}/alerts"),
            ("Alertmanager", "  ".join(state.alertmanager_urls)),
            ("checklist JSON", display_path(root / "drill" / "last.json")),
            ("logs", display_path(root / "logs") + "/"),
        ]
        console.print("\nwhere to look:")
        for label, value in rows:
            console.print(f"  {label:<15} {escape(value)}", soft_wrap=True)
        console.print(f"\nthe stack keeps running; stop it with: {_self()} stack down{_dir_flag(state_dir)}")


def drill(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    alertmanager: Annotated[list[str] | None, typer.Option(
        "--alertmanager", help="Drill this Alertmanager (repeat for each HA replica) instead of a stack.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="fireline.yaml: the expectations "
                                                "(teams and receivers); default: the stack bundle's "
                                                "expected-routes.yml")] = None,
    capture: Annotated[str | None, typer.Option(help="Capture server URL (with --alertmanager).")] = None,
    bundle: Annotated[Path | None, typer.Option(help="Bundle, for runbook links (with --alertmanager).")] = None,
    prometheus: Annotated[str | None, typer.Option(help="Prometheus URL, for its loaded alert rules.")] = None,
    safe: Annotated[bool, typer.Option("--safe/--unsafe", help="Refuse unless drill alerts can reach only "
                                       "capture/drill receivers.")] = True,
    items: Annotated[str, typer.Option(help="Which checklist items to run, e.g. 1,2,6.")] = ",".join(map(str, ITEMS)),
    page_budget: Annotated[str, typer.Option(help="Fire drill: errors to page and incident within this.")] = "3m",
    output: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = OutputFormat.TEXT,
) -> None:
    """Run the alerting checklist against a running stack or any Alertmanager; exit 1 if an item fails."""
    wanted = _parse_items(items)
    try:
        budget = Duration.parse(page_budget).seconds
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--page-budget") from None
    state: StackState | None = None
    try:
        if alertmanager:
            if config is None:
                raise StackError("--alertmanager needs --config fireline.yaml: the routing intent to check against")
            target = DrillTarget(alertmanagers=list(alertmanager), expected=_config_expectations(config),
                                 capture=capture, bundle=bundle, prometheus=prometheus,
                                 prometheus_headers=_prometheus_headers(config))
        else:
            target, state = _stack_target(state_dir)
            if config is not None:
                target.expected = _config_expectations(config)
    except StackError as exc:
        raise _error(str(exc)) from None
    def progress(line: str) -> None:
        if output is OutputFormat.TEXT:
            err_console.print(f"[dim]{escape(line)}[/dim]", soft_wrap=True)

    runner = Drill(target, DrillOptions(safe=safe, items=wanted, page_budget=budget), progress=progress)
    try:
        report = runner.run()
    except DrillRefused as exc:
        raise _error(str(exc)) from None
    except (StackError, httpx.HTTPError) as exc:
        raise _error(f"drill could not run: {exc}") from None
    if state is not None:
        write_report(report, Path(state.state_dir) / "drill" / "last.json")
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report, state, state_dir if state else None)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(stack_app)
    app.command("drill")(drill)

    @app.command("demo-service")
    def demo_service(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 9464,
        rps: Annotated[float, typer.Option(help="Synthetic requests per second it sends itself.")] = 10.0,
    ) -> None:
        """Serve GET /api/checkout with request metrics at /metrics and fault injection at POST /control."""
        if rps < 0:
            raise typer.BadParameter("must not be negative", param_hint="--rps")
        service = DemoService(rps=rps)
        try:
            bound = service.start(host, port)
        except OSError as exc:
            typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"demo service on http://{host}:{bound} (metrics /metrics, faults POST /control), {rps:g} rps")
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
        finally:
            service.stop()
