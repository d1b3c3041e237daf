"""Which URLs may become links, and text made inert for Slack and Markdown.

Alert annotations (runbook_url, summary, description) are written by whoever can push an alert, so
they are untrusted: a `javascript:` or `data:` runbook_url must never be a link, and `<!channel>` or
`<https://evil.example|Runbook>` in a summary must reach Slack as text. Only http(s) URLs (and, where a
page of fireline renders them, relative paths) become links: in the UI, Slack, PagerDuty and the
postmortem Markdown alike.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_CONTROL_RE = re.compile(r"[\x00-\x20\x7f]")
_PARTIAL_ENTITY_RE = re.compile(r"&[a-z]{0,3}$")
_MARKDOWN_LINK_RE = re.compile(r"([\\\[\]<>])")


def safe_url(url: str | None, *, relative: bool = False) -> str | None:
    """The URL when it is http(s) with a host (or, if `relative`, a path on this site); else None."""
    if not url:
        return None
    # Browsers strip or ignore control characters and spaces inside schemes ("java\tscript:"): refuse them.
    if _CONTROL_RE.search(url) or "\\" in url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https"):
        return url if parts.netloc else None
    if relative and not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//"):
        return url
    return None


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities: no mention, link or channel from alert text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_clip(escaped: str, limit: int) -> str:
    """Cut escaped Slack text to limit characters without leaving half an entity behind."""
    if len(escaped) <= limit:
        return escaped
    return _PARTIAL_ENTITY_RE.sub("", escaped[: limit - 1]) + "…"


def markdown_text(text: str) -> str:
    """Text for a Markdown document that cannot form a link, an autolink or raw HTML."""
    return _MARKDOWN_LINK_RE.sub(r"\\\1", text)
