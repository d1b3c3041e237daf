"""`fireline generate`: the whole bundle for a set of specs, written to one output folder.

The bundle is a short ordered list of steps (after Sloth's chain): each reads the specs and the
config and writes its own files, returning what it wrote and any notes for the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fireline.dashboards.grafana import render_dashboard
from fireline.routing.expected import alertmanager_files
from fireline.rules.generate import rule_groups
from fireline.rules.plan import DEFAULT_RUNBOOK_BASE, GenerateOptions
from fireline.rules.testgen import render_tests_file
from fireline.runbooks.generate import runbook_files
from fireline.spec.config import Config
from fireline.spec.loader import LoadedService
from fireline.targets.layout import ServiceRules, Target, rules_path, target_files
from fireline.targets.settings import RulerSettings

# `--format` was the option's first name; the targets took it over (docs/targets.md).
RuleFormat = Target


@dataclass
class BundleContext:
    services: list[LoadedService]
    out: Path
    config: Config | None = None
    rule_format: RuleFormat = RuleFormat.PROMETHEUS
    compat: str | None = None  # "sloth": Sloth's labels and metadata series as well
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def options(self) -> GenerateOptions:
        base = _runbook_base(self.config)
        return GenerateOptions(runbook_base_url=base or DEFAULT_RUNBOOK_BASE, compat=self.compat)

    def write(self, relative: str, text: str) -> Path:
        path = self.out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # Unchanged files keep their timestamps, so make-style tools and reviewers see real changes only.
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        self.written.append(path)
        return path


def _runbook_base(config: Config | None) -> str | None:
    runbooks = getattr(config, "runbooks", None) if config is not None else None
    base = getattr(runbooks, "base_url", None)
    return base if isinstance(base, str) else None


def rules_relative_path(service: str, rule_format: Target) -> str:
    return rules_path(rule_format, service)


def write_prometheus_rules(ctx: BundleContext) -> None:
    """The rule groups in the target's layout, and promtool tests for every service."""
    options = ctx.options()
    services = [ServiceRules(loaded.spec, loaded.source.name, rule_groups(loaded.spec, options))
                for loaded in ctx.services]
    settings = ctx.config.ruler if ctx.config is not None else RulerSettings()
    for relative, text in target_files(ctx.rule_format, services, settings).items():
        ctx.write(relative, text)
    for loaded in ctx.services:
        spec, source = loaded.spec, loaded.source.name
        # Tests always name the plain rule file; `fireline check` extracts it from any other target.
        tests = render_tests_file(spec, f"../{spec.name}.rules.yml", source, options=options)
        ctx.write(f"prometheus/tests/{spec.name}.test.yml", tests.text)
        if tests.standin_rules is not None and tests.standin_tests is not None:
            ctx.write(f"prometheus/tests/{spec.name}.standin.rules.yml", tests.standin_rules)
            ctx.write(f"prometheus/tests/{spec.name}.standin.test.yml", tests.standin_tests)
        ctx.notes.extend(tests.notes)


# --- Alertmanager config, expected routes, runbooks and the policy document (routing/, runbooks/) ---
def write_alertmanager_config(ctx: BundleContext) -> None:
    if ctx.config is None or ctx.config.default_receiver is None:
        ctx.notes.append("no default_receiver in fireline.yaml: alertmanager/alertmanager.yml not generated "
                         "(see docs/routing.md)")
        return
    if ctx.config.alertmanager.webhook is not None and ctx.config.alertmanager.webhook_token_file is None:
        ctx.notes.append("alertmanager.webhook has no webhook_token_file: fireline serve answers 401 to "
                         "notifications without its bearer token (see docs/routing.md)")
    teams = sorted({loaded.spec.spec.team for loaded in ctx.services})
    for relative, text in alertmanager_files(ctx.config, teams).items():
        ctx.write(relative, text)
    unrouted = [team for team in teams if team not in ctx.config.teams]
    if unrouted:
        ctx.notes.append(f"team(s) {', '.join(unrouted)} have no entry under teams in fireline.yaml: "
                         f"their alerts go to the default receiver {ctx.config.default_receiver}")


def write_runbooks(ctx: BundleContext) -> None:
    for relative, text in runbook_files([loaded.spec for loaded in ctx.services], ctx.config).items():
        ctx.write(relative, text)
# --- end of routing/runbooks steps ---


def write_grafana_dashboards(ctx: BundleContext) -> None:
    base = _runbook_base(ctx.config) or ctx.options().runbook_base_url
    for loaded in ctx.services:
        ctx.write(f"grafana/{loaded.spec.name}.json", render_dashboard(
            loaded.spec, runbook_base_url=base, ui_url=ctx.config.server.external_url if ctx.config else None))


BundleStep = Callable[[BundleContext], None]

# The order matters only for the notes printed; each step writes its own files.
STEPS: list[BundleStep] = [
    write_prometheus_rules,
    write_alertmanager_config,
    write_runbooks,
    write_grafana_dashboards,
    # Steps added by other features (Alertmanager config, runbooks, policy document, dashboards)
    # are appended here.
]


def generate_bundle(ctx: BundleContext) -> BundleContext:
    ctx.out.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        step(ctx)
    return ctx
