"""The web UI of `fireline serve` (docs/ui.md)."""
