"""Every check, in the order the docs list them. Ids are stable: users disable checks by id."""

from __future__ import annotations

from fireline.lint.checks.am_deprecated import DeprecatedMatcher
from fireline.lint.checks.am_inhibit import InhibitSelf
from fireline.lint.checks.am_inline_secret import InlineSecret
from fireline.lint.checks.am_pagerduty import PagerDutyKeyVersion
from fireline.lint.checks.am_receivers import NoSendResolved, UndefinedReceiver, UnusedReceiver
from fireline.lint.checks.am_routes import ShadowedRoute, UnreachableRoute
from fireline.lint.checks.amtool import Amtool
from fireline.lint.checks.annotations import MissingRunbook, MissingSummary, RunbookLabel
from fireline.lint.checks.burn_rate import BudgetAtDetection, BurnExceedsBudget, ForDelay, WindowPair
from fireline.lint.checks.cause_based import CauseBasedPage
from fireline.lint.checks.promtool import Promtool
from fireline.lint.checks.runbooks import MissingRunbookFile, MissingRunbookSection
from fireline.lint.checks.template import Template
from fireline.lint.checks.undefined_series import UndefinedSeries
from fireline.lint.model import AlertmanagerCheck, Check, RuleCheck

RULE_CHECKS: tuple[RuleCheck, ...] = (
    UndefinedSeries(),
    Template(),
    MissingRunbook(),
    RunbookLabel(),
    MissingSummary(),
    CauseBasedPage(),
    WindowPair(),
    BurnExceedsBudget(),
    BudgetAtDetection(),
    ForDelay(),
    Promtool(),
    MissingRunbookSection(),
    MissingRunbookFile(),
)
ALERTMANAGER_CHECKS: tuple[AlertmanagerCheck, ...] = (
    UnreachableRoute(),
    ShadowedRoute(),
    DeprecatedMatcher(),
    PagerDutyKeyVersion(),
    InlineSecret(),
    NoSendResolved(),
    UndefinedReceiver(),
    UnusedReceiver(),
    InhibitSelf(),
    Amtool(),
)
ALL_CHECKS: tuple[Check, ...] = (*RULE_CHECKS, *ALERTMANAGER_CHECKS)
CHECK_IDS: tuple[str, ...] = tuple(c.id for c in ALL_CHECKS)
