"""Finding the files to lint, telling their kind apart, and reading them with source lines.

ruamel.yaml and the route tree load only for Alertmanager configs (and in rules/promtool for
PrometheusRule manifests): a run over plain rule files never imports them.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fireline.spec.errors import display_path
from fireline.targets import ENGINE_ONLY_GROUP_KEYS

if TYPE_CHECKING:
    from ruamel.yaml.comments import CommentedMap

    from fireline.routing.tree import AlertmanagerConfig, ConfigError

YAML_SUFFIXES = (".yml", ".yaml")
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


class _PlainResolver:
    """Tags only what the checks need (null, merge keys); every other scalar stays text as written.

    Prometheus reads rule fields as strings too, so `value: 1.0` stays "1.0", not a float.
    """

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0] and value in _NULLS:
                return _NULL_TAG
            if implicit[0] and value == "<<":
                return _MERGE_TAG
            return _STR_TAG
        return "tag:yaml.org,2002:seq" if kind is yaml.SequenceNode else "tag:yaml.org,2002:map"


# libyaml's parser and composer when PyYAML was built with it, else the pure-Python ones.
_CParser: Any = getattr(getattr(yaml, "cyaml", None), "CParser", None)
if _CParser is not None:

    class _Loader(_CParser, _PlainResolver):  # type: ignore[misc]
        pass

else:

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _PlainResolver
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Composing builds ~15 objects per rule and holds no cycles; the cyclic collector's passes over
    them cost more than the parse itself (1 s of 1.3 s on a 10,000-rule file)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    end_line: int = 0  # last line of the rule's text

    @property
    def last_line(self) -> int:
        return max(self.end_line, self.line)

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

    # Read once per rule: a dozen checks look at the same selectors and nodes.
    @cached_property
    def selectors(self) -> list[Any]:
        """fireline.lint.promql.selectors of the expression."""
        from fireline.lint.promql import selectors

        return selectors(self.ast)

    @cached_property
    def nodes(self) -> list[Any]:
        """fireline.lint.promql.walk of the expression: every node, parents first."""
        from fireline.lint.promql import walk

        return walk(self.ast) if self.ast is not None else []

    @cached_property
    def canonical_expr(self) -> str:
        """The expression as the parser prints it (formatting differences gone), else as written."""
        return str(self.ast) if self.ast is not None else self.expr.strip()

    @property
    def is_paging(self) -> bool:
        """Pages a human: severity critical/page/pager, or fireline's or Sloth's routing label."""
        severity = self.labels.get("severity", "").strip().lower()
        if severity in {"critical", "page", "pager"} or self.labels.get("fireline_severity") == "page":
            return True
        return self.labels.get("sloth_severity", "").strip().lower() == "page"  # Sloth: page | ticket


@dataclass
class SourceText:
    """A file's text as read, for the checks and comments that look at lines."""

    text: str

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()


@dataclass
class RuleFile:
    path: Path
    name: str  # as shown in findings
    kind: FileKind
    rules: list[Rule]
    groups: dict[str, int]  # group name -> line
    spec_line: int = 0  # PrometheusRule: line of spec:
    group_intervals: dict[str, str] = field(default_factory=dict)  # groups with their own interval:
    source: SourceText = field(default_factory=lambda: SourceText(""))
    # A Mimir/Cortex namespace file (namespace: beside groups:) or Thanos groups (partial_response_strategy):
    # promtool sees its groups without those keys. None: not known from loading (rules/promtool reads the file).
    ruler_keys: bool | None = None


@dataclass
class AlertmanagerFile:
    path: Path
    name: str
    data: CommentedMap
    config: AlertmanagerConfig | None  # None when the route tree cannot be read
    config_error: ConfigError | None = None
    source: SourceText = field(default_factory=lambda: SourceText(""))


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


