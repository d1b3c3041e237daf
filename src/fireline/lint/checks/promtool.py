"""rules/promtool: `promtool check rules` on each rule file, its errors and warnings placed on lines.

promtool runs in a thread started before the Python checks (prepare), so a run costs the longer
of the two, not their sum. Its duplicate-rule lint warnings (exit code 0) are reported as warnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from fireline.adapters import promtool as promtool_adapter
from fireline.lint.checks.amtool import locate
from fireline.lint.files import MANIFEST_KINDS, FileKind, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity
from fireline.targets import ENGINE_ONLY_GROUP_KEYS

_RULE_RE = re.compile(r'group "(?P<group>[^"]*)", rule (?P<index>\d+), "[^"]*": (?P<rest>.*)')
_PLACE_RE = re.compile(r"^(?P<line>\d+):(?P<col>\d+): (?P<rest>.*)")
_FIELD_RE = re.compile(r'^(?P<section>annotation|label) "(?P<key>[^"]+)"')
_YAML_LINE_RE = re.compile(r"^\s*line (?P<line>\d+): (?P<rest>.*)")
_LINT_START_RE = re.compile(r"^lint error \d+ duplicate rule\(s\) found\.?$")
_LINT_END = "Might cause inconsistency while recording expressions"
_LABEL_RE = re.compile(r"^\s+(?P<name>[^:\s]+): (?P<value>.*)$")


def split_lint_warnings(output: str) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """promtool's output without its duplicate-rule blocks, and the (name, labels) those list."""
    rest: list[str] = []
    duplicates: list[tuple[str, dict[str, str]]] = []
    inside = False
    for raw in output.splitlines():
        text = raw.strip()
        if _LINT_START_RE.match(text):
            inside = True
            if rest and rest[-1].strip() == "FAILED:":
                rest.pop()  # 2.42 prints FAILED: above lint warnings even when the file passes
            continue
        if inside:
            if text == _LINT_END:
                inside = False
            elif text.startswith("Metric: "):
                duplicates.append((text[len("Metric: "):], {}))
            elif duplicates and (label := _LABEL_RE.match(raw)) is not None and text != "Label(s):":
                duplicates[-1][1][label.group("name")] = label.group("value")
            continue
        if text:
            rest.append(raw)
    return rest, duplicates


