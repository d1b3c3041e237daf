"""`fireline routes test`: which receivers an alert reaches, answered as `amtool config routes test` does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from fireline.routing.expected import ExpectedRoutesError, load_expected_routes
from fireline.routing.tree import AlertmanagerConfig, ConfigError, load_config, receivers_for
from fireline.spec.errors import SpecError

LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

routes_app = typer.Typer(
    name="routes",
    help="Alertmanager routing: which receivers an alert reaches.",
    no_args_is_help=True,
)


class LabelArgumentError(ValueError):
    pass


def parse_label_arguments(arguments: list[str]) -> dict[str, str]:
    """label=value or label="value" (amtool's forms) into a label set."""
    labels: dict[str, str] = {}
    for argument in arguments:
        name, sep, value = argument.partition("=")
        name = name.strip()
        if not sep:
            raise LabelArgumentError(f"expected label=value, got {argument!r}")
        if not LABEL_NAME_RE.match(name):
            raise LabelArgumentError(f"{name!r} in {argument!r} is not a valid label name")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value[1:-1])
        if name in labels and labels[name] != value:
            raise LabelArgumentError(f"label {name!r} is given twice with different values")
        labels[name] = value
    return labels


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _check_table(config: AlertmanagerConfig, table: Path) -> int:
    failures = 0
    for row in load_expected_routes(table):
        got = receivers_for(config, row.labels)
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(row.labels.items())) or "(no labels)"
        if tuple(got) == row.receivers:
            typer.echo(f"ok    {row.name}: {labels} -> {','.join(got)}")
        else:
            failures += 1
            typer.echo(f"FAIL  {row.name}: {labels} -> {','.join(got)}; expected {','.join(row.receivers)}")
    if failures:
        typer.echo(f"{failures} of the table's rows failed")
    else:
        typer.echo("every row reaches its expected receivers")
    return 1 if failures else 0


@routes_app.command("test")
def routes_test(
    config_file: Annotated[Path, typer.Argument(metavar="CONFIG", help="Alertmanager config file")],
    labels: Annotated[list[str] | None, typer.Argument(
        metavar="LABEL=VALUE...", help="the alert's labels",
    )] = None,
    verify_receivers: Annotated[str | None, typer.Option(
        "--verify-receivers",
        help="comma-separated receivers the alert must reach, in order; exit 1 otherwise",
    )] = None,
    table: Annotated[Path | None, typer.Option(
        "--table", help="check every row of an expected-routes.yml instead of one label set",
    )] = None,
    tree: Annotated[bool, typer.Option(
        "--tree", help="also print the matching routes with their lines",
    )] = False,
) -> None:
    """Print the receivers an alert with these labels reaches, comma-joined in tree order (as amtool)."""
    try:
        config = load_config(config_file)
        if table is not None:
            if labels:
                raise _fail("give either --table or labels, not both")
            raise typer.Exit(_check_table(config, table))
        label_set = parse_label_arguments(labels or [])
    except (ConfigError, ExpectedRoutesError, LabelArgumentError) as exc:
        raise _fail(str(exc)) from None
    except SpecError as exc:
        raise _fail(str(exc)) from None
    matched = config.route.match(label_set)
    got = [route.receiver for route in matched]
    if tree:
        typer.echo("Matching routes:")
        for route in matched:
            where = f"{config.file}:{route.line}"
            typer.echo(f"  {where} {route.path} {route.matcher_text()} receiver: {route.receiver}")
    typer.echo(",".join(got))
    if verify_receivers is not None:
        wanted = [name.strip() for name in verify_receivers.split(",") if name.strip()]
        if wanted != got:
            message = f"expected receivers {','.join(wanted)} but the alert reaches {','.join(got)}"
            typer.echo(message, err=True)
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(routes_app)
