"""What the demo stack leaves for the UI: the capture server's URL and the last drill's checklist.

`fireline stack up` writes its state folder (stack.json, drill/last.json; see fireline.stack.stack).
The `fireline serve` it starts keeps its database at <state>/fireline/fireline.db, so a UI running
inside the stack finds the folder from its own database path; FIRELINE_STACK_DIR names it
otherwise, and the default `.fireline/stack` is used when it holds a stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fireline.stack.process import StackError
from fireline.stack.stack import DEFAULT_STATE_DIR, STATE_FILE, Layout

DRILL_FILE = Path("drill") / "last.json"


def stack_dir(configured: Path | None, database_url: str) -> Path | None:
    """The stack state folder: configured, else the one this server's SQLite database lives in."""
    if configured is not None:
        return configured
    prefix = "sqlite:///"
    if database_url.startswith(prefix):
        candidate = Path(database_url[len(prefix):]).parent.parent
        if (candidate / STATE_FILE).is_file():
            return candidate
    if (DEFAULT_STATE_DIR / STATE_FILE).is_file():
        return DEFAULT_STATE_DIR
    return None


def capture_url(folder: Path | None) -> str | None:
    if folder is None:
        return None
    try:
        state = Layout(folder).load_state()
    except StackError:
        return None
    url = state.urls.get("capture")
    return str(url) if url else None


@dataclass(frozen=True)
class DrillItem:
    number: int
    name: str
    title: str
    status: str
    seconds: float
    details: list[str]


@dataclass(frozen=True)
class DrillChecklist:
    run_id: str
    started_at: str
    finished_at: str
    ok: bool
    safe: bool
    items: list[DrillItem]
    incident: dict[str, Any] | None
    source: Path

    @property
    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items:
            found[item.status] = found.get(item.status, 0) + 1
        return found


def last_drill(folder: Path | None) -> tuple[DrillChecklist | None, str | None]:
    """The last drill's checklist, or why there is none to show."""
    if folder is None:
        return None, ("no demo stack found: run `fireline stack up` (state in .fireline/stack) or set "
                      "FIRELINE_STACK_DIR")
    path = folder / DRILL_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"no drill has run against the stack in {folder} yet: run `fireline drill`"
    except (OSError, ValueError) as exc:
        return None, f"{path} cannot be read: {exc}"
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("items"), list):
        return None, f"{path} is not a drill checklist this fireline understands (version 1)"
    try:
        items = [DrillItem(int(i["number"]), str(i["name"]), str(i.get("title", i["name"])), str(i["status"]),
                           float(i.get("seconds", 0.0)), [str(d) for d in i.get("details", [])])
                 for i in data["items"]]
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"{path} has a malformed item: {exc}"
    incident = data.get("incident")
    return DrillChecklist(str(data.get("run_id", "")), str(data.get("started_at", "")),
                          str(data.get("finished_at", "")), bool(data.get("ok")), bool(data.get("safe")), items,
                          incident if isinstance(incident, dict) else None, path), None
