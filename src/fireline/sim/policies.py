"""Alerting policies to compare: the spec's own tiers, well-known presets, and tiers from a file.

A policy only chooses windows, thresholds, `for:`, `keep_firing_for`, the low-traffic guard and the
trickle ticket; the simulator always evaluates them the way fireline's generated rules do (raw rates
up to 6h, event-weighted 5m recordings beyond), so differences between policies are differences of
policy, not of PromQL. `spec` is what fireline generates for the SLO (guard and trickle included);
`plain` is the same tiers without them: the multi-window policy as other tools write it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from fireline.rules.plan import guard_events, trickle_tier
from fireline.sim.errors import SimInputError
from fireline.slo.durations import Duration, DurationError
from fireline.slo.tiers import MIN_ERRORS_TO_FIRE, Severity, Tier, decimal_text
from fireline.spec.models import SLOSpec

PYRRA_BASE_WINDOW = Duration.parse("28d")
NO_DELAY = Duration(0)


@dataclass(frozen=True)
class PolicyTier:
    """One alert of a policy: long (and optional short) window burning faster than burn_rate."""

    long_window: Duration
    short_window: Duration | None  # None: a single-window alert
    burn_rate: Decimal
    severity: Severity
    for_: Duration = NO_DELAY
    keep_firing_for: Duration = NO_DELAY
    # The low-traffic guard: events the long window must hold before the tier may fire (0: none).
    # SLIs without event counts (ratio SLIs) have no guard whatever this says.
    min_events: int = 0

    @classmethod
    def from_tier(cls, tier: Tier, slo_window: Duration, min_events: int = 0) -> PolicyTier:
        return cls(tier.long_window, tier.short_window, tier.burn_rate_threshold(slo_window), tier.severity,
                   tier.for_, min_events=min_events)

    @property
    def key(self) -> str:
        return f"{self.long_window}/{self.short_window}" if self.short_window else str(self.long_window)

    @property
    def windows(self) -> tuple[Duration, ...]:
        return (self.long_window,) if self.short_window is None else (self.long_window, self.short_window)

    def as_tier(self, slo_window: Duration) -> Tier:
        """The same alert in budget terms, for the closed forms in fireline.slo.tiers."""
        share = Decimal(self.long_window.milliseconds) / Decimal(slo_window.milliseconds)
        budget_percent = self.burn_rate * share * 100
        return Tier(self.long_window, self.short_window or self.long_window, budget_percent, self.severity, self.for_)


@dataclass(frozen=True)
class Trickle:
    """The trickle ticket: at least min_errors errors in window while it holds fewer than below_events."""

    window: Duration
    below_events: int
    min_errors: int = MIN_ERRORS_TO_FIRE

    @property
    def key(self) -> str:
        return f"trickle {self.window}"


@dataclass(frozen=True)
class Policy:
    name: str
    tiers: tuple[PolicyTier, ...]
    trickle: Trickle | None = None

    @property
    def longest_window(self) -> Duration:
        return max(w for tier in self.tiers for w in tier.windows)


def _d(text: str) -> Duration:
    return Duration.parse(text)


def _factor_tiers(rows: list[tuple[str, str | None, str, Severity, str]]) -> tuple[PolicyTier, ...]:
    return tuple(PolicyTier(_d(long), _d(short) if short else None, Decimal(burn), severity, _d(for_))
                 for long, short, burn, severity, for_ in rows)


def workbook_policy(slo_window: Duration) -> Policy:
    """The SRE Workbook's table: fixed burn factors whatever the SLO window."""
    return Policy("workbook", _factor_tiers([
        ("1h", "5m", "14.4", Severity.PAGE, "0s"),
        ("6h", "30m", "6", Severity.PAGE, "0s"),
        ("1d", "2h", "3", Severity.TICKET, "0s"),
        ("3d", "6h", "1", Severity.TICKET, "0s"),
    ]))


