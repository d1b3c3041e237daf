"""fireline.yaml (apiVersion fireline/v1, kind Config): settings shared by every command.

Each feature adds its own section here; unknown sections are errors (with a did-you-mean), so a
typo never silently turns a feature off.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fireline.spec.models import Model


class Config(Model):
    api_version: Literal["fireline/v1"] = Field(alias="apiVersion")
    kind: Literal["Config"]
    specs: list[str] = []
