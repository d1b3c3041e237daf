"""Rule targets: the same rule groups laid out for each engine or ruler that loads them (docs/targets.md)."""