def sloth_policy(slo_window: Duration) -> Policy:
    """Sloth's alert windows: budget shares 2/5/10/10 %, so 14.4/6/3/1 on 30d and no `for:`."""
    shares = [("1h", "5m", 2, Severity.PAGE), ("6h", "30m", 5, Severity.PAGE),
              ("1d", "2h", 10, Severity.TICKET), ("3d", "6h", 10, Severity.TICKET)]
    return Policy("sloth", tuple(
        PolicyTier.from_tier(Tier(_d(long), _d(short), Decimal(share), severity), slo_window)
        for long, short, share, severity in shares))


def pyrra_policy(slo_window: Duration) -> Policy:
    """Pyrra: factors 14/7/2/1; windows and `for:` defined for 28d and scaled to the SLO window."""
    scale = Decimal(slo_window.milliseconds) / Decimal(PYRRA_BASE_WINDOW.milliseconds)

    def scaled(text: str) -> Duration:
        # Pyrra rounds the scaled durations to the minute.
        minutes = (Decimal(_d(text).milliseconds) * scale / 60_000).quantize(Decimal(1))
        return Duration(int(minutes) * 60_000)

    rows = [("1h", "5m", 14, Severity.PAGE, "2m"), ("6h", "30m", 7, Severity.PAGE, "15m"),
            ("1d", "2h", 2, Severity.TICKET, "1h"), ("4d", "6h", 1, Severity.TICKET, "3h")]
    return Policy("pyrra", tuple(PolicyTier(scaled(long), scaled(short), Decimal(factor), severity, scaled(for_))
                                 for long, short, factor, severity, for_ in rows))


def single_burn_policy(slo_window: Duration) -> Policy:
    return Policy("single-burn", _factor_tiers([("1h", None, "14.4", Severity.PAGE, "0s")]))


def guide_policy(slo_window: Duration) -> Policy:
    """The copy-pasted guide: paired long windows (1h with 6h, 3d with 7d) and `for:` delays."""
    return Policy("guide", _factor_tiers([
        ("6h", "1h", "14.4", Severity.PAGE, "2m"),
        ("7d", "3d", "6", Severity.TICKET, "15m"),
    ]))


PRESETS = {
    "workbook": workbook_policy,
    "sloth": sloth_policy,
    "pyrra": pyrra_policy,
    "single-burn": single_burn_policy,
    "guide": guide_policy,
}
SPEC_POLICY = "spec"
PLAIN_POLICY = "plain"


def spec_policy(slo: SLOSpec) -> Policy:
    """The alerts fireline generates for the SLO: its tiers, each with its guard, and the trickle ticket."""
    tiers = tuple(PolicyTier.from_tier(t, slo.window, guard_events(slo, t)) for t in slo.tiers())
    tier = trickle_tier(slo)
    trickle = Trickle(tier.long_window, guard_events(slo, tier)) if tier is not None else None
    return Policy(SPEC_POLICY, tiers, trickle)


def plain_policy(slo: SLOSpec) -> Policy:
    """The spec's tiers as a plain multi-window policy: no low-traffic guard, no trickle ticket."""
    return Policy(PLAIN_POLICY, tuple(PolicyTier.from_tier(t, slo.window) for t in slo.tiers()))


_TIER_KEYS = ("long", "short", "burn_rate", "budget_percent", "severity", "for", "keep_firing_for", "min_events")


def _duration_field(value: Any, where: str) -> Duration:
    if not isinstance(value, str):
        raise SimInputError(f"{where}: expected a duration such as 5m or 1h, got {value!r}")
    try:
        return Duration.parse(value)
    except DurationError as exc:
        raise SimInputError(f"{where}: {exc}") from None


