"""The `policy:` section of fireline.yaml: its models live in fireline.spec.policy_settings.

They moved there so the config layer (fireline.spec.config) imports nothing from policy/; this
module keeps the names the policy code and its tests import.
"""

from fireline.spec.policy_settings import (
    TEAM_RECEIVER,
    TEMPLATE_FIELDS,
    ChangeClass,
    Hysteresis,
    IncidentAction,
    PolicySettings,
    PolicyTier,
    SLOWindowOverride,
    TicketAction,
    TierActions,
    Tracker,
    TrackerKind,
    check_template,
    check_timezone,
    default_tiers,
)

__all__ = [
    "TEAM_RECEIVER",
    "TEMPLATE_FIELDS",
    "ChangeClass",
    "Hysteresis",
    "IncidentAction",
    "PolicySettings",
    "PolicyTier",
    "SLOWindowOverride",
    "TicketAction",
    "TierActions",
    "Tracker",
    "TrackerKind",
    "check_template",
    "check_timezone",
    "default_tiers",
]
