"""Running the stack locally: the demo service, Prometheus, Alertmanager, fireline; drills."""