def _number_field(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SimInputError(f"{where}: expected a number, got {value!r}")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise SimInputError(f"{where}: expected a number, got {value!r}") from None
    if not number.is_finite() or number <= 0:
        raise SimInputError(f"{where}: must be a positive number, got {value!r}")
    return number


def _parse_tier(raw: Any, where: str, slo_window: Duration) -> PolicyTier:
    if not isinstance(raw, dict):
        raise SimInputError(f"{where}: expected a mapping with long, burn_rate (or budget_percent) and severity")
    for key in raw:
        if key not in _TIER_KEYS:
            close = difflib.get_close_matches(str(key), _TIER_KEYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(_TIER_KEYS)})"
            raise SimInputError(f"{where}: unknown key {key!r}{hint}")
    if "long" not in raw:
        raise SimInputError(f"{where}: missing long (the long window, e.g. 1h)")
    long = _duration_field(raw["long"], f"{where}.long")
    short = _duration_field(raw["short"], f"{where}.short") if "short" in raw else None
    if short is not None and short >= long:
        raise SimInputError(f"{where}: short window {short} must be shorter than long window {long}")
    severity_text = raw.get("severity")
    if severity_text not in (Severity.PAGE.value, Severity.TICKET.value):
        raise SimInputError(f"{where}.severity: expected page or ticket, got {severity_text!r}")
    severity = Severity(severity_text)
    if ("burn_rate" in raw) == ("budget_percent" in raw):
        raise SimInputError(f"{where}: give exactly one of burn_rate (e.g. 14.4) or budget_percent (e.g. 2)")
    if "burn_rate" in raw:
        burn = _number_field(raw["burn_rate"], f"{where}.burn_rate")
    else:
        share = _number_field(raw["budget_percent"], f"{where}.budget_percent")
        burn = Tier(long, short or long, share, severity).burn_rate_threshold(slo_window)
    for_ = _duration_field(raw["for"], f"{where}.for") if "for" in raw else Duration(0)
    keep = _duration_field(raw["keep_firing_for"], f"{where}.keep_firing_for") if "keep_firing_for" in raw \
        else Duration(0)
    min_events = raw.get("min_events", 0)
    if isinstance(min_events, bool) or not isinstance(min_events, int) or min_events < 0:
        raise SimInputError(f"{where}.min_events: expected a count of events, 0 or more, got {min_events!r}")
    return PolicyTier(long, short, burn, severity, for_, keep, min_events)


def load_policy_file(path: Path, slo_window: Duration) -> Policy:
    """A YAML file with `name` (optional) and `tiers`: long, short, burn_rate|budget_percent, severity,
    for, keep_firing_for, min_events."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimInputError(f"{path}: cannot read policy file: {exc.strerror or exc}") from None
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise SimInputError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tiers"), list) or not data["tiers"]:
        raise SimInputError(f"{path}: expected a mapping with a non-empty list `tiers`")
    unknown = sorted(set(data) - {"name", "tiers"})
    if unknown:
        raise SimInputError(f"{path}: unknown key {unknown[0]!r} (a policy file has name and tiers)")
    name = str(data.get("name") or path.stem)
    tiers = tuple(_parse_tier(raw, f"{path}: tiers[{i}]", slo_window) for i, raw in enumerate(data["tiers"]))
    keys = [t.key for t in tiers]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise SimInputError(f"{path}: two tiers use the windows {repeated[0]}")
    return Policy(name, tiers)


def resolve_policy(name: str, slo: SLOSpec) -> Policy:
    """A preset name, `spec`, or a path to a policy file."""
    if name == SPEC_POLICY:
        return spec_policy(slo)
    if name == PLAIN_POLICY:
        return plain_policy(slo)
    if name in PRESETS:
        return PRESETS[name](slo.window)
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_policy_file(path, slo.window)
    choices = [SPEC_POLICY, PLAIN_POLICY, *PRESETS]
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise SimInputError(f"unknown policy {name!r}{hint}: use one of {', '.join(choices)} or a policy YAML file")


def describe(policy: Policy) -> str:
    parts = []
    for tier in policy.tiers:
        extra = f" for {tier.for_}" if tier.for_.milliseconds else ""
        extra += f" keep {tier.keep_firing_for}" if tier.keep_firing_for.milliseconds else ""
        extra += f" with >={tier.min_events} events" if tier.min_events else ""
        parts.append(f"{tier.severity.value} {tier.key} >{decimal_text(tier.burn_rate)}{extra}")
    if policy.trickle is not None:
        t = policy.trickle
        parts.append(f"ticket {t.key}: >={t.min_errors} errors among <{t.below_events} events")
    return f"{policy.name}: " + ", ".join(parts)
