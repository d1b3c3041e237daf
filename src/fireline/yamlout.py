"""Deterministic YAML output: block style, multi-line strings as literal blocks, no line folding."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString


def _prepare(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_prepare(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value if value.endswith("\n") else value + "\n")
    return value


def dump_yaml(data: Any, header: str = "") -> str:
    yaml = YAML(typ="rt")
    yaml.width = 1_000_000  # never fold long PromQL lines
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(_prepare(data), stream)
    body = stream.getvalue()
    if header:
        body = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + body
    return body
