"""fireline: SLO-based alerting and incident response for the Prometheus stack."""

__version__ = "0.1.0"
