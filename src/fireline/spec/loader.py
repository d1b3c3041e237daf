"""Loading specs and fireline.yaml with errors that point at file, line, column and field.

Documents are read with ruamel.yaml (which keeps positions), recognised by their header
(fireline/v1 Service or Config, Sloth prometheus/v1 or PrometheusServiceLevel, OpenSLO v1/v1alpha,
Pyrra ServiceLevelObjective),
converted to the native models and validated by pydantic; pydantic's error locations are
mapped back to positions in the file.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from fireline.spec.config import Config
from fireline.spec.errors import Problem, SpecError, display_path, field_path
from fireline.spec.models import ServiceSpec

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Document:
    """One YAML document with where it came from."""

    path: Path
    index: int  # position in a multi-document file
    data: Any


@dataclass(frozen=True)
class LoadedService:
    spec: ServiceSpec
    source: Path
    format: str  # fireline/v1, sloth/prometheus-v1, sloth/k8s, openslo/v1, openslo/v1alpha
    # What was read but is not applied (e.g. Sloth SLO plugins): said, never silently dropped.
    warnings: tuple[Problem, ...] = ()


def read_documents(path: Path) -> list[Document]:
    name = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([Problem(name, 0, 0, "", f"cannot read file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise SpecError([Problem(name, 0, 0, "", "not a UTF-8 text file")]) from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        docs = [d for d in yaml.load_all(text) if d is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        detail = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise SpecError([Problem(name, line, col, "", f"invalid YAML: {detail}")]) from None
    except Exception as exc:  # ruamel raises several unrelated types for broken input
        raise SpecError([Problem(name, 0, 0, "", f"invalid YAML: {exc}")]) from None
    return [Document(path, i, d) for i, d in enumerate(_list_form(docs))]


def _list_form(docs: list[Any]) -> list[Any]:
    """oslo and OpenSLO's go-sdk write a file as one YAML list of documents: each item is a document."""
    out: list[Any] = []
    for doc in docs:
        if isinstance(doc, list) and doc and all(isinstance(d, dict) and "apiVersion" in d for d in doc):
            out.extend(doc)
        elif isinstance(doc, list) and not doc:
            continue  # an empty list of documents holds nothing to load
        else:
            out.append(doc)
    return out


def position(data: Any, loc: tuple[int | str, ...], *, key: bool = False) -> tuple[int, int]:
    """1-based line and column of the node at loc; the deepest existing ancestor when loc is missing."""
    node = data
    line, col = 1, 1
    # A document that is not the first of its file (or an item of a list-form file) starts below
    # line 1: ruamel keeps each node's own position, so the root reports where it begins.
    if isinstance(data, CommentedMap | CommentedSeq) and data.lc.line is not None:
        line, col = data.lc.line + 1, data.lc.col + 1
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, CommentedMap) and part in node:
            k_line, k_col, v_line, v_col = node.lc.data[part]
            line, col = (k_line + 1, k_col + 1) if key and last else (v_line + 1, v_col + 1)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            v_line, v_col = node.lc.data[part]
            line, col = v_line + 1, v_col + 1
            node = node[part]
        else:
            break
    return line, col


