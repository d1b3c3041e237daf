"""The Alertmanager route tree, receivers and inhibit rules as typed objects with source lines.

Matching follows Alertmanager 0.25 exactly (dispatch/route.go `Route.Match`, pkg/labels/parse.go):
depth-first, children in file order, the first matching child stops its later siblings unless it
has `continue: true`, and a node whose children all miss handles the alert itself. A missing label
equals "", and regexes are anchored at both ends. `receivers_for` answers what
`amtool config routes test` prints, so the two can be checked against each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

# The matchers live apart (rule checks read them without ruamel); re-exported here, where they were.
from fireline.routing.matchers import Matcher as Matcher
from fireline.routing.matchers import MatchOp as MatchOp
from fireline.routing.matchers import parse_matcher as parse_matcher
from fireline.routing.matchers import parse_matchers as parse_matchers
from fireline.slo.durations import Duration, DurationError

# Alertmanager's route defaults (config.DefaultRouteOpts); the root inherits them, children the parent's.
DEFAULT_GROUP_WAIT = Duration.parse("30s")
DEFAULT_GROUP_INTERVAL = Duration.parse("5m")
DEFAULT_REPEAT_INTERVAL = Duration.parse("4h")

class ConfigError(ValueError):
    """An Alertmanager config this model cannot read; the message starts with file:line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")


@dataclass
class Route:
    """A node of the routing tree. Receiver, grouping and timers are effective (inherited) values."""

    receiver: str
    matchers: list[Matcher]
    continue_: bool
    group_by: list[str]
    group_wait: Duration
    group_interval: Duration
    repeat_interval: Duration
    mute_time_intervals: list[str]
    active_time_intervals: list[str]
    children: list[Route]
    line: int
    path: str  # e.g. route.routes[1].routes[0], for messages
    declared_receiver: str | None = None  # as written on this node; None when inherited
    receiver_line: int = 0

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that handle an alert with these labels, in tree order (dispatch.Route.Match)."""
        if not all(m.matches(labels) for m in self.matchers):
            return []
        handled: list[Route] = []
        for child in self.children:
            found = child.match(labels)
            handled.extend(found)
            if found and not child.continue_:
                break
        if not handled:
            handled.append(self)
        return handled

    def walk(self) -> Iterator[Route]:
        """This route and every descendant, depth-first in file order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def matcher_text(self) -> str:
        return "{" + ",".join(str(m) for m in self.matchers) + "}"


@dataclass(frozen=True)
class Receiver:
    name: str
    kinds: tuple[str, ...]  # integrations present: slack, pagerduty, webhook, email, ...
    line: int


@dataclass(frozen=True)
class InhibitRule:
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...]
    line: int


@dataclass
class AlertmanagerConfig:
    file: str
    route: Route
    receivers: list[Receiver]
    inhibit_rules: list[InhibitRule]
    data: CommentedMap  # the parsed YAML, with line information, for checks that read raw fields

    def receiver(self, name: str) -> Receiver | None:
        return next((r for r in self.receivers if r.name == name), None)


def receivers_for(config: AlertmanagerConfig, labels: Mapping[str, str]) -> list[str]:
    """Receiver names an alert reaches, in tree order: what `amtool config routes test` prints."""
    return [route.receiver for route in config.route.match(labels)]


def line_of(node: Any, key: str | int | None = None) -> int:
    """1-based source line of a ruamel node, or of one of its keys/items; 0 when unknown."""
    try:
        if key is None:
            return int(node.lc.line) + 1
        if isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        if isinstance(node, CommentedSeq):
            return int(node.lc.item(key)[0]) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        pass
    return 0


