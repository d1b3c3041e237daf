"""Finding the files to lint, telling their kind apart, and reading them with source lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from fireline.routing.tree import AlertmanagerConfig, ConfigError, config_from_data, line_of
from fireline.spec.errors import display_path

YAML_SUFFIXES = (".yml", ".yaml")


class UsageError(Exception):
    """A problem with what lint was asked to read (missing path, unreadable file, invalid YAML)."""


class FileKind(StrEnum):
    RULES = "rules"  # a Prometheus rule file: groups:
    PROMETHEUS_RULE = "prometheusrule"  # a Kubernetes PrometheusRule (or VMRule) manifest: spec.groups
    ALERTMANAGER = "alertmanager"
    OTHER = "other"


@dataclass
class Rule:
    """One recording or alerting rule. `lines` maps expr, for, labels.X, annotations.X to lines."""

    group: str
    index: int  # 1-based position in its group, as promtool numbers rules
    line: int
    alert: str | None
    record: str | None
    expr: str
    for_: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    @property
    def name(self) -> str:
        return self.alert or self.record or "?"

    @cached_property
    def ast(self) -> Any:
        """The parsed expression, or None when it does not parse (rules/promtool reports that)."""
        from fireline.lint.promql import parse

        return parse(self.expr)

    @property
    def is_paging(self) -> bool:
        """Pages a human: severity critical/page/pager, or fireline's routing label."""
        severity = self.labels.get("severity", "").strip().lower()
        return severity in {"critical", "page", "pager"} or self.labels.get("fireline_severity") == "page"


@dataclass
class RuleFile:
    path: Path
    name: str  # as shown in findings
    kind: FileKind
    rules: list[Rule]
    groups: dict[str, int]  # group name -> line
    spec_line: int = 0  # PrometheusRule: line of spec:


@dataclass
class AlertmanagerFile:
    path: Path
    name: str
    data: CommentedMap
    config: AlertmanagerConfig | None  # None when the route tree cannot be read
    config_error: ConfigError | None = None


# Never configuration of the user's own: virtualenvs, dependencies, VCS and tool state.
SKIPPED_DIRS = frozenset({"node_modules", "site-packages", "__pycache__", "venv"})


def _searched(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts[:-1]
    return not any(part.startswith(".") or part in SKIPPED_DIRS for part in parts)


def collect_paths(paths: list[Path]) -> list[tuple[Path, bool]]:
    """Files to lint, each with whether the user named it (a named file of no known kind is reported)."""
    out: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                (p, False)
                for p in sorted(path.rglob("*"))
                if p.suffix in YAML_SUFFIXES and p.is_file() and _searched(p, path)
            )
        elif path.is_file():
            out.append((path, True))
        else:
            raise UsageError(f"{path}: no such file or directory")
    return out


def load_documents(path: Path, name: str) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    yaml = YAML(typ="rt")
    try:
        return [doc for doc in yaml.load_all(text) if doc is not None]
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{where}: not valid YAML: {problem}") from exc


# VictoriaMetrics' VMRule has PrometheusRule's spec.groups shape.
MANIFEST_KINDS = ("PrometheusRule", "VMRule")


def kind_of(doc: Any) -> FileKind:
    if not isinstance(doc, CommentedMap):
        return FileKind.OTHER
    if doc.get("kind") in MANIFEST_KINDS:
        return FileKind.PROMETHEUS_RULE
    if "groups" in doc and isinstance(doc.get("groups"), list):
        return FileKind.RULES
    # fireline.yaml and other specs also have receivers:, but they always carry apiVersion/kind.
    if ("route" in doc or "receivers" in doc) and "apiVersion" not in doc and "kind" not in doc:
        return FileKind.ALERTMANAGER
    return FileKind.OTHER


def load(paths: list[Path]) -> tuple[list[RuleFile], list[AlertmanagerFile], list[str]]:
    """Read every file; returns rule files, Alertmanager files and notes about skipped named files."""
    rule_files: list[RuleFile] = []
    am_files: list[AlertmanagerFile] = []
    notes: list[str] = []
    for path, named in collect_paths(paths):
        name = display_path(path)
        try:
            docs = load_documents(path, name)
        except UsageError as exc:
            # Helm and other templates under a searched folder are not YAML until rendered.
            if named or "{{" not in path.read_text(encoding="utf-8", errors="replace"):
                raise
            notes.append(f"{exc}: skipped (a template?)")
            continue
        kinds = [kind_of(doc) for doc in docs]
        for doc, kind in zip(docs, kinds, strict=True):
            if kind is FileKind.RULES:
                rule_files.append(read_rule_file(path, name, doc["groups"], FileKind.RULES, 0))
            elif kind is FileKind.PROMETHEUS_RULE:
                spec = doc.get("spec")
                groups = spec.get("groups") if isinstance(spec, CommentedMap) else None
                if isinstance(groups, CommentedSeq):
                    rule_files.append(
                        read_rule_file(path, name, groups, FileKind.PROMETHEUS_RULE, line_of(doc, "spec"))
                    )
            elif kind is FileKind.ALERTMANAGER:
                am_files.append(read_alertmanager_file(path, name, doc))
        if named and all(kind is FileKind.OTHER for kind in kinds):
            notes.append(f"{name}: skipped: not a Prometheus rule file, PrometheusRule or Alertmanager config")
    return rule_files, am_files, notes


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def read_rule_file(path: Path, name: str, groups: Any, kind: FileKind, spec_line: int) -> RuleFile:
    rules: list[Rule] = []
    group_lines: dict[str, int] = {}
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, CommentedMap):
            continue
        group_name = _text(group.get("name"))
        group_lines[group_name] = line_of(group)
        items = group.get("rules")
        if not isinstance(items, CommentedSeq):
            continue
        for index, item in enumerate(items, start=1):
            if isinstance(item, CommentedMap):
                rules.append(read_rule(group_name, index, item))
    return RuleFile(path=path, name=name, kind=kind, rules=rules, groups=group_lines, spec_line=spec_line)


def read_rule(group: str, index: int, item: CommentedMap) -> Rule:
    lines = {str(key): line_of(item, key) for key in item}
    mappings: dict[str, dict[str, str]] = {"labels": {}, "annotations": {}}
    for section, values in mappings.items():
        raw = item.get(section)
        if isinstance(raw, CommentedMap):
            for key, value in raw.items():
                values[str(key)] = _text(value)
                lines[f"{section}.{key}"] = line_of(raw, key)
    for_ = item.get("for")
    return Rule(
        group=group,
        index=index,
        line=line_of(item),
        alert=_text(item["alert"]) if item.get("alert") is not None else None,
        record=_text(item["record"]) if item.get("record") is not None else None,
        expr=_text(item.get("expr")),
        for_=_text(for_) if for_ is not None else None,
        labels=mappings["labels"],
        annotations=mappings["annotations"],
        lines=lines,
    )


def read_alertmanager_file(path: Path, name: str, doc: CommentedMap) -> AlertmanagerFile:
    try:
        config: AlertmanagerConfig | None = config_from_data(doc, name)
        error = None
    except ConfigError as exc:
        config, error = None, exc
    return AlertmanagerFile(path=path, name=name, data=doc, config=config, config_error=error)