def _model_fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _unwrap(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [a for arg in get_args(annotation) for a in _unwrap(arg)]
    if origin is typing.Annotated:
        return _unwrap(get_args(annotation)[0])
    return [annotation]


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that the path loc leads to (for did-you-mean on unknown fields)."""
    current: Any = model
    for part in loc:
        candidates = _unwrap(current)
        nxt: Any = None
        for cand in candidates:
            if isinstance(cand, type) and issubclass(cand, BaseModel) and isinstance(part, str):
                for name, info in cand.model_fields.items():
                    if part in (name, info.alias):
                        nxt = info.annotation
            elif get_origin(cand) in (list, tuple) and isinstance(part, int):
                nxt = get_args(cand)[0]
            elif get_origin(cand) is dict and isinstance(part, str):
                nxt = get_args(cand)[1]
            if nxt is not None:
                break
        if nxt is None:
            return None
        current = nxt
    for cand in _unwrap(current):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _guesses(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    parent = _model_at(model, loc[:-1])
    return difflib.get_close_matches(str(loc[-1]), _model_fields(parent), n=1) if parent else []


def _lower_first(text: str) -> str:
    # Only the sentence's first letter: the allowed values ('SEV1', 'Service') keep their case.
    return text[:1].lower() + text[1:]


def _message(error: Any, model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = _model_fields(parent) if parent else []
        guess = _guesses(model, loc)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        expected = f" (expected one of: {', '.join(allowed)})" if allowed and not guess else ""
        return f"unknown field {loc[-1]!r}{hint}{expected}"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"{_lower_first(error['msg'])}, got {error.get('input')!r}"
    if kind in ("model_type", "dict_type"):
        return f"expected a mapping of fields, got {type(error.get('input')).__name__}"
    if kind == "list_type":
        return f"expected a list, got {type(error.get('input')).__name__}"
    if kind == "enum":
        return f"{_lower_first(error['msg'])}, got {error.get('input')!r}"
    msg: str = error["msg"]
    return msg.removeprefix("Value error, ")


def validate(model: type[Any], data: Any, source: Path, base_loc: tuple[int | str, ...] = ()) -> Any:
    """model.model_validate(data) with errors mapped to file positions."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        errors = exc.errors()
        # A misspelt field shows up twice: unknown 'objectve' and missing 'objective'. Report it once.
        explained = {
            (*tuple(e["loc"][:-1]), guess)
            for e in errors if e["type"] == "extra_forbidden"
            for guess in _guesses(model, tuple(e["loc"]))
        }
        for error in errors:
            if error["type"] == "missing" and tuple(error["loc"]) in explained:
                continue
            loc = tuple(error["loc"])
            # Model validators report at their model; point at the model's first line.
            line, col = position(data, loc, key=error["type"] == "extra_forbidden")
            problems.append(
                Problem(display_path(source), line, col, field_path(base_loc + loc), _message(error, model, loc))
            )
        raise SpecError(problems) from None


def detect_format(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    api, kind = data.get("apiVersion"), data.get("kind")
    if api == "fireline/v1" and kind in ("Service", "Config"):
        return f"fireline/{kind}"
    if str(data.get("version", "")) == "prometheus/v1":
        return "sloth/prometheus-v1"
    if api == "sloth.slok.dev/v1" and kind == "PrometheusServiceLevel":
        return "sloth/k8s"
    if api == "sloth.slok.dev/v1" and kind == "AlertWindows":
        return "sloth/alert-windows"
    if api in ("openslo/v1", "openslo/v1alpha"):
        if kind == "SLO":
            return str(api)
        if kind in ("Service", "SLI", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"):
            return "openslo/object"
    if isinstance(api, str) and api.startswith("openslo"):
        return "openslo/unsupported"
    if api == "pyrra.dev/v1alpha1" and kind == "ServiceLevelObjective":
        return "pyrra/v1alpha1"
    return None


# Formats converted from another tool: several files may hold SLOs of one service (Sloth refuses
# only the same service *and* SLO; Pyrra's service is its namespace), so their services merge.
IMPORTED_FORMATS = ("sloth/prometheus-v1", "sloth/k8s", "openslo/v1", "openslo/v1alpha", "pyrra/v1alpha1")
UNRECOGNISED = (
    "not a recognised spec: expected apiVersion fireline/v1 (kind Service or Config), Sloth version "
    "prometheus/v1, kind PrometheusServiceLevel or AlertWindows, OpenSLO openslo/v1 or openslo/v1alpha, or Pyrra "
    "pyrra.dev/v1alpha1 ServiceLevelObjective"
)


def iter_spec_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SPEC_SUFFIXES)
        else:
            yield path


def load_services(paths: Iterable[Path]) -> list[LoadedService]:
    """Every service spec in the given files and directories (Config documents are skipped).

    All problems across all files are collected before raising, so one run shows them all.
    """
    # local: importers use validate() from here
    from fireline.spec.importers import collect_openslo, collect_sloth_windows, convert

    services: list[LoadedService] = []
    problems: list[Problem] = []
    files = list(iter_spec_files(paths))
    if not files:
        names = ", ".join(display_path(p) for p in paths)
        raise SpecError([Problem(names or ".", 0, 0, "", "no .yaml or .yml spec files found")])
    documents: list[Document] = []
    for path in files:
        if not path.exists():
            problems.append(Problem(display_path(path), 0, 0, "", "no such file or directory"))
            continue
        try:
            documents.extend(read_documents(path))
        except SpecError as exc:
            problems.extend(exc.problems)
    # OpenSLO's indicatorRef and metricSourceRef may point into any of the given files.
    openslo, openslo_problems = collect_openslo(documents)
    problems.extend(openslo_problems)
    # Sloth's AlertWindows apply to every Sloth SLO given with them.
    sloth_windows, window_problems = collect_sloth_windows(documents, detect_format)
    problems.extend(window_problems)
    for doc in documents:
        fmt = detect_format(doc.data)
        if fmt == "fireline/Config":
            continue
        try:
            if fmt is None:
                raise SpecError([Problem(display_path(doc.path), *position(doc.data, ()), "", UNRECOGNISED)])
            if fmt == "openslo/unsupported":
                raise SpecError([Problem(
                    display_path(doc.path), *position(doc.data, ("apiVersion",)), "apiVersion",
                    f"OpenSLO {doc.data.get('apiVersion')} is not supported: use openslo/v1 or openslo/v1alpha",
                )])
            said: list[Problem] = []
            converted = convert(fmt, doc, openslo=openslo, sloth_windows=sloth_windows, warnings=said)
            services.extend(LoadedService(s, doc.path, fmt, tuple(said)) for s in converted)
        except SpecError as exc:
            problems.extend(exc.problems)
    merged = _merge_services(services, problems)
    if problems:
        raise SpecError(problems)
    return merged


def _merge_services(services: list[LoadedService], problems: list[Problem]) -> list[LoadedService]:
    """One entry per service: imported documents of one service merge, a repeated SLO is refused."""
    seen: dict[str, LoadedService] = {}
    slo_sources: dict[tuple[str, str], Path] = {}
    for loaded in services:
        for slo in loaded.spec.spec.slos:
            slo_sources.setdefault((loaded.spec.name, slo.name), loaded.source)
        first = seen.get(loaded.spec.name)
        if first is None:
            seen[loaded.spec.name] = loaded
            continue
        if first.format not in IMPORTED_FORMATS or loaded.format not in IMPORTED_FORMATS:
            problems.append(Problem(
                display_path(loaded.source), 0, 0, "metadata.name",
                f"service {loaded.spec.name!r} is also defined in {display_path(first.source)}",
            ))
            continue
        names = {slo.name for slo in first.spec.spec.slos}
        repeated = [slo.name for slo in loaded.spec.spec.slos if slo.name in names]
        if repeated:
            problems.extend(Problem(
                display_path(loaded.source), 0, 0, "",
                f"SLO {name!r} of service {loaded.spec.name!r} is also defined in "
                f"{display_path(slo_sources[(loaded.spec.name, name)])}",
            ) for name in repeated)
            continue
        if first.spec.spec.team != loaded.spec.spec.team:
            problems.append(Problem(
                display_path(loaded.source), 0, 0, "",
                f"service {loaded.spec.name!r} has team {loaded.spec.spec.team!r} here but "
                f"{first.spec.spec.team!r} in {display_path(first.source)}: give both the same team label",
            ))
            continue
        body = first.spec.spec.model_copy(update={"slos": [*first.spec.spec.slos, *loaded.spec.spec.slos]})
        labels = {**loaded.spec.metadata.labels, **first.spec.metadata.labels}
        metadata = first.spec.metadata.model_copy(update={"labels": labels})
        seen[loaded.spec.name] = LoadedService(first.spec.model_copy(update={"spec": body, "metadata": metadata}),
                                               first.source, first.format, first.warnings + loaded.warnings)
    return list(seen.values())


def load_config(path: Path) -> Config:
    documents = read_documents(path)
    configs = [d for d in documents if detect_format(d.data) == "fireline/Config"]
    if len(configs) != 1:
        raise SpecError([Problem(
            display_path(path), 1, 1, "",
            "expected exactly one document with apiVersion: fireline/v1 and kind: Config"
            + (f", found {len(configs)}" if configs else ""),
        )])
    config: Config = validate(Config, configs[0].data, path)
    return config
