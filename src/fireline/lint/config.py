""".fireline-lint.yaml: a project's lint settings (disabled checks, severities, paths, requirements).

Read with the same fast YAML path as rule files, and checked by hand rather than with pydantic:
`fireline lint` must start in a fraction of a second, and every error names the file and line.

    disabled: [rules/missing-summary]        # check ids never run
    severity: {rules/missing-runbook: error} # a check's findings at another severity
    paths: [prometheus/, alertmanager.yml]   # what to lint when no path is given
    exclude: ["vendor/**"]                   # glob patterns (relative paths) never linted
    slo_period: 30d
    evaluation_interval: 1m                  # Prometheus' global one, for groups without interval:
    routing_labels: [team, service]          # labels Alertmanager routes on
    required_labels: {severity: "critical|warning"}   # on alerting rules; value: a regex ("" any)
    required_annotations: {summary: "", runbook_url: "https://.+"}
    alertmanager: {version: "0.28"}          # as in fireline.yaml: what amtool's verdicts are compared with
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fireline.lint.files import UsageError, compose_documents, line, pairs, read_text, scalar
from fireline.lint.model import Severity
from fireline.slo.durations import Duration, DurationError

CONFIG_NAME = ".fireline-lint.yaml"
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")
KEYS = (
    "disabled",
    "severity",
    "paths",
    "exclude",
    "slo_period",
    "evaluation_interval",
    "routing_labels",
    "required_labels",
    "required_annotations",
    "alertmanager",
)


def parse_version(text: str) -> tuple[int, ...] | None:
    found = _VERSION_RE.match(text.strip())
    if found is None:
        return None
    return tuple(int(part) for part in found.groups() if part is not None)


@dataclass
class LintConfig:
    path: Path | None = None  # None: no config file, every default
    disabled: set[str] = field(default_factory=set)
    severity: dict[str, Severity] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    slo_period: Duration | None = None
    evaluation_interval: Duration = field(default_factory=lambda: Duration.parse("1m"))
    routing_labels: list[str] | None = None  # None: the labels linted Alertmanager configs route on
    required_labels: dict[str, re.Pattern[str]] = field(default_factory=dict)
    required_annotations: dict[str, re.Pattern[str]] = field(default_factory=dict)
    alertmanager_version: str | None = None

    def excluded(self, path: Path) -> bool:
        base = self.path.parent if self.path is not None else Path.cwd()
        try:
            relative = path.resolve().relative_to(base.resolve())
        except ValueError:
            relative = path
        return any(relative.match(pattern) or str(relative).startswith(pattern.rstrip("*/") + "/")
                   for pattern in self.exclude if pattern)


class _Reader:
    def __init__(self, path: Path, name: str, check_ids: tuple[str, ...]) -> None:
        self.path, self.name, self.check_ids = path, name, check_ids

    def fail(self, node: yaml.Node, message: str) -> UsageError:
        return UsageError(f"{self.name}:{line(node)}: {message}")

    def text(self, node: yaml.Node, what: str) -> str:
        value = scalar(node)
        if value is None:
            raise self.fail(node, f"{what} must be a string")
        return value

    def texts(self, node: yaml.Node, what: str) -> list[tuple[yaml.Node, str]]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return [(item, self.text(item, f"each entry of {what}")) for item in node.value]

    def check_id(self, node: yaml.Node, value: str, what: str) -> str:
        if value not in self.check_ids:
            raise self.fail(node, f"{what}: unknown check id {value!r} (ids are listed in docs/checks.md)")
        return value

    def duration(self, node: yaml.Node, what: str) -> Duration:
        try:
            value = Duration.parse(self.text(node, what))
        except DurationError as exc:
            raise self.fail(node, f"{what}: {exc}") from None
        if value.milliseconds == 0:
            raise self.fail(node, f"{what} must be longer than 0s")
        return value

    def patterns(self, node: yaml.Node, what: str) -> dict[str, re.Pattern[str]]:
        out: dict[str, re.Pattern[str]] = {}
        for key, (_, value) in pairs(node, self.name).items():
            pattern = scalar(value) or ""
            try:
                out[key] = re.compile(pattern or ".*")
            except re.error as exc:
                raise self.fail(value, f"{what}.{key}: {pattern!r} is not a regular expression ({exc})") from None
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of name to regular expression")
        return out

    def config(self, doc: yaml.Node) -> LintConfig:
        if not isinstance(doc, yaml.MappingNode):
            raise self.fail(doc, "must be a mapping of settings")
        out = LintConfig(path=self.path)
        for key, (key_node, value) in pairs(doc, self.name).items():
            if key not in KEYS:
                raise self.fail(key_node, f"unknown setting {key!r} (known: {', '.join(KEYS)})")
            self._setting(out, key, value)
        return out

    def _setting(self, out: LintConfig, key: str, value: yaml.Node) -> None:
        if key == "disabled":
            out.disabled = {self.check_id(node, text, "disabled") for node, text in self.texts(value, key)}
        elif key == "severity":
            for check, (check_node, level) in pairs(value, self.name).items():
                self.check_id(check_node, check, "severity")
                text = self.text(level, f"severity.{check}")
                if text not in {s.value for s in Severity}:
                    raise self.fail(level, f"severity.{check}: {text!r} is not error, warning or info")
                out.severity[check] = Severity(text)
        elif key == "paths":
            base = self.path.parent
            out.paths = [base / text for _, text in self.texts(value, key)]
        elif key == "exclude":
            out.exclude = [text for _, text in self.texts(value, key)]
        elif key == "slo_period":
            out.slo_period = self.duration(value, key)
        elif key == "evaluation_interval":
            out.evaluation_interval = self.duration(value, key)
        elif key == "routing_labels":
            out.routing_labels = [text for _, text in self.texts(value, key)]
        elif key == "required_labels":
            out.required_labels = self.patterns(value, key)
        elif key == "required_annotations":
            out.required_annotations = self.patterns(value, key)
        elif key == "alertmanager":
            version = pairs(value, self.name).get("version")
            if version is None:
                raise self.fail(value, "alertmanager needs version, e.g. {version: \"0.28\"}")
            text = self.text(version[1], "alertmanager.version")
            if parse_version(text) is None:
                raise self.fail(version[1], f"alertmanager.version {text!r} is not a version such as \"0.28\"")
            out.alertmanager_version = text


def load_config(path: Path, check_ids: tuple[str, ...]) -> LintConfig:
    name = str(path)
    docs = compose_documents(read_text(path, name), name)
    if not docs:
        return LintConfig(path=path)
    if len(docs) > 1:
        raise UsageError(f"{name}:{line(docs[1])}: one document expected")
    return _Reader(path, name, check_ids).config(docs[0])


def find_config(explicit: Path | None, check_ids: tuple[str, ...], cwd: Path | None = None) -> LintConfig:
    """The config given with --config, else .fireline-lint.yaml in the working directory, else defaults."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"{explicit}: no such config file")
        return load_config(explicit, check_ids)
    candidate = (cwd or Path.cwd()) / CONFIG_NAME
    return load_config(candidate, check_ids) if candidate.is_file() else LintConfig()
