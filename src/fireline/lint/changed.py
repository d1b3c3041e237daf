"""`--changed-from REF`: the lines changed since a git ref, so CI reports only what a change touched.

Every file is still read and checked (a changed rule may break an unchanged alert that reads it);
only the report is narrowed. Files git does not track yet count as changed throughout.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from fireline.lint.files import UsageError

_HUNK_RE = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")


@dataclass
class ChangedLines:
    ref: str
    lines: dict[Path, set[int]] = field(default_factory=dict)  # resolved path -> changed lines
    whole: set[Path] = field(default_factory=set)  # untracked (new) files

    def touches(self, path: Path, first: int, last: int | None = None) -> bool:
        resolved = path.resolve()
        if resolved in self.whole:
            return True
        changed = self.lines.get(resolved)
        if not changed:
            return False
        return any(number in changed for number in range(first, (last or first) + 1))


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise UsageError("--changed-from needs git, which is not installed") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {' '.join(args)} timed out") from None
    if done.returncode != 0:
        raise UsageError(f"--changed-from: git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def parse_diff(diff: str, root: Path) -> dict[Path, set[int]]:
    """New-side line numbers of every hunk in a `git diff --unified=0` output."""
    out: dict[Path, set[int]] = {}
    current: set[int] | None = None
    for text in diff.splitlines():
        if text.startswith("+++ "):
            target = text[4:]
            current = None
            if target != "/dev/null":
                current = out.setdefault((root / target.removeprefix("b/")).resolve(), set())
        elif text.startswith("@@") and current is not None:
            found = _HUNK_RE.match(text)
            if found is not None:
                start = int(found.group("start"))
                count = int(found.group("count") or 1)
                current.update(range(start, start + count))
    return out


def changed_lines(ref: str, cwd: Path | None = None) -> ChangedLines:
    here = cwd or Path.cwd()
    root = Path(_git(["rev-parse", "--show-toplevel"], here).strip())
    _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    # Fixed prefixes: a user's diff.noprefix or diff.mnemonicPrefix would change the +++ lines.
    diff = _git(
        ["diff", "--unified=0", "--no-color", "--no-ext-diff", "--no-renames", "--src-prefix=a/",
         "--dst-prefix=b/", ref, "--"],
        root,
    )
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    return ChangedLines(
        ref=ref,
        lines=parse_diff(diff, root),
        whole={(root / name).resolve() for name in untracked.split("\0") if name},
    )
