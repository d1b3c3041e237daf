"""Start-up: the CLI imports a command's heavy modules only when that command runs (issue 18).

Not timed (bench/lint_bench.py measures the time); these check what gets imported, and that the
lazy command table in fireline.lazy_cli says what the command modules really register.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from fireline.cli import TargetOption, app
from fireline.lazy_cli import LAZY_COMMANDS, load_module_commands

FIXTURE = Path(__file__).parent / "lint" / "fixtures" / "rules-missing-summary" / "good.yml"
HEAVY = ("sqlalchemy", "alembic", "fastapi", "numpy", "uvicorn", "httpx", "jinja2", "matplotlib", "psycopg")


def imported_after(code: str) -> set[str]:
    """Top-level packages in sys.modules after running `code` in a fresh interpreter."""
    script = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


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