def read_text(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc


def _yaml_error(exc: Exception, name: str) -> UsageError:
    mark = getattr(exc, "problem_mark", None)
    where = f"{name}:{mark.line + 1}" if mark is not None else name
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return UsageError(f"{where}: not valid YAML: {problem}")


def load_documents(path: Path, name: str, text: str | None = None) -> list[Any]:
    """Every document of a file through ruamel's round-trip loader (comments and lines kept)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    text = read_text(path, name) if text is None else text
    yaml = YAML(typ="rt")
    try:
        return [doc for doc in yaml.load_all(text) if doc is not None]
    except YAMLError as exc:
        raise _yaml_error(exc, name) from exc


def compose_documents(text: str, name: str) -> list[yaml.Node]:
    """Every document as a node tree with line marks, through libyaml when installed.

    Rule files can hold ten thousand rules; composing is what libyaml does fast, and the
    checks need only strings and lines, so scalars are read as written (as Prometheus does).
    """
    loader = _Loader(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None and not _is_null(node):
                nodes.append(node)
        return nodes
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, name) from exc
    finally:
        loader.dispose()


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def end_line(node: yaml.Node) -> int:
    """The last line of the node's text: where its last scalar ends.

    A block collection's own end mark is where the next token starts (often the next rule's line).
    """
    last = node
    while isinstance(last, yaml.MappingNode | yaml.SequenceNode) and last.value:
        last = last.value[-1][1] if isinstance(last, yaml.MappingNode) else last.value[-1]
    mark = last.end_mark
    return max(int(mark.line) + (1 if mark.column > 0 else 0), line(node))


def pairs(node: yaml.Node | None, name: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping's entries by key, with `<<` merges applied; a repeated key is invalid YAML."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        if key.tag == _MERGE_TAG:
            merged = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in merged:
                for inherited, entry in pairs(source, name).items():
                    out.setdefault(inherited, entry)
            continue
        text = str(key.value) if isinstance(key, yaml.ScalarNode) else ""
        if text in out and out[text][0] is not key:
            raise UsageError(f"{name}:{line(key)}: not valid YAML: found duplicate key {text!r}")
        out[text] = (key, value)
    return out


def scalar(node: yaml.Node | None) -> str | None:
    """A scalar as written (null is None); collections are not text."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
        return None
    return str(node.value)


