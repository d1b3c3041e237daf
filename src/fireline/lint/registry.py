"""Every check, in the order the docs list them. Ids are stable: users disable checks by id.

The checks are listed by id and the module and class that implement them; a module is imported
only when a run needs its checks (`fireline lint` pays its start-up on every call): a run over
rule files never imports the Alertmanager checks, and validating `--disable` or a config's ids
imports none. RULE_CHECKS, ALERTMANAGER_CHECKS, COMMENT_CHECK, OFFLINE_CHECKS and ALL_CHECKS
are still here as names; reading one imports what it holds. tests/lint/test_lint_checks.py checks
the table against the classes (ids, order).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fireline.lint.checks.comment import BadComment
    from fireline.lint.model import AlertmanagerCheck, Check, RuleCheck

    RULE_CHECKS: tuple[RuleCheck, ...]
    ALERTMANAGER_CHECKS: tuple[AlertmanagerCheck, ...]
    COMMENT_CHECK: BadComment
    OFFLINE_CHECKS: tuple[Check, ...]
    ALL_CHECKS: tuple[Check, ...]

# (id, module under fireline.lint.checks, class)
RULE_CHECK_TABLE: tuple[tuple[str, str, str], ...] = (
    ("rules/undefined-series", "undefined_series", "UndefinedSeries"),
    ("rules/template", "template", "Template"),
    ("rules/missing-runbook", "annotations", "MissingRunbook"),
    ("rules/runbook-label", "annotations", "RunbookLabel"),
    ("rules/missing-summary", "annotations", "MissingSummary"),
    ("rules/cause-based-page", "cause_based", "CauseBasedPage"),
    ("slo/window-pair", "burn_rate", "WindowPair"),
    ("slo/burn-exceeds-budget", "burn_rate", "BurnExceedsBudget"),
    ("slo/budget-at-detection", "burn_rate", "BudgetAtDetection"),
    ("slo/for-delay", "burn_rate", "ForDelay"),
    ("rules/promtool", "promtool", "Promtool"),
    ("runbooks/missing-section", "runbooks", "MissingRunbookSection"),
    ("runbooks/missing-file", "runbooks", "MissingRunbookFile"),
    ("rules/duplicate", "duplicate", "DuplicateRule"),
    ("promql/fragile-binary", "fragile_binary", "FragileBinary"),
    ("rules/no-condition", "no_condition", "NoCondition"),
    ("rules/value-in-label", "value_in_label", "ValueInLabel"),
    ("rules/for-under-interval", "for_interval", "ForUnderInterval"),
    ("promql/redundant-anchor", "regex_anchor", "RedundantAnchor"),
    ("promql/impossible-selector", "impossible", "ImpossibleSelector"),
    ("rules/dropped-routing-label", "routing_labels", "DroppedRoutingLabel"),
    ("rules/required-label", "required", "RequiredLabel"),
    ("rules/required-annotation", "required", "RequiredAnnotation"),
)
ALERTMANAGER_CHECK_TABLE: tuple[tuple[str, str, str], ...] = (
    ("am/unreachable-route", "am_routes", "UnreachableRoute"),
    ("am/shadowed-route", "am_routes", "ShadowedRoute"),
    ("am/deprecated-matcher", "am_deprecated", "DeprecatedMatcher"),
    ("am/pagerduty-key-version", "am_pagerduty", "PagerDutyKeyVersion"),
    ("am/inline-secret", "am_inline_secret", "InlineSecret"),
    ("am/no-send-resolved", "am_receivers", "NoSendResolved"),
    ("am/undefined-receiver", "am_receivers", "UndefinedReceiver"),
    ("am/unused-receiver", "am_receivers", "UnusedReceiver"),
    ("am/inhibit-self", "am_inhibit", "InhibitSelf"),
    ("am/amtool", "amtool", "Amtool"),
)
COMMENT_CHECK_ID = "lint/comment"
# fireline.lint.checks.live.LIVE_CHECKS (--prometheus), in its order.
LIVE_CHECK_IDS: tuple[str, ...] = (
    "live/not-loaded", "live/eval-error", "live/eval-time", "live/missing-series", "live/retention",
)
CHECK_IDS: tuple[str, ...] = (
    *(row[0] for row in RULE_CHECK_TABLE),
    *(row[0] for row in ALERTMANAGER_CHECK_TABLE),
    COMMENT_CHECK_ID,
    *LIVE_CHECK_IDS,
)
_ROWS = {row[0]: row for row in (*RULE_CHECK_TABLE, *ALERTMANAGER_CHECK_TABLE)}


@cache
def check(check_id: str) -> Any:
    """The one instance of an offline check (rule or Alertmanager), its module imported on first use."""
    _, module, name = _ROWS[check_id]
    instance = getattr(importlib.import_module(f"fireline.lint.checks.{module}"), name)()
    if instance.id != check_id:
        raise AssertionError(f"fireline.lint.registry lists {name} as {check_id}, its id is {instance.id}")
    return instance


@cache
def rule_checks() -> tuple[RuleCheck, ...]:
    return tuple(check(row[0]) for row in RULE_CHECK_TABLE)


@cache
def alertmanager_checks() -> tuple[AlertmanagerCheck, ...]:
    return tuple(check(row[0]) for row in ALERTMANAGER_CHECK_TABLE)


@cache
def comment_check() -> BadComment:
    from fireline.lint.checks.comment import BadComment

    return BadComment()


def offline_checks() -> tuple[Check, ...]:
    """Each has good and bad fixtures. The live ones (--prometheus) are tested against a real Prometheus instead."""
    return (*rule_checks(), *alertmanager_checks(), comment_check())


def all_checks() -> tuple[Check, ...]:
    from fireline.lint.checks.live import LIVE_CHECKS

    return (*offline_checks(), *LIVE_CHECKS)


_LAZY: dict[str, Callable[[], Any]] = {
    "RULE_CHECKS": rule_checks,
    "ALERTMANAGER_CHECKS": alertmanager_checks,
    "COMMENT_CHECK": comment_check,
    "OFFLINE_CHECKS": offline_checks,
    "ALL_CHECKS": all_checks,
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return _LAZY[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
