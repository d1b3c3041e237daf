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
from fireline.lint.checks.comment import BadComment
from fireline.lint.checks.duplicate import DuplicateRule
from fireline.lint.checks.for_interval import ForUnderInterval
from fireline.lint.checks.fragile_binary import FragileBinary
from fireline.lint.checks.impossible import ImpossibleSelector
from fireline.lint.checks.live import LIVE_CHECKS
from fireline.lint.checks.no_condition import NoCondition
from fireline.lint.checks.promtool import Promtool
from fireline.lint.checks.regex_anchor import RedundantAnchor
from fireline.lint.checks.required import RequiredAnnotation, RequiredLabel
from fireline.lint.checks.routing_labels import DroppedRoutingLabel
from fireline.lint.checks.runbooks import MissingRunbookFile, MissingRunbookSection
from fireline.lint.checks.template import Template
from fireline.lint.checks.undefined_series import UndefinedSeries
from fireline.lint.checks.value_in_label import ValueInLabel
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
    DuplicateRule(),
    FragileBinary(),
    NoCondition(),
    ValueInLabel(),
    ForUnderInterval(),
    RedundantAnchor(),
    ImpossibleSelector(),
    DroppedRoutingLabel(),
    RequiredLabel(),
    RequiredAnnotation(),
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
COMMENT_CHECK = BadComment()
# Offline checks: each has good and bad fixtures. The live ones (--prometheus) are tested against a
# real Prometheus instead.
OFFLINE_CHECKS: tuple[Check, ...] = (*RULE_CHECKS, *ALERTMANAGER_CHECKS, COMMENT_CHECK)
ALL_CHECKS: tuple[Check, ...] = (*OFFLINE_CHECKS, *LIVE_CHECKS)
CHECK_IDS: tuple[str, ...] = tuple(c.id for c in ALL_CHECKS)
