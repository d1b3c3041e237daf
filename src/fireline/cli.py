"""The fireline command line: one sub-command per job, the work done in the modules it calls."""

from __future__ import annotations

import typer

from fireline.routing.commands import register as register_routing

app = typer.Typer(
    name="fireline",
    help="SLO specs to correct, tested Prometheus alerting and incident response.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

register_routing(app)


def main() -> None:
    app()
