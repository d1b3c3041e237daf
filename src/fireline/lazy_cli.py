"""Sub-commands that load their module only when run: `fireline --help` and `fireline lint` start fast.

Each `fireline.<x>.commands` module imports what its commands need (SQLAlchemy, FastAPI, numpy,
httpx). Importing all of them for every call cost 2 s; pre-commit and CI pay the start-up on each
call. So the top-level group lists these commands from the table below (name and one-line help)
and imports a module only when one of its commands is invoked or its own --help is shown.

To add a sub-command module: add its commands here with the module that registers them
(`register(app)`), in the order `fireline --help` shows them. tests/test_cli_startup.py checks the
table against the modules, so a stale help line or a missing command fails the suite.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer import _click as click  # the Click that Typer vendors and builds its commands with
from typer.core import TyperCommand, TyperGroup

from fireline import typer_startup

# Typer's per-call costs that fireline does not need: pydantic for str/bool/Path parameters, rich's
# Markdown and Traceback for help panels (fireline.typer_startup).
typer_startup.install()


@dataclass(frozen=True)
class LazyCommand:
    name: str
    module: str  # defines register(app: typer.Typer)
    help: str  # the first line of the command's help, as `fireline --help` lists it


# Plain commands first, then groups: the order Typer lists them in.
LAZY_COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand(
        "simulate", "fireline.sim.commands",
        "Backtest alerting policies: when would they page, at what budget cost, how noisily.",
    ),
    LazyCommand(
        "lint", "fireline.lint.commands",
        "Check Prometheus rule files and Alertmanager configs for mistakes that make alerting fail.",
    ),
    LazyCommand(
        "drill", "fireline.stack.commands",
        "Run the alerting checklist against a running stack or any Alertmanager; exit 1 if an item fails.",
    ),
    LazyCommand(
        "demo-service", "fireline.stack.commands",
        "Serve GET /api/checkout with request metrics at /metrics and fault injection at POST /control.",
    ),
    LazyCommand(
        "serve", "fireline.server.commands",
        "Run the service: Alertmanager intake, incidents, escalation, notifications, API, metrics.",
    ),
    LazyCommand(
        "capture", "fireline.server.commands",
        "Run a capture server that records Slack/PagerDuty/webhook requests (GET /_capture/requests).",
    ),
    LazyCommand(
        "import", "fireline.spec.commands",
        "Write native fireline specs from Sloth, OpenSLO and Pyrra input; they generate the same rules.",
    ),
    LazyCommand(
        "report", "fireline.reports.commands",
        "How each SLO did over a month, a week or the last N days: HTML, PDF or Markdown.",
    ),
    LazyCommand("routes", "fireline.routing.commands", "Alertmanager routing: which receivers an alert reaches."),
    LazyCommand(
        "stack", "fireline.stack.commands",
        "Run Prometheus, Alertmanager, fireline serve, a capture server and the demo service locally from a bundle.",
    ),
    LazyCommand("gate", "fireline.policy.commands", "The deploy gate of the error-budget policy."),
    LazyCommand("budget", "fireline.policy.commands", "Error budgets: status and exclusions (partial resets)."),
    LazyCommand(
        "incidents", "fireline.server.commands",
        "Incidents on a running `fireline serve`: list, show, ack, resolve, update.",
    ),
    LazyCommand("oncall", "fireline.oncall.commands", "Who is on call, overrides included: now or at a given time."),
    LazyCommand(
        "overrides", "fireline.oncall.commands", "On-call overrides on a running `fireline serve`: list, add, remove.",
    ),
)
_BY_NAME = {command.name: command for command in LAZY_COMMANDS}


def load_module_commands(module: str) -> dict[str, click.Command]:
    """Every click command a module's register() adds, built the way Typer builds them."""
    holder = typer.Typer()
    importlib.import_module(module).register(holder)
    return dict(typer.main.get_group(holder).commands)


class LazyGroup(TyperGroup):
    """The top-level group: commands of LAZY_COMMANDS are imported on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return eager + [c.name for c in LAZY_COMMANDS if c.name not in eager]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in _BY_NAME:
            return super().get_command(ctx, cmd_name)
        lazy = _BY_NAME[cmd_name]
        if self._listing:
            # The command list needs a name and a line of help, not the module behind them.
            return TyperCommand(name=lazy.name, help=lazy.help, callback=None)
        for name, command in load_module_commands(lazy.module).items():
            self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
