"""`fireline stack up|down|status`: Prometheus, Alertmanager (1 or an HA pair), fireline serve, the
capture server and the demo service, on loopback, from a generated bundle.

Everything lives in the state dir (default `.fireline/stack`):

    stack.json                  ports, URLs, options, which receivers notify the capture server
    run/<process>.pid           pid and argv of each process (what `stack down` reads after a crash)
    logs/<process>.log          stdout and stderr of each process
    secrets/                    the API token and the capture endpoints' files (mode 0600)
    prometheus/prometheus.yml   rule_files are the bundle's; scrapes the demo service as job `checkout`
    victoriametrics/            --engine victoriametrics: scrape.yml for vmagent, data of VictoriaMetrics
    alertmanager/alertmanager.yml   derived from the bundle's (amconfig.py)
    fireline/fireline.yaml      fireline.yaml for `fireline serve`: server section, capture endpoints
    drill/last.json             the last drill's checklist (docs/drill.md)

`up` starts from empty data every time: a stack is a test bench, and an outage left in last run's
TSDB would page the moment Prometheus starts.

`--engine victoriametrics` replaces Prometheus with Debian's victoria-metrics package: vmagent
scrapes the same targets into VictoriaMetrics (single node), vmalert evaluates the bundle's rule
files against it, writes recordings and ALERTS back by remote write and notifies every
Alertmanager replica. VictoriaMetrics answers the Prometheus query API on the prometheus port and
proxies /api/v1/rules to vmalert, so the drill, fireline serve and the UI read it unchanged
(docs/engines.md).
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML

from fireline.routing.expected import ALERTMANAGER_CONFIG, EXPECTED_ROUTES
from fireline.slo.durations import Duration
from fireline.stack.amconfig import CaptureMap, derive_stack_config, read_yaml, to_yaml
from fireline.stack.demo_service import MYSERVICE, SEARCH
from fireline.stack.process import (
    LOOPBACK,
    PidRecord,
    ProcessManager,
    StackError,
    find_binary,
    free_port,
    http_ok,
    port_is_free,
)
from fireline.yamlout import dump_yaml

DEFAULT_STATE_DIR = Path(".fireline/stack")
STATE_FILE = "stack.json"
PROCESS_ORDER = ("capture", "demo-service", "fireline", "alertmanager-0", "alertmanager-1", "prometheus",
                 "victoriametrics", "vmagent", "vmalert")
ENGINES = ("prometheus", "victoriametrics")
# Python entry point for fireline's own processes: `python -c` keeps argv[0] stable for the pid check.
_FIRELINE_MAIN = "from fireline.cli import main; main()"


@dataclass
class Ports:
    prometheus: int = 9090
    alertmanager: int = 9093  # replica i listens on alertmanager + i
    cluster: int = 9194  # replica i gossips on cluster + i (TCP and UDP)
    fireline: int = 8080
    capture: int = 9097
    demo_service: int = 9464
    vmagent: int = 8429  # --engine victoriametrics; VictoriaMetrics itself takes the prometheus port
    vmalert: int = 8880

    def alertmanager_ports(self, replicas: int) -> list[int]:
        return [self.alertmanager + i for i in range(replicas)]

    def cluster_ports(self, replicas: int) -> list[int]:
        return [self.cluster + i for i in range(replicas)]

    @classmethod
    def free(cls, replicas: int = 2) -> Ports:
        """Ports nobody uses now (tests run stacks side by side); replicas need consecutive ones."""
        while True:
            am, cluster = free_port(), free_port()
            if all(port_is_free(p) for p in [*range(am, am + replicas), *range(cluster, cluster + replicas)]):
                return cls(prometheus=free_port(), alertmanager=am, cluster=cluster, fireline=free_port(),
                           capture=free_port(), demo_service=free_port(), vmagent=free_port(), vmalert=free_port())


@dataclass
class StackOptions:
    bundle: Path
    state_dir: Path = DEFAULT_STATE_DIR
    config: Path | None = None  # fireline.yaml, for `fireline serve` (receivers, teams, escalation)
    specs: list[Path] = field(default_factory=list)  # for the UI's SLO pages (fireline.yaml `specs:`)
    ports: Ports = field(default_factory=Ports)
    alertmanager_replicas: int = 1
    demo: bool = True  # receivers notify the capture server, never the real Slack/PagerDuty
    scrape_interval: str = "5s"
    evaluation_interval: str = "5s"
    group_wait: str | None = "3s"
    group_interval: str | None = "10s"
    repeat_interval: str | None = "1h"
    peer_timeout: str = "2s"
    demo_rps: float = 10.0
    demo_job: str = "checkout"
    start_timeout: float = 60.0
    engine: str = "prometheus"  # or victoriametrics (ENGINES)
    history: Duration | None = None  # write the example services' story over this span first (history.py)
    policy_interval: str | None = "5s"  # demo mode: overrides policy.interval, so tiers move within a demo


@dataclass
class StackState:
    """stack.json: what `status`, `down` and `drill` need to know about a running stack."""

    state_dir: str
    bundle: str
    config: str | None
    demo: bool
    alertmanager_replicas: int
    ports: dict[str, int]
    urls: dict[str, Any]
    capture_receivers: dict[str, list[dict[str, str]]]
    token_file: str
    started_at: float
    timers: dict[str, str | None]
    options: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] | None = None  # --history: span, budgets the story planned, exclusions, seconds

    @property
    def alertmanager_urls(self) -> list[str]:
        return [str(u) for u in self.urls["alertmanager"]]

    @property
    def captured(self) -> CaptureMap:
        return CaptureMap.from_dict(self.capture_receivers)

    def expected_routes_file(self) -> Path:
        return Path(self.bundle) / EXPECTED_ROUTES


class Layout:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir.resolve()
        self.state_file = self.root / STATE_FILE
        self.secrets = self.root / "secrets"
        self.prometheus = self.root / "prometheus"
        self.alertmanager = self.root / "alertmanager"
        self.victoriametrics = self.root / "victoriametrics"
        self.fireline = self.root / "fireline"
        self.drill = self.root / "drill"
        self.processes = ProcessManager(self.root / "run", self.root / "logs")

    def load_state(self) -> StackState:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            return StackState(**data)
        except FileNotFoundError:
            raise StackError(f"no stack in {self.root}: run `fireline stack up` (or pass --dir)") from None
        except (ValueError, TypeError) as exc:
            raise StackError(f"{self.state_file} is not a stack state file: {exc}") from None


def _write(path: Path, text: str, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mode is not None:
        path.chmod(mode)
    return path


def _check_ports(options: StackOptions) -> None:
    p, n = options.ports, options.alertmanager_replicas
    engine = "victoriametrics" if options.engine == "victoriametrics" else "prometheus"
    wanted = [(engine, p.prometheus, "--prometheus-port"), ("fireline serve", p.fireline, "--fireline-port"),
              ("capture server", p.capture, "--capture-port"), ("demo service", p.demo_service, "--demo-port")]
    wanted += [(f"alertmanager replica {i}", port, "--alertmanager-port")
               for i, port in enumerate(p.alertmanager_ports(n))]
    if n > 1:
        wanted += [(f"alertmanager cluster {i}", port, "--cluster-port") for i, port in enumerate(p.cluster_ports(n))]
    if options.engine == "victoriametrics":
        wanted += [("vmagent", p.vmagent, "--vmagent-port"), ("vmalert", p.vmalert, "--vmalert-port")]
    seen: dict[int, str] = {}
    for what, port, option in wanted:
        if port in seen:
            raise StackError(f"port {port} is given to both {seen[port]} and {what}: change {option}")
        seen[port] = what
        if not port_is_free(port):
            raise StackError(f"port {port} on {LOOPBACK} ({what}) is already in use: stop what listens there "
                             f"or pick another with {option} (or --free-ports)")


def _bundle_files(bundle: Path) -> tuple[Path, list[Path]]:
    am = bundle / ALERTMANAGER_CONFIG
    if not am.is_file():
        raise StackError(f"{am} not found: generate the bundle with a fireline.yaml that has a default_receiver "
                         "(fireline generate SPECS -c fireline.yaml -o OUT)")
    # vmalert reads Prometheus rule files, so either target's plain files serve either engine.
    rules = sorted((bundle / "prometheus").glob("*.rules.yml")) or sorted((bundle / "vmalert").glob("*.rules.yml"))
    if not rules:
        raise StackError(f"no rule files in {bundle / 'prometheus'}: run `fireline generate` with --target "
                         "prometheus or vmalert (the other targets are for Kubernetes and remote rulers)")
    return am, rules


def _serve_config(options: StackOptions, layout: Layout, token_file: Path, capture_url: str) -> Path:
    """fireline.yaml for `fireline serve`: the user's, with the stack's server section; in demo mode its
    receivers notify the capture server too (fireline's own Slack/PagerDuty messages)."""
    data: dict[str, Any] = {"apiVersion": "fireline/v1", "kind": "Config"}
    if options.config is not None:
        loaded = YAML(typ="safe").load(options.config.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            data = loaded
    p = options.ports
    serve_url = f"http://{LOOPBACK}:{p.fireline}"
    # This file lives in the state dir: spec paths become absolute (as seen from where `up` ran).
    specs = [str(Path(s).resolve()) if not any(c in str(s) for c in "*?[") else str(s)
             for s in data.get("specs") or []]
    data["specs"] = specs + [str(s.resolve()) for s in options.specs if str(s.resolve()) not in specs]
    data["server"] = {**dict(data.get("server") or {}), "listen": f"{LOOPBACK}:{p.fireline}",
                      "database": f"sqlite:///{layout.fireline / 'fireline.db'}", "token_file": str(token_file),
                      "external_url": serve_url}
    data["prometheus"] = {**dict(data.get("prometheus") or {}), "url": f"http://{LOOPBACK}:{p.prometheus}"}
    if options.demo:
        for name, receiver in (data.get("receivers") or {}).items():
            if not isinstance(receiver, dict):
                continue
            base = f"{capture_url}/serve/{name}"
            if isinstance(receiver.get("slack"), dict):
                receiver["slack"]["url"] = f"{base}/slack"
            if isinstance(receiver.get("pagerduty"), dict):
                key = _write(layout.secrets / f"serve-{name}.pagerduty-key", f"capture-serve-{name}\n", 0o600)
                receiver["pagerduty"].update({"routing_key_file": str(key), "url": f"{base}/pagerduty/v2/enqueue"})
            if isinstance(receiver.get("webhook"), dict):
                receiver["webhook"].pop("url_file", None)
                receiver["webhook"]["url"] = f"{base}/webhook"
        policy = data.get("policy")
        if isinstance(policy, dict):
            if options.policy_interval:
                policy["interval"] = options.policy_interval
            for name, tracker in (policy.get("trackers") or {}).items():
                if not isinstance(tracker, dict):
                    continue
                # The tracker's API at the capture server, with a token only the capture server sees.
                token = _write(layout.secrets / f"tracker-{name}.token", f"capture-tracker-{name}\n", 0o600)
                tracker.pop("token_env", None)
                tracker.update({"url": f"{capture_url}/serve/tracker-{name}", "token_file": str(token)})
    return _write(layout.fireline / "fireline.yaml",
                  dump_yaml(data, header="Written by `fireline stack up` for `fireline serve`; do not edit."))


def _scrape_configs(options: StackOptions, engine_job: tuple[str, int]) -> list[dict[str, Any]]:
    p = options.ports
    return [
        {"job_name": engine_job[0], "static_configs": [{"targets": [f"{LOOPBACK}:{engine_job[1]}"]}]},
        {"job_name": options.demo_job, "static_configs": [{"targets": [f"{LOOPBACK}:{p.demo_service}"]}]},
        # The demo service stands in for the other examples too, each on its own metrics path.
        *({"job_name": app.job, "metrics_path": app.metrics_path,
           "static_configs": [{"targets": [f"{LOOPBACK}:{p.demo_service}"]}]} for app in (SEARCH, MYSERVICE)),
        {"job_name": "fireline", "static_configs": [{"targets": [f"{LOOPBACK}:{p.fireline}"]}]},
        {"job_name": "alertmanager", "static_configs": [{"targets": [
            f"{LOOPBACK}:{port}" for port in p.alertmanager_ports(options.alertmanager_replicas)]}]},
    ]


def _vmagent_config(options: StackOptions, layout: Layout) -> Path:
    config = {"global": {"scrape_interval": options.scrape_interval},
              "scrape_configs": _scrape_configs(options, ("victoriametrics", options.ports.prometheus))}
    return _write(layout.victoriametrics / "scrape.yml",
                  dump_yaml(config, header="Written by `fireline stack up --engine victoriametrics` for vmagent; "
                                           "do not edit."))


def _victoriametrics_steps(options: StackOptions, layout: Layout,
                           rules: list[Path]) -> list[tuple[str, list[str], str]]:
    """VictoriaMetrics, then vmagent feeding it, then vmalert reading it: each ready before the next starts."""
    p = options.ports
    vm_url, vmalert_url = f"http://{LOOPBACK}:{p.prometheus}", f"http://{LOOPBACK}:{p.vmalert}"
    binaries = {name: find_binary([name], "victoria-metrics") for name in ("victoria-metrics", "vmagent", "vmalert")}
    scrape = _vmagent_config(options, layout)
    return [
        ("victoriametrics", [
            binaries["victoria-metrics"], f"-httpListenAddr={LOOPBACK}:{p.prometheus}",
            f"-storageDataPath={layout.victoriametrics / 'data'}", "-retentionPeriod=2d",
            # /api/v1/rules on the query URL answers from vmalert, as Prometheus' does from its own rules.
            f"-vmalert.proxyURL={vmalert_url}",
            # Points are queryable this long after they land (default 30s): a local bench wants it short.
            "-search.latencyOffset=1s"], f"{vm_url}/health"),
        ("vmagent", [
            binaries["vmagent"], f"-httpListenAddr={LOOPBACK}:{p.vmagent}", f"-promscrape.config={scrape}",
            f"-remoteWrite.url={vm_url}/api/v1/write",
            f"-remoteWrite.tmpDataPath={layout.victoriametrics / 'vmagent-queue'}"],
         f"http://{LOOPBACK}:{p.vmagent}/health"),
        ("vmalert", [
            binaries["vmalert"], f"-httpListenAddr={LOOPBACK}:{p.vmalert}", *[f"-rule={r.resolve()}" for r in rules],
            f"-datasource.url={vm_url}", f"-remoteWrite.url={vm_url}", f"-remoteRead.url={vm_url}",
            *[f"-notifier.url=http://{LOOPBACK}:{port}"
              for port in p.alertmanager_ports(options.alertmanager_replicas)],
            f"-evaluationInterval={options.evaluation_interval}", f"-external.url={vmalert_url}",
            # Prometheus adds no alertgroup label; with it the same alert would be a different alert.
            "-disableAlertgroupLabel", "-remoteWrite.flushInterval=1s"],
         f"{vmalert_url}/health"),
    ]


def _prometheus_config(options: StackOptions, layout: Layout, rules: list[Path]) -> Path:
    p = options.ports
    config = {
        "global": {"scrape_interval": options.scrape_interval, "evaluation_interval": options.evaluation_interval},
        "rule_files": [str(r.resolve()) for r in rules],
        "alerting": {"alertmanagers": [{
            "api_version": "v2",
            # Every replica gets every alert (Alertmanager HA does not replicate alerts, only the
            # notification log and silences); never a load balancer in front of them.
            "static_configs": [{"targets": [f"{LOOPBACK}:{port}"
                                            for port in p.alertmanager_ports(options.alertmanager_replicas)]}],
        }]},
        "scrape_configs": _scrape_configs(options, ("prometheus", p.prometheus)),
    }
    return _write(layout.prometheus / "prometheus.yml",
                  dump_yaml(config, header="Written by `fireline stack up`; do not edit."))


def alertmanager_argv(binary: str, config: Path, layout: Layout, options: StackOptions, replica: int) -> list[str]:
    p, n = options.ports, options.alertmanager_replicas
    port = p.alertmanager_ports(n)[replica]
    argv = [binary, f"--config.file={config}", f"--storage.path={layout.alertmanager / f'data-{replica}'}",
            f"--web.listen-address={LOOPBACK}:{port}", f"--web.external-url=http://{LOOPBACK}:{port}"]
    if n == 1:
        return [*argv, "--cluster.listen-address="]  # empty disables clustering (no stray 9094 listener)
    cluster = p.cluster_ports(n)
    argv += [f"--cluster.listen-address={LOOPBACK}:{cluster[replica]}",
             # Loopback is not advertised automatically; peers must learn this exact address.
             f"--cluster.advertise-address={LOOPBACK}:{cluster[replica]}",
             f"--cluster.peer-timeout={options.peer_timeout}"]
    argv += [f"--cluster.peer={LOOPBACK}:{c}" for i, c in enumerate(cluster) if i != replica]
    return argv


def _fresh(layout: Layout) -> None:
    for path in (layout.prometheus, layout.victoriametrics, layout.alertmanager, layout.fireline, layout.drill,
                 layout.secrets, layout.root / "history"):
        shutil.rmtree(path, ignore_errors=True)
    layout.state_file.unlink(missing_ok=True)


def running(layout: Layout) -> list[PidRecord]:
    return [r for r in layout.processes.records() if layout.processes.alive(r)]


def up(options: StackOptions) -> StackState:
    if options.alertmanager_replicas not in (1, 2):
        raise StackError("--alertmanager-replicas must be 1 or 2")
    if options.engine not in ENGINES:
        raise StackError(f"--engine {options.engine!r}: use one of {', '.join(ENGINES)}")
    layout = Layout(options.state_dir)
    if alive := running(layout):
        raise StackError(f"a stack already runs in {layout.root} ({', '.join(r.name for r in alive)}): "
                         "run `fireline stack down` first")
    bundle = options.bundle.resolve()
    am_file, rules = _bundle_files(bundle)
    prometheus = find_binary(["prometheus"], "prometheus") if options.engine == "prometheus" else ""
    alertmanager = find_binary(["prometheus-alertmanager", "alertmanager"], "prometheus-alertmanager")
    if options.config is not None and not options.config.is_file():
        raise StackError(f"{options.config} not found (--config: the fireline.yaml the bundle was generated with)")
    if options.history is not None:
        if options.engine != "prometheus":
            raise StackError("--history writes Prometheus blocks: it needs --engine prometheus")
        if not options.specs:
            raise StackError("--history needs --specs: the example specs whose story it writes (examples/)")
    _check_ports(options)

    _fresh(layout)
    layout.root.mkdir(parents=True, exist_ok=True)
    _write(layout.root / ".gitignore", "# fireline stack state: processes, logs, data\n*\n")
    layout.secrets.mkdir(parents=True, exist_ok=True)
    layout.secrets.chmod(0o700)
    p = options.ports
    capture_url = f"http://{LOOPBACK}:{p.capture}"
    serve_url = f"http://{LOOPBACK}:{p.fireline}"
    token_file = _write(layout.secrets / "fireline.token", secrets.token_urlsafe(32) + "\n", 0o600)

    derived = derive_stack_config(
        read_yaml(am_file), capture_url=capture_url, secrets_dir=layout.secrets,
        intake_url=f"{serve_url}/api/v1/alerts/alertmanager", token_file=str(token_file), demo=options.demo,
        group_wait=options.group_wait, group_interval=options.group_interval,
        repeat_interval=options.repeat_interval)
    am_config = _write(layout.alertmanager / "alertmanager.yml", to_yaml(derived.data, header=(
        f"Written by `fireline stack up` from {am_file}; do not edit.\n"
        + ("Demo mode: every receiver notifies the capture server.\n" if options.demo else "")
        + "The first route sends drill=\"true\" alerts to capture-only twins (drill-<receiver>).")))
    serve_config = _serve_config(options, layout, token_file, capture_url)
    prom_config = _prometheus_config(options, layout, rules) if options.engine == "prometheus" else None
    history: dict[str, Any] | None = None
    writer: _HistoryWriter | None = None
    if options.history is not None:
        # Written while the other processes start (none of them reads it); Prometheus waits for it.
        writer = _HistoryWriter(options, layout, rules, prometheus)
        writer.start()
        history = writer.summary
    retention_days = writer.module.retention_days(writer.days) if writer is not None else 2

    py = sys.executable
    procs = layout.processes
    am_urls = [f"http://{LOOPBACK}:{port}" for port in p.alertmanager_ports(options.alertmanager_replicas)]
    steps: list[tuple[str, list[str], str]] = [
        ("capture", [py, "-c", _FIRELINE_MAIN, "capture", "--port", str(p.capture)],
         f"{capture_url}/_capture/requests?path=/healthz"),
        ("demo-service", [py, "-c", _FIRELINE_MAIN, "demo-service", "--port", str(p.demo_service),
                          "--rps", f"{options.demo_rps:g}"], f"http://{LOOPBACK}:{p.demo_service}/healthz"),
        ("fireline", [py, "-c", _FIRELINE_MAIN, "serve", "--config", str(serve_config), "--log-level", "warning"],
         f"{serve_url}/healthz"),
    ]
    steps += [(f"alertmanager-{i}", alertmanager_argv(alertmanager, am_config, layout, options, i), f"{url}/-/ready")
              for i, url in enumerate(am_urls)]
    if options.engine == "victoriametrics":
        steps += _victoriametrics_steps(options, layout, rules)
    else:
        steps.append(("prometheus", [
            prometheus, f"--config.file={prom_config}", f"--storage.tsdb.path={layout.prometheus / 'data'}",
            f"--web.listen-address={LOOPBACK}:{p.prometheus}", "--web.enable-lifecycle",
            f"--storage.tsdb.retention.time={retention_days}d"], f"http://{LOOPBACK}:{p.prometheus}/-/ready"))
    # The UI of a local demo stack may be read without logging in (it listens on loopback only);
    # acknowledging or resolving still needs the token in secrets/fireline.token.
    envs = {"fireline": {"FIRELINE_UI_READ": "open", "FIRELINE_STACK_DIR": str(layout.root)} if options.demo
            else {"FIRELINE_STACK_DIR": str(layout.root)}}
    try:
        for name, argv, ready in steps:
            if name == "prometheus" and writer is not None:
                writer.finish()
            record = procs.start(name, argv, env=envs.get(name))
            procs.wait_ready(record, lambda url=ready: http_ok(url), timeout=options.start_timeout)  # type: ignore[misc]
            if name == "fireline" and history is not None:
                # Before Prometheus starts: the policy engine's first measured cycle already leaves
                # the story's maintenance window out.
                history["exclusions_posted"] = _post_exclusions(serve_url, token_file, history["exclusions"])
    except BaseException:
        if writer is not None:
            writer.join()
        down(options.state_dir)
        raise

    state = StackState(
        state_dir=str(layout.root), bundle=str(bundle),
        config=str(options.config.resolve()) if options.config else None,
        demo=options.demo, alertmanager_replicas=options.alertmanager_replicas, ports=asdict(p),
        urls={"prometheus": f"http://{LOOPBACK}:{p.prometheus}", "alertmanager": am_urls, "fireline": serve_url,
              "capture": capture_url, "demo_service": f"http://{LOOPBACK}:{p.demo_service}",
              **({"vmagent": f"http://{LOOPBACK}:{p.vmagent}", "vmalert": f"http://{LOOPBACK}:{p.vmalert}"}
                 if options.engine == "victoriametrics" else {})},
        capture_receivers=derived.captured.to_dict(), token_file=str(token_file), started_at=time.time(),
        timers={"group_wait": options.group_wait, "group_interval": options.group_interval,
                "repeat_interval": options.repeat_interval},
        options={"scrape_interval": options.scrape_interval, "evaluation_interval": options.evaluation_interval,
                 "peer_timeout": options.peer_timeout, "demo_job": options.demo_job, "demo_rps": options.demo_rps,
                 "engine": options.engine},
        history=history,
    )
    _write(layout.state_file, json.dumps(asdict(state), indent=2) + "\n")
    return state


class _HistoryWriter(threading.Thread):
    """--history: the story (synthesised at once: its exclusions are posted when fireline serve is up),
    then its blocks written into Prometheus' data directory in the background."""

    def __init__(self, options: StackOptions, layout: Layout, rules: list[Path], prometheus: str) -> None:
        super().__init__(name="stack-history", daemon=True)
        from fireline.stack import history  # numpy: only for --history

        assert options.history is not None
        self.module = history
        self.days = options.history.seconds / 86400
        started = time.monotonic()
        self.story = history.story_until_now(options.specs, days=self.days, rps=options.demo_rps,
                                             instance=f"{LOOPBACK}:{options.ports.demo_service}")
        self.kwargs: dict[str, Any] = {
            "specs": options.specs, "rule_files": rules, "data_dir": layout.prometheus / "data",
            "work": layout.root / "history",
            "days": self.days, "evaluation_interval": options.evaluation_interval, "prometheus": prometheus,
            "promtool": find_binary(["promtool"], "prometheus")}
        h = self.story
        self.summary: dict[str, Any] = {
            "span": str(options.history), "start": h.start, "end": h.end, "samples": h.samples,
            "budgets": {f"{service}/{slo}": remaining for (service, slo), remaining in sorted(h.budgets.items())},
            "exclusions": h.exclusions, "seconds": {"synthesise": round(time.monotonic() - started, 1)}}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            written = self.module.write_history(self.story, **self.kwargs)
            self.summary["blocks"] = written.blocks
            self.summary["seconds"].update({k: round(v, 1) for k, v in written.seconds.items()})
        except BaseException as exc:  # handed to the thread that starts Prometheus
            self.error = exc

    def finish(self) -> None:
        started = time.monotonic()
        self.join()
        self.summary["seconds"]["waited for"] = round(time.monotonic() - started, 1)
        if self.error is not None:
            raise self.error


def _post_exclusions(serve_url: str, token_file: Path, exclusions: list[dict[str, str]]) -> list[str]:
    """The story's exclusions, through the API a user would call; [] when the policy engine is off."""
    token = token_file.read_text(encoding="utf-8").strip()
    posted = []
    with httpx.Client(base_url=serve_url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0) as client:
        for exclusion in exclusions:
            response = client.post("/api/v1/budget/exclusions", json=exclusion)
            if response.status_code == 404:
                return []  # no `policy:` in fireline.yaml: nothing to exclude from
            if response.status_code >= 300:
                raise StackError(f"fireline serve refused the history's exclusion {exclusion}: "
                                 f"HTTP {response.status_code} {response.text[:300]}")
            posted.append(f"{exclusion['service']}/{exclusion['slo']} {exclusion['start']}..{exclusion['end']}")
    return posted


def restart_alertmanager(state_dir: Path, replica: int, timeout: float = 60.0) -> None:
    """Start a replica again with the argv it had (after the HA drill killed it)."""
    layout = Layout(state_dir)
    name = f"alertmanager-{replica}"
    record = layout.processes.record(name)
    if record is None:
        raise StackError(f"no pid file for {name} in {layout.processes.run_dir}")
    if layout.processes.alive(record):
        return
    url = layout.load_state().alertmanager_urls[replica]
    started = layout.processes.start(name, record.argv)
    layout.processes.wait_ready(started, lambda: http_ok(f"{url}/-/ready"), timeout=timeout)


def down(state_dir: Path, timeout: float = 10.0) -> list[tuple[str, str]]:
    """Stop every process that has a pid file (works without stack.json, e.g. after a crash)."""
    layout = Layout(state_dir)
    names = [r.name for r in layout.processes.records()]
    # The rule evaluator first (Prometheus, or vmalert), so it does not fire alerts at an Alertmanager
    # that is going away.
    ordered = [n for n in reversed(PROCESS_ORDER) if n in names] + sorted(set(names) - set(PROCESS_ORDER))
    return [(name, layout.processes.stop(name, timeout)) for name in ordered]


@dataclass
class ProcessStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool | None
    url: str | None
    log: str | None


def _health_urls(state: StackState) -> dict[str, str]:
    urls: dict[str, str] = {
        "capture": f"{state.urls['capture']}/_capture/requests?path=/healthz",
        "demo-service": f"{state.urls['demo_service']}/healthz",
        "fireline": f"{state.urls['fireline']}/healthz",
    }
    if "vmalert" in state.urls:
        urls.update({"victoriametrics": f"{state.urls['prometheus']}/health",
                     "vmagent": f"{state.urls['vmagent']}/health", "vmalert": f"{state.urls['vmalert']}/health"})
    else:
        urls["prometheus"] = f"{state.urls['prometheus']}/-/ready"
    for i, url in enumerate(state.alertmanager_urls):
        urls[f"alertmanager-{i}"] = f"{url}/-/ready"
    return urls


def status(state_dir: Path) -> tuple[StackState | None, list[ProcessStatus]]:
    layout = Layout(state_dir)
    try:
        state: StackState | None = layout.load_state()
    except StackError:
        state = None
    health = _health_urls(state) if state else {}
    names = [n for n in PROCESS_ORDER if n in health or layout.processes.record(n) is not None]
    out: list[ProcessStatus] = []
    for name in names:
        record = layout.processes.record(name)
        alive = record is not None and layout.processes.alive(record)
        healthy: bool | None = None
        url = health.get(name)
        if alive and url:
            try:
                healthy = http_ok(url)
            except httpx.HTTPError:
                healthy = False
        out.append(ProcessStatus(name, record.pid if record else None, alive, healthy, url,
                                 record.log if record else None))
    return state, out