def load_yaml(text: str, file: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(file, line, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc


def parse_config(text: str, file: str = "<alertmanager.yml>") -> AlertmanagerConfig:
    """Read an Alertmanager config from YAML text."""
    data = load_yaml(text, file)
    if not isinstance(data, CommentedMap):
        raise ConfigError(file, 1, "an Alertmanager config must be a YAML mapping with route: and receivers:")
    return config_from_data(data, file)


def config_from_data(data: CommentedMap, file: str) -> AlertmanagerConfig:
    """Model a config already loaded with ruamel's round-trip loader (keeps its line numbers)."""
    return _Reader(file).config(data)


def load_config(path: Path | str) -> AlertmanagerConfig:
    """Read an Alertmanager config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), 0, f"cannot read: {exc.strerror or exc}") from exc
    return parse_config(text, str(path))


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, line: int, message: str) -> ConfigError:
        return ConfigError(self.file, line, message)

    def config(self, data: CommentedMap) -> AlertmanagerConfig:
        raw_route = data.get("route")
        if not isinstance(raw_route, CommentedMap):
            raise self.fail(line_of(data, "route") or 1, "missing route: (a mapping with receiver:)")
        receiver = raw_route.get("receiver")
        if not isinstance(receiver, str) or not receiver:
            raise self.fail(line_of(raw_route), "the root route must name a receiver (receiver: NAME)")
        root_defaults = Route(
            receiver=receiver,
            matchers=[],
            continue_=False,
            group_by=[],
            group_wait=DEFAULT_GROUP_WAIT,
            group_interval=DEFAULT_GROUP_INTERVAL,
            repeat_interval=DEFAULT_REPEAT_INTERVAL,
            mute_time_intervals=[],
            active_time_intervals=[],
            children=[],
            line=0,
            path="",
        )
        route = self.route(raw_route, root_defaults, "route")
        return AlertmanagerConfig(
            file=self.file,
            route=route,
            receivers=self.receivers(data.get("receivers"), line_of(data, "receivers")),
            inhibit_rules=self.inhibit_rules(data.get("inhibit_rules")),
            data=data,
        )

    def matcher_list(self, node: CommentedMap, key: str) -> list[Matcher]:
        items = node.get(key)
        if items is None:
            return []
        if not isinstance(items, CommentedSeq):
            raise self.fail(line_of(node, key), f'{key}: must be a list of strings like severity="critical"')
        out: list[Matcher] = []
        for i, item in enumerate(items):
            line = line_of(items, i)
            if not isinstance(item, str):
                raise self.fail(line, f'{key}[{i}] must be a string like severity="critical"')
            try:
                out.extend(parse_matchers(item, line))
            except ValueError as exc:
                raise self.fail(line, str(exc)) from exc
        return out

    def matcher_map(self, node: CommentedMap, key: str, op: MatchOp) -> list[Matcher]:
        items = node.get(key)
        if items is None:
            return []
        if not isinstance(items, CommentedMap):
            raise self.fail(line_of(node, key), f"{key}: must be a mapping of label name to value")
        out = []
        for name, value in items.items():
            if value is None and op is MatchOp.REGEX:
                # Alertmanager: `invalid regexp value for "name"`; null is not the string "None".
                raise self.fail(line_of(items, name), f'{key}: invalid regexp value for "{name}" (it is empty)')
            text = "" if value is None else str(value)  # Go reads a null map value as ""
            try:
                out.append(Matcher(str(name), op, text, line=line_of(items, name), deprecated_form=key))
            except ValueError as exc:
                raise self.fail(line_of(items, name), str(exc)) from exc
        return out

    def all_matchers(
        self, node: CommentedMap, equal_key: str, regex_key: str, list_key: str
    ) -> list[Matcher]:
        # Alertmanager appends match, then match_re, then matchers (config.Route.UnmarshalYAML).
        return (
            self.matcher_map(node, equal_key, MatchOp.EQUAL)
            + self.matcher_map(node, regex_key, MatchOp.REGEX)
            + self.matcher_list(node, list_key)
        )

    def duration(self, node: CommentedMap, key: str, inherited: Duration) -> Duration:
        value = node.get(key)
        if value is None:
            return inherited
        try:
            return Duration.parse(str(value))
        except DurationError as exc:
            raise self.fail(line_of(node, key), f"{key}: {exc}") from exc

    def names(self, node: CommentedMap, key: str) -> list[str]:
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(line_of(node, key), f"{key}: must be a list of names")
        return [str(v) for v in value]

    def route(self, node: CommentedMap, parent: Route, path: str) -> Route:
        declared = node.get("receiver")
        group_by = self.names(node, "group_by")
        route = Route(
            receiver=str(declared) if declared else parent.receiver,
            matchers=self.all_matchers(node, "match", "match_re", "matchers"),
            continue_=bool(node.get("continue", False)),
            # 0.25 ignores an empty group_by on a child and keeps the parent's (fixed only in 0.31).
            group_by=group_by or list(parent.group_by),
            group_wait=self.duration(node, "group_wait", parent.group_wait),
            group_interval=self.duration(node, "group_interval", parent.group_interval),
            repeat_interval=self.duration(node, "repeat_interval", parent.repeat_interval),
            # Time intervals are per node: a parent's mute never applies to its children.
            mute_time_intervals=self.names(node, "mute_time_intervals"),
            active_time_intervals=self.names(node, "active_time_intervals"),
            children=[],
            line=line_of(node),
            path=path,
            declared_receiver=str(declared) if declared else None,
            receiver_line=line_of(node, "receiver") if declared else 0,
        )
        children = node.get("routes")
        if children is None:
            return route
        if not isinstance(children, CommentedSeq):
            raise self.fail(line_of(node, "routes"), "routes: must be a list of routes")
        for i, child in enumerate(children):
            if not isinstance(child, CommentedMap):
                raise self.fail(line_of(children, i), f"{path}.routes[{i}] must be a mapping")
            route.children.append(self.route(child, route, f"{path}.routes[{i}]"))
        return route

    def receivers(self, items: Any, line: int) -> list[Receiver]:
        if items is None:
            return []
        if not isinstance(items, CommentedSeq):
            raise self.fail(line, "receivers: must be a list of receivers with a name:")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, CommentedMap) or not isinstance(item.get("name"), str):
                raise self.fail(line_of(items, i), f"receivers[{i}] must be a mapping with a name:")
            kinds = tuple(str(k).removesuffix("_configs") for k in item if str(k).endswith("_configs"))
            out.append(Receiver(name=item["name"], kinds=kinds, line=line_of(item)))
        return out

    def inhibit_rules(self, items: Any) -> list[InhibitRule]:
        if not isinstance(items, CommentedSeq):
            return []
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, CommentedMap):
                raise self.fail(line_of(items, i), f"inhibit_rules[{i}] must be a mapping")
            out.append(
                InhibitRule(
                    source_matchers=tuple(
                        self.all_matchers(item, "source_match", "source_match_re", "source_matchers")
                    ),
                    target_matchers=tuple(
                        self.all_matchers(item, "target_match", "target_match_re", "target_matchers")
                    ),
                    equal=tuple(self.names(item, "equal")),
                    line=line_of(item),
                )
            )
        return out
