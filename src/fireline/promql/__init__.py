"""PromQL as fireline writes and reads it: one model of selectors and matchers, typed expressions.

Every expression the generator writes is built from the nodes in `expr` and printed by them, so
its shape is decided in one place and parsed back in tests; user-supplied SLI queries enter as
`Query` nodes, checked by the parser when they are made. `selectors` reads the vector selectors
of any expression for the checks (lint) and for the series the promtool tests synthesise.
"""

from fireline.promql.expr import (
    Aggregate,
    Binary,
    Call,
    Expr,
    Number,
    Paren,
    Query,
    RangeSelector,
    VectorSelector,
    parse_error,
)
from fireline.promql.selectors import OPERATORS, Matcher, Selector, selectors

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
    "VectorSelector",
    "parse_error",
    "selectors",
]
