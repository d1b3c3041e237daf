"""Start-up: the CLI imports a command's heavy modules only when that command runs (issue 18).

Not timed (bench/lint_bench.py measures the time); these check what gets imported, that the
lazy command table in fireline.lazy_cli says what the command modules really register, and that
fireline.typer_startup's shortcuts give what Typer itself gives.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer import _click as click
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter
from typer.testing import CliRunner

from fireline.cli import TargetOption, app
from fireline.lazy_cli import LAZY_COMMANDS, load_module_commands
from fireline.typer_startup import PlainRuntimeParam, plain_runtime_param

FIXTURE = Path(__file__).parent / "lint" / "fixtures" / "rules-missing-summary" / "good.yml"
AM_FIXTURE = Path(__file__).parent / "lint" / "fixtures" / "am-inhibit-self" / "good.yml"
HEAVY = ("sqlalchemy", "alembic", "fastapi", "numpy", "uvicorn", "httpx", "jinja2", "matplotlib", "psycopg")
# Not heavy for the service, but paid on every pre-commit run of lint: pydantic (Typer's parameter
# adapters, the spec models), the generator, rich (lint prints without it), importlib.metadata
# (pydantic's plugin lookup), tempfile (only for PrometheusRule manifests); for help, rich's extras.
NOT_FOR_LINT = ("pydantic", "pydantic_core", "fireline.spec.models", "fireline.targets.layout", "rich",
                "importlib.metadata", "tempfile")
NOT_FOR_HELP = ("pydantic", "pydantic_core", "rich.markdown", "rich.traceback", "markdown_it", "pygments")


def imported_after(code: str) -> set[str]:
    """Top-level packages in sys.modules after running `code` in a fresh interpreter."""
    script = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def modules_after_cli(*args: str) -> set[str]:
    """Every module in sys.modules after `fireline ARGS` (the console script's main) in a fresh interpreter."""
    script = (
        f"import sys\ncode = 0\nsys.argv = ['fireline', *{list(args)!r}]\nfrom fireline.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\nsys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return {line for line in done.stderr.splitlines() if line and " " not in line}


def loaded(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == n or m.startswith(n + ".") for n in names)}


def test_lint_on_a_rule_file_imports_only_the_rule_checks() -> None:
    # promtool included: its check must not pull the generator (ENGINE_ONLY_GROUP_KEYS) or ruamel.
    modules = modules_after_cli("lint", str(FIXTURE))
    assert not loaded(modules, NOT_FOR_LINT + HEAVY)
    assert not loaded(modules, ("ruamel", "fireline.routing.tree", "fireline.promql.expr", "fireline.lint.changed"))
    assert not {m for m in modules if m.startswith("fireline.lint.checks.am_")}
    assert {"fireline.lint.checks.promtool", "fireline.lint.checks.template"} <= modules


def test_lint_on_an_alertmanager_config_imports_only_its_checks() -> None:
    modules = modules_after_cli("lint", str(AM_FIXTURE), "--disable", "am/amtool")
    assert not loaded(modules, NOT_FOR_LINT + HEAVY + ("promql_parser", "fireline.lint.promql"))
    assert {"fireline.lint.checks.am_routes", "fireline.routing.tree"} <= modules
    assert "fireline.lint.checks.template" not in modules


def test_help_imports_neither_pydantic_nor_rich_markdown() -> None:
    assert not loaded(modules_after_cli("--help"), NOT_FOR_HELP + HEAVY)
    assert not loaded(modules_after_cli("lint", "--help"), NOT_FOR_HELP + HEAVY)


@pytest.mark.parametrize("args", [["--help"], ["lint", "--help"], ["routes", "--help"], ["lint", "--format"]])
def test_help_and_errors_print_what_typer_prints_with_the_real_rich_classes(args: list[str]) -> None:
    """typer.rich_utils with stand-ins for Markdown and Traceback renders byte for byte as with the real ones."""
    def run(preload: str) -> subprocess.CompletedProcess[bytes]:
        script = f"{preload}\nimport sys\nsys.argv = ['fireline', *{args!r}]\nfrom fireline.cli import main\nmain()"
        return subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120, check=False)

    lean, real = run(""), run("import rich.markdown, rich.traceback")
    assert (lean.returncode, lean.stdout, lean.stderr) == (real.returncode, real.stdout, real.stderr)
    assert lean.stdout or lean.stderr


