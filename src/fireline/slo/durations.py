"""Prometheus-style durations: parsing, canonical printing, and the window names used in series."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

# Prometheus duration units (model.ParseDuration); y is 365d as in Prometheus.
_UNITS: dict[str, int] = {
    "y": 365 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
}
_UNIT_ORDER = ("y", "w", "d", "h", "m", "s", "ms")
_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


class DurationError(ValueError):
    """A string that is not a Prometheus duration."""


@total_ordering
@dataclass(frozen=True)
class Duration:
    """A whole number of milliseconds; printed the way a user would write it (30d, 1h30m, 5m)."""

    milliseconds: int

    @classmethod
    def parse(cls, text: str) -> Duration:
        text = text.strip()
        match = _DURATION_RE.match(text)
        if not text or match is None or not any(match.groups()):
            raise DurationError(
                f"{text!r} is not a duration: expected a number and a unit, e.g. 5m, 1h, 30d, 1h30m "
                "(units ms, s, m, h, d, w, y)"
            )
        ms = 0
        for unit, value in zip(_UNIT_ORDER, match.groups(), strict=True):
            if value is not None:
                ms += int(value) * (1 if unit == "ms" else _UNITS[unit] * 1000)
        return cls(ms)

    @classmethod
    def of_seconds(cls, seconds: float) -> Duration:
        return cls(round(seconds * 1000))

    @property
    def seconds(self) -> float:
        return self.milliseconds / 1000

    def __str__(self) -> str:
        """Days, hours, minutes, seconds; never weeks or years, so 28d stays 28d and 7d stays 7d."""
        if self.milliseconds == 0:
            return "0s"
        rest = self.milliseconds
        parts = []
        for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
            count, rest = divmod(rest, size)
            if count:
                parts.append(f"{count}{unit}")
        return "".join(parts)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        return self.milliseconds < other.milliseconds

    def __truediv__(self, other: Duration) -> float:
        return self.milliseconds / other.milliseconds

    def human(self) -> str:
        """A short reading for people: '50h', '2d 12h', '52s'."""
        return human_seconds(self.seconds)


def human_seconds(seconds: float) -> str:
    """Render seconds for a reader: 52s, 3m 20s, 50h, 4d 4h. Hours up to 72h read better than days."""
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds == float("inf"):
        return "never"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, sec = divmod(s, 60)
        return f"{m}m {sec}s" if sec else f"{m}m"
    if s <= 72 * 3600:
        h, rest = divmod(s, 3600)
        m = rest // 60
        return f"{h}h {m}m" if m else f"{h}h"
    d, rest = divmod(s, 86400)
    h = rest // 3600
    return f"{d}d {h}h" if h else f"{d}d"
