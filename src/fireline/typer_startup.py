"""Two things Typer does on every call that fireline's commands do not need, done lazily instead.

- Typer converts each parameter value with a pydantic TypeAdapter: importing pydantic and building
  the adapters cost ~0.1 s, more than the rest of `fireline lint` on a small file. PlainRuntimeParam
  converts str, bool and Path parameters (and lists of them) without it, with the same results;
  numbers, choices and dates still go to Typer's adapters.
- Typer's help and error panels (typer.rich_utils) import rich's Markdown and Traceback, which pull
  markdown-it and pygments (~45 ms) for help in markdown mode and for pretty tracebacks, neither of
  which fireline uses. While typer.rich_utils loads, those two names are stand-ins that import the
  real class when first used.

`install()` (fireline.lazy_cli calls it) sets both up; output is unchanged, which
tests/test_cli_startup.py checks along with what a command imports.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from typer import _click as click
from typer._coercion import RuntimeParam, build_runtime_param
from typer._param_types import coerce_cli_path
from typer.core import _TyperParameter


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """Converts a str, bool or Path parameter (or a list of them) as Typer's pydantic adapter does.

    The command line gives str values (flags bools): a str or bool stays itself, a Path goes through
    Typer's path checks (coerce_cli_path) as Path(value), which is what pydantic makes of it. Any
    other value (a default of another type, a flag's value from an environment variable) goes to
    Typer's adapter.
    """

    leaf: type[Any]  # str, bool or Path
    many: bool  # list[leaf]

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: click.Context) -> Any:
        items = (list(value) if isinstance(value, list | tuple) else [value]) if self.many else [value]
        if not all(type(item) is self.leaf or (self.leaf is Path and (type(item) is str or isinstance(item, Path)))
                   for item in items):
            return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)
        if self.leaf is Path:
            items = [coerce_cli_path(Path(item) if type(item) is str else item, self.parameter_info,
                                     path_type=Path, param=param, ctx=ctx) for item in items]
        return items if self.many else items[0]


def plain_runtime_param(param: _TyperParameter) -> PlainRuntimeParam | None:
    """PlainRuntimeParam for a str, bool or Path parameter without a custom parser; None for others."""
    annotation: Any = param.type_descriptor.annotation
    info = param.type_descriptor.parameter_info
    many = get_origin(annotation) is list
    leaf = get_args(annotation)[0] if many else annotation
    if leaf not in (str, bool, Path) or info.parser is not None or (leaf is Path and info.path_type is not None):
        return None
    return PlainRuntimeParam(parameter_info=info, annotation=annotation, leaf=leaf, many=many)


def _get_runtime_param(self: _TyperParameter) -> RuntimeParam:
    """_TyperParameter.get_runtime_param (built on first use), PlainRuntimeParam where it applies."""
    if self._runtime_param is None:
        self._runtime_param = plain_runtime_param(self) or build_runtime_param(self.type_descriptor)
    return self._runtime_param


class _Markdown:
    """rich.markdown.Markdown for typer.rich_utils, imported when one is made."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.markdown import Markdown

        return Markdown(*args, **kwargs)


class _Traceback:
    """rich.traceback.Traceback for typer.rich_utils, imported when one is made."""

    @classmethod
    def from_exception(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.traceback import Traceback

        return Traceback.from_exception(*args, **kwargs)


_STAND_INS = {"rich.markdown": ("Markdown", _Markdown), "rich.traceback": ("Traceback", _Traceback)}


class _RichUtilsLoader:
    """Runs typer.rich_utils with stand-in rich.markdown and rich.traceback modules, then removes them."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ...: the file loader's
        return getattr(self.loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        placed: dict[str, types.ModuleType] = {}
        for name, (attribute, stand_in) in _STAND_INS.items():
            if name not in sys.modules:
                placed[name] = sys.modules[name] = types.ModuleType(name)
                setattr(placed[name], attribute, stand_in)
        try:
            self.loader.exec_module(module)
        finally:
            for name, placeholder in placed.items():
                if sys.modules.get(name) is placeholder:
                    del sys.modules[name]


class _RichUtilsFinder:
    """Finds typer.rich_utils as usual and gives it _RichUtilsLoader."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "typer.rich_utils":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _RichUtilsLoader(spec.loader)  # type: ignore[assignment]
        return spec


def install() -> None:
    """Plain parameters for every Typer parameter; the lean typer.rich_utils when it is first imported."""
    _TyperParameter.get_runtime_param = _get_runtime_param  # type: ignore[method-assign]
    if "typer.rich_utils" not in sys.modules and not any(isinstance(f, _RichUtilsFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _RichUtilsFinder())