def _ruler_file(file: RuleFile) -> bool:
    """A Mimir/Cortex namespace file (namespace: beside groups:) or Thanos groups (partial_response_strategy).

    Known from loading (RuleFile.ruler_keys) for files that fireline.lint.files read; else read here.
    """
    if file.ruler_keys is not None:
        return file.ruler_keys
    from ruamel.yaml import YAML

    path = file.path
    docs = [d for d in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    return any("namespace" in d or any(isinstance(g, dict) and set(g) & set(ENGINE_ONLY_GROUP_KEYS)
                                       for g in d.get("groups") or []) for d in docs)


def run_promtool(promtool: str, path: Path) -> tuple[int, str]:
    run = promtool_adapter.check_rules([path], binary=promtool)
    return run.returncode, run.output


class Promtool(RuleCheck):
    id = "rules/promtool"
    severity = Severity.ERROR
    summary = "promtool check rules rejects the file: Prometheus would not load it."

    def prepare(self, file: RuleFile, ctx: LintContext) -> Callable[[], tuple[int, str]] | None:
        promtool = ctx.promtool
        if promtool is None:
            return None
        if file.kind is FileKind.PROMETHEUS_RULE or _ruler_file(file):
            return lambda: self._check_manifest(promtool, file)
        return lambda: run_promtool(promtool, file.path)

    def check_file(self, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if ctx.promtool is None:
            yield self.finding(
                file.name,
                1,
                "promtool is not installed, so Prometheus' own validation was skipped; "
                "install prometheus (it ships promtool) to run it.",
                Severity.INFO,
            )
            return
        result: tuple[int, str] | None = ctx.result_of(self.id, file)
        if result is None:
            run = self.prepare(file, ctx)
            result = run() if run is not None else (0, "")
        code, output = result
        messages, duplicates = split_lint_warnings(output)
        yield from self._duplicates(file, duplicates, ctx)
        if code == 0:
            return
        yield from self._findings(file, messages)

    def _duplicates(
        self, file: RuleFile, duplicates: list[tuple[str, dict[str, str]]], ctx: LintContext
    ) -> Iterator[Finding]:
        version = ctx.versions.get("promtool", "")
        for name, labels in duplicates:
            lines = [r.line for r in file.rules if r.name == name and r.labels == labels]
            shown = name + ("{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
            where = f" (lines {', '.join(map(str, lines))})" if len(lines) > 1 else ""
            yield self.finding(
                file.name,
                lines[-1] if lines else 1,
                f"promtool{' ' + version if version else ''}: duplicate rule {shown}{where}: two rules produce "
                "the same series, which makes recorded values and alert state flap between them. Remove one "
                "or give them different labels.",
                Severity.WARNING,
            )

    def _check_manifest(self, promtool: str, file: RuleFile) -> tuple[int, str]:
        """promtool on the groups alone: of a manifest's spec, or of a ruler file without its ruler-only keys."""
        import tempfile

        from ruamel.yaml import YAML

        yaml = YAML(typ="rt")
        docs = list(yaml.load_all(file.path.read_text(encoding="utf-8")))
        manifest = next((d for d in docs if isinstance(d, dict) and d.get("kind") in MANIFEST_KINDS), None)
        groups = manifest["spec"]["groups"] if manifest is not None else next(
            d["groups"] for d in docs if isinstance(d, dict) and "groups" in d)
        plain = [{k: v for k, v in g.items() if k not in ENGINE_ONLY_GROUP_KEYS} if isinstance(g, dict) else g
                 for g in groups]
        with tempfile.TemporaryDirectory() as tmp:
            extracted = Path(tmp) / "rules.yml"
            with extracted.open("w", encoding="utf-8") as handle:
                yaml.dump({"groups": plain}, handle)
            code, output = run_promtool(promtool, extracted)
        return code, output.replace(str(extracted), file.name)

    def _findings(self, file: RuleFile, messages: list[str]) -> Iterator[Finding]:
        prefix = None
        for raw in messages:
            text = raw.strip()
            if text.startswith("Checking ") or text in ("FAILED:", "SUCCESS"):
                continue
            for name in (str(file.path), file.name):
                if text.startswith(name + ": "):
                    text = text[len(name) + 2 :]
            yaml_line = _YAML_LINE_RE.match(text)
            if yaml_line is not None:
                line = int(yaml_line.group("line"))
                # inside a PrometheusRule the extracted spec's lines do not match the manifest's
                line = file.spec_line if file.kind is FileKind.PROMETHEUS_RULE else line
                yield self._finding(file, line, f"{prefix or 'yaml'}: {yaml_line.group('rest')}")
                continue
            if text.endswith(":") and not _RULE_RE.search(text):
                prefix = text.rstrip(":")
                continue
            line = self._line(file, text)
            place = _PLACE_RE.match(text)
            if place is not None and file.kind is FileKind.PROMETHEUS_RULE:
                text = place.group("rest")  # a position in the extracted spec, not in the manifest
            yield self._finding(file, line, text)

    def _line(self, file: RuleFile, text: str) -> int:
        place = _PLACE_RE.match(text)
        if place is not None:
            text = place.group("rest")
        found = _RULE_RE.search(text)
        if found is None:
            if place is not None and file.kind is FileKind.RULES:
                return int(place.group("line"))
            # e.g. 'not a valid duration string: "bogus"': the first line with the quoted value
            source = file.path.read_text(encoding="utf-8").splitlines()
            return locate(text, source) or file.spec_line or 1
        index = int(found.group("index"))
        rules = [r for r in file.rules if r.group == found.group("group") and r.index == index]
        if not rules:
            return file.groups.get(found.group("group"), 1)
        rule = rules[0]
        field = _FIELD_RE.match(found.group("rest"))
        if field is not None:
            section = "annotations" if field.group("section") == "annotation" else "labels"
            return rule.line_of(f"{section}.{field.group('key')}")
        if "expression" in found.group("rest"):
            return rule.line_of("expr")
        return rule.line

    def _finding(self, file: RuleFile, line: int, text: str) -> Finding:
        return self.finding(file.name, line, f"promtool: {text}. Prometheus will refuse to load this file; fix it.")
