"""The Alertmanager config the stack runs, derived from the bundle's, and the drill's safety route.

Demo mode points every receiver at the local capture server: Slack `api_url_file` and PagerDuty
`routing_key_file` become files under the state dir (the Slack file holds a capture URL, the
PagerDuty key is a dummy and the events go to the capture server through the `url` field), other
integrations become webhooks to it. Each receiver gets its own capture path,
`/<prefix>/<receiver>/<integration>`, so what arrived there tells which receiver Alertmanager
notified. The fireline webhook goes to the stack's `fireline serve` with its bearer token file.

The drill route is a copy of the whole routing tree under a first child route `drill="true"`,
whose receivers are capture-only twins (`drill-<receiver>`) of the originals. Drill alerts follow
exactly the tree the real alerts follow (same matchers, order, `continue`, timers), so the drill
tests the real routing, yet nothing a drill sends leaves the machine.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML

from fireline.routing.tree import AlertmanagerConfig, receivers_for
from fireline.stack.process import StackError
from fireline.yamlout import dump_yaml

DRILL_LABEL = "drill"
DRILL_PREFIX = "drill-"
INTAKE_PATH = "/api/v1/alerts/alertmanager"
_DEFAULT_SEND_RESOLVED = {"email": False, "slack": False, "opsgenie": True, "victorops": True, "pushover": True,
                          "wechat": False, "sns": True, "telegram": True, "discord": True, "webex": True}


@dataclass
class CaptureMap:
    """Receiver name -> the capture paths its integrations were pointed at, with the integration kind."""

    paths: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, receiver: str, kind: str, path: str) -> None:
        self.paths.setdefault(receiver, []).append((kind, path))

    def receivers(self) -> set[str]:
        return set(self.paths)

    def to_dict(self) -> dict[str, list[dict[str, str]]]:
        return {name: [{"kind": k, "path": p} for k, p in items] for name, items in self.paths.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaptureMap:
        return cls({str(n): [(str(i["kind"]), str(i["path"])) for i in items] for n, items in data.items()})


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StackError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not isinstance(data, dict) or "route" not in data:
        raise StackError(f"{path} is not an Alertmanager config (no route:)")
    return data


def to_yaml(data: Mapping[str, Any], header: str) -> str:
    return dump_yaml(dict(data), header=header)


def is_intake_url(url: str) -> bool:
    return urlsplit(url).path.rstrip("/") == INTAKE_PATH


def _write_secret(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def _file_name(receiver: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in receiver)


def capture_receiver(receiver: dict[str, Any], *, capture_url: str, prefix: str, secrets_dir: Path,
                     captured: CaptureMap, intake_url: str | None = None,
                     token_file: str | None = None) -> dict[str, Any]:
    """A copy of the receiver whose every integration notifies the capture server (see module doc)."""
    name = str(receiver["name"])
    out: dict[str, Any] = {"name": name}
    base = f"{capture_url.rstrip('/')}/{prefix}/{name}"
    webhooks: list[dict[str, Any]] = []
    for key, value in receiver.items():
        if key == "name" or not key.endswith("_configs") or not isinstance(value, list):
            continue
        kind = key.removesuffix("_configs")
        for i, item in enumerate(value):
            config = dict(item or {})
            suffix = "" if i == 0 else f"-{i}"
            if kind == "slack":
                for secret in ("api_url", "api_url_file"):
                    config.pop(secret, None)
                path = f"/{prefix}/{name}/slack{suffix}"
                config["api_url_file"] = _write_secret(
                    secrets_dir / f"{prefix}-{_file_name(name)}{suffix}.slack-url", base + f"/slack{suffix}")
                out.setdefault("slack_configs", []).append(config)
                captured.add(name, "slack", path)
            elif kind == "pagerduty":
                for secret in ("routing_key", "routing_key_file", "service_key", "service_key_file"):
                    config.pop(secret, None)
                path = f"/{prefix}/{name}/pagerduty{suffix}/v2/enqueue"
                # A dummy integration key: the capture server accepts any; a real one must never be here.
                config["routing_key_file"] = _write_secret(
                    secrets_dir / f"{prefix}-{_file_name(name)}{suffix}.pagerduty-key", f"capture-{prefix}-{name}")
                config["url"] = capture_url.rstrip("/") + path
                out.setdefault("pagerduty_configs", []).append(config)
                captured.add(name, "pagerduty", path)
            elif kind == "webhook" and intake_url and is_intake_url(str(config.get("url", ""))):
                config.pop("url_file", None)
                config["url"] = intake_url
                if token_file:
                    config["http_config"] = {**dict(config.get("http_config") or {}),
                                             "authorization": {"type": "Bearer", "credentials_file": token_file}}
                out.setdefault("webhook_configs", []).append(config)
            else:
                path = f"/{prefix}/{name}/{kind}{suffix}"
                send_resolved = config.get("send_resolved", _DEFAULT_SEND_RESOLVED.get(kind, True))
                hook: dict[str, Any] = {"send_resolved": bool(send_resolved), "url": capture_url.rstrip("/") + path}
                if kind == "webhook" and "max_alerts" in config:
                    hook["max_alerts"] = config["max_alerts"]
                webhooks.append(hook)
                captured.add(name, "webhook", path)
    if webhooks:
        out.setdefault("webhook_configs", []).extend(webhooks)
    return out


def _routes(route: dict[str, Any]) -> list[dict[str, Any]]:
    routes = route.get("routes") or []
    return [r for r in routes if isinstance(r, dict)]


def set_timers(data: dict[str, Any], *, group_wait: str | None, group_interval: str | None,
               repeat_interval: str | None) -> None:
    """Demo timings: set on the root and replace them wherever a route declares its own."""
    wanted = {"group_wait": group_wait, "group_interval": group_interval, "repeat_interval": repeat_interval}

    def visit(route: dict[str, Any], root: bool) -> None:
        for key, value in wanted.items():
            if value is not None and (root or key in route):
                route[key] = value
        for child in _routes(route):
            visit(child, False)

    visit(data["route"], True)


def _rename_receivers(route: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(route)

    def visit(node: dict[str, Any]) -> None:
        if node.get("receiver"):
            node["receiver"] = DRILL_PREFIX + str(node["receiver"])
        for child in _routes(node):
            visit(child)

    visit(out)
    return out


def add_drill_route(data: dict[str, Any], *, capture_url: str, secrets_dir: Path, captured: CaptureMap) -> None:
    """Insert the drill route (see module doc) and the capture-only twins of every receiver."""
    receivers = [r for r in data.get("receivers") or [] if isinstance(r, dict)]
    names = {str(r["name"]) for r in receivers}
    twins = {DRILL_PREFIX + n for n in names}
    if clash := sorted(names & twins):
        raise StackError(f"receiver name(s) {', '.join(clash)} clash with the drill's twin receivers "
                         f"({DRILL_PREFIX}<receiver>); rename them")
    root = data["route"]
    inherited = _rename_receivers({k: v for k, v in root.items() if k != "routes"})
    drill_route: dict[str, Any] = {"receiver": inherited.pop("receiver"), "matchers": [f'{DRILL_LABEL}="true"'],
                                   "continue": False, **inherited}
    if children := [_rename_receivers(r) for r in _routes(root)]:
        drill_route["routes"] = children
    root["routes"] = [drill_route, *_routes(root)]
    for receiver in receivers:
        twin = copy.deepcopy(receiver)
        twin["name"] = DRILL_PREFIX + str(receiver["name"])
        data["receivers"].append(capture_receiver(twin, capture_url=capture_url, prefix="drill",
                                                  secrets_dir=secrets_dir, captured=captured))
    # Drill alerts and real alerts must not mute each other: `drill` is "" on real alerts.
    for rule in data.get("inhibit_rules") or []:
        if isinstance(rule, dict) and DRILL_LABEL not in (rule.get("equal") or []):
            rule["equal"] = [*(rule.get("equal") or []), DRILL_LABEL]


@dataclass
class DerivedConfig:
    data: dict[str, Any]
    captured: CaptureMap


def derive_stack_config(bundle_config: dict[str, Any], *, capture_url: str, secrets_dir: Path, intake_url: str,
                        token_file: str, demo: bool, group_wait: str | None, group_interval: str | None,
                        repeat_interval: str | None) -> DerivedConfig:
    """The config `fireline stack up` runs: demo receivers (when demo), demo timers, the drill route."""
    data = copy.deepcopy(bundle_config)
    captured = CaptureMap()
    if demo:
        data["receivers"] = [
            capture_receiver(dict(r), capture_url=capture_url, prefix="r", secrets_dir=secrets_dir,
                             captured=captured, intake_url=intake_url, token_file=token_file)
            for r in data.get("receivers") or [] if isinstance(r, dict)
        ]
    else:
        # Live receivers stay as they are, but the fireline webhook is this stack's fireline serve.
        for receiver in data.get("receivers") or []:
            for hook in receiver.get("webhook_configs") or [] if isinstance(receiver, dict) else []:
                if isinstance(hook, dict) and is_intake_url(str(hook.get("url", ""))):
                    hook["url"] = intake_url
                    hook["http_config"] = {**dict(hook.get("http_config") or {}),
                                           "authorization": {"type": "Bearer", "credentials_file": token_file}}
    set_timers(data, group_wait=group_wait, group_interval=group_interval, repeat_interval=repeat_interval)
    add_drill_route(data, capture_url=capture_url, secrets_dir=secrets_dir, captured=captured)
    return DerivedConfig(data, captured)


def loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def unsafe_receivers(config: AlertmanagerConfig, alerts: Iterable[Mapping[str, str]],
                     capture_only: set[str]) -> dict[str, str]:
    """Receivers these alerts reach that could notify someone real -> why.

    Safe receivers are the ones the stack pointed at its capture server (capture_only) and those
    whose every integration is a webhook to a loopback address.
    """
    raw = {str(r.get("name")): r for r in config.data.get("receivers") or [] if isinstance(r, Mapping)}
    unsafe: dict[str, str] = {}
    for labels in alerts:
        for name in receivers_for(config, labels):
            if name in capture_only or name in unsafe:
                continue
            receiver = raw.get(name, {})
            kinds = [k for k in receiver if str(k).endswith("_configs") and receiver[k]]
            if not kinds:
                continue  # a receiver with no integration notifies nobody
            for kind in kinds:
                if kind != "webhook_configs":
                    unsafe[name] = f"has {kind.removesuffix('_configs')} integrations"
                    break
                urls = [str(c.get("url", "")) for c in receiver[kind] if isinstance(c, Mapping)]
                if not all(loopback_url(u) for u in urls):
                    unsafe[name] = "has a webhook to a non-loopback address (or a hidden url)"
                    break
    return unsafe
