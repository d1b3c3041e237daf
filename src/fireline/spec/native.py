"""Native fireline/v1 specs written from any format the loader reads (`fireline import`).

The loader already converts Sloth, OpenSLO and Pyrra documents to the native model with their
meaning (windows, tiers, labels); writing that model back out as fireline/v1 YAML is the migration
path. Only fields that differ from their defaults are written, so the file reads like one a person
wrote, and it is checked by loading it again: the imported spec must equal the original's model,
so it generates the same rules.
"""

from __future__ import annotations

from typing import Any

from fireline.spec.errors import display_path
from fireline.spec.loader import LoadedService
from fireline.spec.models import ServiceSpec
from fireline.yamlout import dump_yaml


class ImportMismatch(RuntimeError):
    """The written spec would not load back to the same model (a bug to report, never silently written)."""


def _plain_number(text: str) -> int | float | str:
    """99.9 rather than '99.9' when the number reads back exactly; a string otherwise."""
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer() and str(int(number)) == text.removesuffix(".0"):
        return int(number)
    return number if repr(number) == text else text


def _numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_number(v) if k == "objective" and isinstance(v, str) else _numbers(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _restore(minimal: Any, full: Any, loaded: Any) -> Any:
    """minimal with full's values wherever loading minimal gives something else than full.

    A default is not always what leaving a field out means: a validator may fill it in (Sloth's
    page alerts without a severity label stay without one only if `labels: {}` is written)."""
    if isinstance(full, dict) and isinstance(minimal, dict) and isinstance(loaded, dict):
        out = dict(minimal)
        for key, value in full.items():
            if loaded.get(key) == value:
                continue
            out[key] = _restore(minimal[key], value, loaded.get(key)) if key in minimal else value
        return out
    if (isinstance(full, list) and isinstance(minimal, list) and isinstance(loaded, list)
            and len(full) == len(minimal) == len(loaded)):
        return [_restore(m, f, v) for m, f, v in zip(minimal, full, loaded, strict=True)]
    return full


def native_document(service: ServiceSpec) -> dict[str, Any]:
    full = service.model_dump(mode="json", by_alias=True)
    data: dict[str, Any] = service.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    for _ in range(5):  # each pass restores one level of what validators would fill in
        loaded = ServiceSpec.model_validate(data).model_dump(mode="json", by_alias=True)
        if loaded == full:
            break
        data = _restore(data, full, loaded)
    data = _numbers(data)
    # apiVersion and kind are defaults of the native model, but a file without them is not a spec.
    return {"apiVersion": "fireline/v1", "kind": "Service", **{k: v for k, v in data.items()
                                                               if k not in ("apiVersion", "kind")}}


def native_yaml(loaded: LoadedService) -> str:
    document = native_document(loaded.spec)
    again = ServiceSpec.model_validate(document)
    if again != loaded.spec:
        raise ImportMismatch(f"{display_path(loaded.source)}: service {loaded.spec.name} does not survive the "
                             "round trip to fireline/v1; please report this with the input file")
    header = (f"Imported by `fireline import` from {display_path(loaded.source)} ({loaded.format}).\n"
              "Generates the same rules as the original; edit this file from now on.")
    return dump_yaml(document, header=header)