def _is_ruamel_map(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    from ruamel.yaml.comments import CommentedMap

    return isinstance(doc, CommentedMap)


# VictoriaMetrics' VMRule has PrometheusRule's spec.groups shape.
MANIFEST_KINDS = ("PrometheusRule", "VMRule")


def kind_of(doc: Any) -> FileKind:
    """What a document is: a ruamel map, or a node tree from compose_documents."""
    if isinstance(doc, yaml.Node):
        entries = pairs(doc, "") if isinstance(doc, yaml.MappingNode) else None
        if entries is None:
            return FileKind.OTHER
        get: Any = lambda key: entries[key][1] if key in entries else None  # noqa: E731
        keys: Any = entries
        kind = scalar(get("kind"))
        groups_are_list = isinstance(get("groups"), yaml.SequenceNode)
    elif _is_ruamel_map(doc):
        keys, kind = doc, doc.get("kind")
        groups_are_list = isinstance(doc.get("groups"), list)
    else:
        return FileKind.OTHER
    if kind in MANIFEST_KINDS:
        return FileKind.PROMETHEUS_RULE
    if "groups" in keys and groups_are_list:
        return FileKind.RULES
    # fireline.yaml and other specs also have receivers:, but they always carry apiVersion/kind.
    if ("route" in keys or "receivers" in keys) and "apiVersion" not in keys and "kind" not in keys:
        return FileKind.ALERTMANAGER
    return FileKind.OTHER


@dataclass
class Loaded:
    rule_files: list[RuleFile] = field(default_factory=list)
    alertmanager_files: list[AlertmanagerFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # named files that were skipped, and why


def load(
    paths: list[Path], skip: Callable[[Path], bool] | None = None
) -> tuple[list[RuleFile], list[AlertmanagerFile], list[str]]:
    """Read every file; returns rule files, Alertmanager files and notes about skipped named files.

    skip: files never read (a project's exclude patterns).
    """
    out = Loaded()
    with _gc_paused():
        for path, named in collect_paths(paths):
            if skip is None or not skip(path):
                _load_file(path, named, out)
    return out.rule_files, out.alertmanager_files, out.notes


def _load_file(path: Path, named: bool, out: Loaded) -> None:
    name = display_path(path)
    try:
        text = read_text(path, name)
        docs = compose_documents(text, name)
        kinds = [kind_of(doc) for doc in docs]
    except UsageError as exc:
        # Helm and other templates under a searched folder are not YAML until rendered.
        if named or "{{" not in path.read_text(encoding="utf-8", errors="replace"):
            raise
        out.notes.append(f"{exc}: skipped (a template?)")
        return
    source = SourceText(text)
    ruler = None
    for index, (doc, kind) in enumerate(zip(docs, kinds, strict=True)):
        entries = pairs(doc, name)
        if kind is FileKind.RULES:
            ruler = _ruler_keys(docs, name) if ruler is None else ruler
            rule_file = read_rule_file(path, name, entries["groups"][1], kind, 0, source)
            rule_file.ruler_keys = ruler
            out.rule_files.append(rule_file)
        elif kind is FileKind.PROMETHEUS_RULE and "spec" in entries:
            spec_key, spec = entries["spec"]
            groups = pairs(spec, name).get("groups")
            if groups is not None and isinstance(groups[1], yaml.SequenceNode):
                out.rule_files.append(read_rule_file(path, name, groups[1], kind, line(spec_key), source))
        elif kind is FileKind.ALERTMANAGER:
            # Alertmanager configs are small; their checks read ruamel's maps (as routing.tree does).
            ruamel_docs = load_documents(path, name, text)
            if index < len(ruamel_docs):
                out.alertmanager_files.append(read_alertmanager_file(path, name, ruamel_docs[index], source))
    if named and all(kind is FileKind.OTHER for kind in kinds):
        out.notes.append(f"{name}: skipped: not a Prometheus rule file, PrometheusRule or Alertmanager config")


def _ruler_keys(docs: list[yaml.Node], name: str) -> bool:
    """Whether any document of a file has namespace: or a group with an engine-only key (as ruamel would read it).

    Never raises: a repeated key is reported where the file is read, so here the entries are taken as written.
    """

    def entries(node: yaml.Node) -> dict[str, yaml.Node]:
        try:
            return {key: value for key, (_, value) in pairs(node, name).items()}
        except UsageError:
            return {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}

    for doc in docs:
        if not isinstance(doc, yaml.MappingNode):
            continue
        found = entries(doc)
        groups = found.get("groups")
        if "namespace" in found or (isinstance(groups, yaml.SequenceNode) and any(
            isinstance(group, yaml.MappingNode) and set(entries(group)) & set(ENGINE_ONLY_GROUP_KEYS)
            for group in groups.value
        )):
            return True
    return False


def read_rule_file(
    path: Path, name: str, groups: yaml.Node, kind: FileKind, spec_line: int, source: SourceText | None = None
) -> RuleFile:
    rules: list[Rule] = []
    group_lines: dict[str, int] = {}
    intervals: dict[str, str] = {}
    for group in groups.value if isinstance(groups, yaml.SequenceNode) else []:
        if not isinstance(group, yaml.MappingNode):
            continue
        entries = pairs(group, name)
        group_name = scalar(entries["name"][1]) or "" if "name" in entries else ""
        group_lines[group_name] = line(group)
        interval = scalar(entries["interval"][1]) if "interval" in entries else None
        if interval:
            intervals[group_name] = interval
        items = entries["rules"][1] if "rules" in entries else None
        if not isinstance(items, yaml.SequenceNode):
            continue
        for index, item in enumerate(items.value, start=1):
            if isinstance(item, yaml.MappingNode):
                rules.append(read_rule(group_name, index, item, name))
    return RuleFile(
        path=path,
        name=name,
        kind=kind,
        rules=rules,
        groups=group_lines,
        spec_line=spec_line,
        group_intervals=intervals,
        source=source or SourceText(""),
    )


def read_rule(group: str, index: int, item: yaml.Node, file_name: str = "") -> Rule:
    entries = pairs(item, file_name)
    lines = {key: line(key_node) for key, (key_node, _) in entries.items()}
    mappings: dict[str, dict[str, str]] = {"labels": {}, "annotations": {}}
    for section, values in mappings.items():
        if section not in entries:
            continue
        for key, (key_node, value) in pairs(entries[section][1], file_name).items():
            values[key] = scalar(value) or ""
            lines[f"{section}.{key}"] = line(key_node)

    def text(key: str) -> str | None:
        return scalar(entries[key][1]) if key in entries else None

    return Rule(
        group=group,
        index=index,
        line=line(item),
        alert=text("alert"),
        record=text("record"),
        expr=text("expr") or "",
        for_=text("for"),
        labels=mappings["labels"],
        annotations=mappings["annotations"],
        lines=lines,
        end_line=end_line(item),
    )


def read_alertmanager_file(
    path: Path, name: str, doc: CommentedMap, source: SourceText | None = None
) -> AlertmanagerFile:
    from fireline.routing.tree import ConfigError, config_from_data

    try:
        config: AlertmanagerConfig | None = config_from_data(doc, name)
        error = None
    except ConfigError as exc:
        config, error = None, exc
    return AlertmanagerFile(
        path=path, name=name, data=doc, config=config, config_error=error, source=source or SourceText("")
    )
