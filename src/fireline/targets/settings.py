"""fireline.yaml `ruler:` section: how rule groups are laid out for Mimir, Cortex and Thanos rulers.

Kept apart from the layouts so that the config layer imports nothing but models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fireline.spec.models import Model


class RulerSettings(Model):
    namespace_by: Literal["team", "service"] = Field(
        default="team", description="mimir/cortex: one ruler namespace (one file) per team or per service")
    max_rules_per_rule_group: int | None = Field(
        default=None, ge=0,
        description="the ruler's -ruler.max-rules-per-rule-group; unset: Mimir's 20, Cortex's 0 (no limit)")
    max_rule_groups_per_tenant: int | None = Field(
        default=None, ge=0,
        description="the ruler's -ruler.max-rule-groups-per-tenant; unset: Mimir's 70, Cortex's 0 (no limit)")
    partial_response_strategy: Literal["abort", "warn"] = Field(
        default="abort", description="thanos: what a rule does when some store APIs do not answer")
