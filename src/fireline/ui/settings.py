"""Settings of the web UI, from the environment of `fireline serve` (docs/ui.md).

fireline.yaml has no `ui:` section (yet): these three settings are read from the environment so
a deployment can set them next to FIRELINE_TOKEN.

    FIRELINE_UI_READ     token (default): every page needs a login; open: anyone may read
    FIRELINE_STACK_DIR   the demo stack's state folder (last drill checklist, capture server URL)
    FIRELINE_CAPTURE_URL the capture server whose recorded notifications the UI lists
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ReadAccess = Literal["open", "token"]


class UISettingsError(ValueError):
    pass


@dataclass(frozen=True)
class UISettings:
    read: ReadAccess = "token"
    stack_dir: Path | None = None
    capture_url: str | None = None

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> UISettings:
        env = os.environ if environ is None else environ
        read = env.get("FIRELINE_UI_READ", "token").strip().lower() or "token"
        if read not in ("open", "token"):
            raise UISettingsError(f"FIRELINE_UI_READ={read!r}: use token (reading needs a login) or open")
        stack = env.get("FIRELINE_STACK_DIR", "").strip()
        capture = env.get("FIRELINE_CAPTURE_URL", "").strip().rstrip("/")
        if capture and not capture.startswith(("http://", "https://")):
            raise UISettingsError(f"FIRELINE_CAPTURE_URL={capture!r} must be an http:// URL")
        return cls("open" if read == "open" else "token", Path(stack) if stack else None, capture or None)

    @property
    def open_reading(self) -> bool:
        return self.read == "open"
