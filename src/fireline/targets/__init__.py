"""Rule targets: the same rule groups laid out for each engine or ruler that loads them (docs/targets.md)."""

# Keys only one engine reads; stripped again when a bundle is checked with promtool. Here rather than
# in targets.layout so that `fireline lint` reads them without importing the generator (pydantic).
ENGINE_ONLY_GROUP_KEYS = ("partial_response_strategy",)
