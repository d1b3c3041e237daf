"""Runbooks and the error-budget policy document, rendered from Jinja2 templates (docs/runbooks.md)."""
