"""`fireline lint`: checks on Prometheus rule files and Alertmanager configs, one module per check."""
