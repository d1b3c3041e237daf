"""PromQL as fireline writes and reads it: one model of selectors and matchers, typed expressions.

Every expression the generator writes is built from the nodes in `expr` and printed by them, so
its shape is decided in one place and parsed back in tests; user-supplied SLI queries enter as
`Query` nodes, checked by the parser when they are made. `selectors` reads the vector selectors
of any expression for the checks (lint) and for the series the promtool tests synthesise.

The expression nodes load on first use: `fireline lint` reads selectors without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fireline.promql.expr import (
        Aggregate,
        Binary,
        Call,
        Expr,
        Number,
        Paren,
        Query,
        RangeSelector,
        Subquery,
        VectorSelector,
        parse_error,
    )

# `selectors` names a submodule and its function: bound here, after the submodule loads, it is the function.
from fireline.promql.selectors import OPERATORS, Matcher, Selector, selectors

_EXPR = frozenset({"Aggregate", "Binary", "Call", "Expr", "Number", "Paren", "Query", "RangeSelector",
                   "Subquery", "VectorSelector", "parse_error"})

__all__ = [
    "OPERATORS",
    "Aggregate",
    "Binary",
    "Call",
    "Expr",
    "Matcher",
    "Number",
    "Paren",
    "Query",
    "RangeSelector",
    "Selector",
    "Subquery",
    "VectorSelector",
    "parse_error",
    "selectors",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPR:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("fireline.promql.expr"), name)
    globals()[name] = value
    return value
