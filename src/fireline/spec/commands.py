"""`fireline import`: native fireline specs from Sloth, OpenSLO and Pyrra files (a migration path)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_USAGE = 2
NATIVE = "fireline/Service"  # the loader's name for native service documents


def import_specs(
    specs: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Sloth, OpenSLO or Pyrra files or folders")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the native specs (one file per service)")],
    force: Annotated[bool, typer.Option("--force", help="overwrite files that exist in the folder")] = False,
) -> None:
    """Write native fireline specs from Sloth, OpenSLO and Pyrra input; they generate the same rules."""
    from fireline.cli import load_specs_or_exit
    from fireline.spec.errors import display_path
    from fireline.spec.native import ImportMismatch, native_yaml

    services = load_specs_or_exit(specs)  # errors and warnings printed as every command prints them
    foreign = [s for s in services if s.format != NATIVE]
    for native in (s for s in services if s.format == NATIVE):
        typer.echo(f"skipped {display_path(native.source)}: {native.spec.name} is already a fireline/v1 spec")
    if not foreign:
        typer.echo("error: nothing to import: no Sloth, OpenSLO or Pyrra spec among the inputs", err=True)
        raise typer.Exit(EXIT_USAGE)
    targets = {s.spec.name: out / f"{s.spec.name}.yaml" for s in foreign}
    if len(targets) != len(foreign):
        names = sorted({s.spec.name for s in foreign if sum(t.spec.name == s.spec.name for t in foreign) > 1})
        typer.echo(f"error: several inputs define the service {', '.join(names)}: import them into "
                   "separate folders", err=True)
        raise typer.Exit(EXIT_USAGE)
    existing = [p for p in targets.values() if p.exists()]
    if existing and not force:
        typer.echo(f"error: {', '.join(display_path(p) for p in existing)} exist(s): pass --force to overwrite",
                   err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        texts = {s.spec.name: native_yaml(s) for s in foreign}
    except ImportMismatch as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    out.mkdir(parents=True, exist_ok=True)
    for loaded in foreign:
        path = targets[loaded.spec.name]
        path.write_text(texts[loaded.spec.name], encoding="utf-8")
        slos = len(loaded.spec.spec.slos)
        typer.echo(f"wrote {display_path(path)} ({slos} SLO{'s' if slos != 1 else ''}, from "
                   f"{display_path(loaded.source)}, {loaded.format})")


def register(app: typer.Typer) -> None:
    app.command("import")(import_specs)
