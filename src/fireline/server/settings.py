"""fireline.yaml sections read by `fireline serve`: their models live in fireline.spec.server_settings.

They moved there so the config layer (fireline.spec.config) imports nothing from server/; this
module keeps the names the server code and its tests import.
"""

from fireline.spec.server_settings import (
    DEFAULT_DATABASE,
    TENANT_HEADER,
    EscalationStep,
    IncidentSeverity,
    OutboxSettings,
    PrometheusSettings,
    ServerSettings,
    SettingsError,
    SeverityMapping,
    ValueSource,
    check_database_url,
    check_escalation,
    normalise_database_url,
)

__all__ = [
    "DEFAULT_DATABASE",
    "TENANT_HEADER",
    "EscalationStep",
    "IncidentSeverity",
    "OutboxSettings",
    "PrometheusSettings",
    "ServerSettings",
    "SettingsError",
    "SeverityMapping",
    "ValueSource",
    "check_database_url",
    "check_escalation",
    "normalise_database_url",
]