def test_the_rich_stand_ins_make_the_real_objects() -> None:
    script = (
        "import fireline.cli, sys, typer.rich_utils as ru\n"
        "assert 'rich.markdown' not in sys.modules and 'rich.traceback' not in sys.modules\n"
        "import rich.markdown, rich.traceback\n"
        "assert isinstance(ru.Markdown('*x*'), rich.markdown.Markdown)\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError as exc:\n"
        "    tb = ru.Traceback.from_exception(type(exc), exc, exc.__traceback__)\n"
        "assert isinstance(tb, rich.traceback.Traceback)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def every_command() -> list[click.Command]:
    out: list[click.Command] = []
    groups = [typer.main.get_command(app)]
    for module in sorted({command.module for command in LAZY_COMMANDS}):
        groups.extend(load_module_commands(module).values())
    while groups:
        command = groups.pop()
        out.append(command)
        groups.extend(getattr(command, "commands", {}).values())
    return out


PLAIN_VALUES = ["text", "", "-", "x/y", "tests", "/nonexistent", str(FIXTURE)]


def test_plain_parameters_convert_as_typers_own_adapters() -> None:
    """Every str, bool and Path parameter of every command: same values, same errors, as Typer's pydantic way."""
    compared = 0
    for command in every_command():
        ctx = click.Context(command)
        for param in command.params:
            plain = plain_runtime_param(param) if isinstance(param, _TyperParameter) else None
            if plain is None:
                continue
            typers = build_runtime_param(param.type_descriptor)
            many = param.multiple or param.nargs == -1
            values: list[Any] = [(v, "b") if many else v for v in PLAIN_VALUES] + [param.default]
            if plain.leaf is bool:
                values = [True, False, param.default]
            for value in values:
                expected = outcome(typers, value, param, ctx)
                assert outcome(plain, value, param, ctx) == expected, (command.name, param.name, value)
                compared += 1
    assert compared > 100


def outcome(runtime: Any, value: Any, param: Any, ctx: click.Context) -> tuple[str, Any, type]:
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except click.ClickException as exc:
        return ("error", str(exc), type(exc))
    return ("ok", result, type(result))


def test_lint_converts_its_parameters_without_pydantic() -> None:
    lint = load_module_commands("fireline.lint.commands")["lint"]
    params = [p for p in lint.params if isinstance(p, _TyperParameter)]
    assert params and all(isinstance(p.get_runtime_param(), PlainRuntimeParam) for p in params)


def test_the_promql_package_exports_the_selectors_function() -> None:
    """`selectors` is a submodule of fireline.promql and a function it exports; the export stays the function."""
    script = ("import fireline.promql.selectors\nfrom fireline.promql import Binary, selectors\n"
              "print(callable(selectors), Binary.__name__)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["True", "Binary"]


def test_the_lazy_table_matches_what_the_modules_register() -> None:
    modules = {command.module for command in LAZY_COMMANDS}
    for module in modules:
        registered = load_module_commands(module)
        listed = [c for c in LAZY_COMMANDS if c.module == module]
        assert sorted(registered) == sorted(c.name for c in listed), module
        for command in listed:
            help_text = (registered[command.name].help or "").strip().splitlines()[0]
            assert help_text == command.help, command.name


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ["generate", "check", "explain", *(c.name for c in LAZY_COMMANDS)]:
        assert f" {name} " in result.stdout, name


def test_help_and_lint_import_no_heavy_module() -> None:
    helped = imported_after(
        "from typer.testing import CliRunner\nfrom fireline.cli import app\nCliRunner().invoke(app, ['--help'])"
    )
    assert not helped & set(HEAVY), helped & set(HEAVY)
    linted = imported_after(
        "from typer.testing import CliRunner\nfrom fireline.cli import app\n"
        f"r = CliRunner().invoke(app, ['lint', {str(FIXTURE)!r}, '--disable', 'rules/promtool'])\n"
        "assert r.exit_code == 0, r.output"
    )
    assert not linted & set(HEAVY), linted & set(HEAVY)


def test_the_config_layer_imports_nothing_from_server_policy_or_ui() -> None:
    script = (
        "import sys, fireline.spec.config\n"
        "print(' '.join(m for m in sys.modules if m.startswith(('fireline.server', 'fireline.policy', "
        "'fireline.ui'))))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == []


def test_the_rule_format_option_lists_the_generator_formats() -> None:
    from fireline.targets.layout import Target

    assert [f.value for f in TargetOption] == [f.value for f in Target]
