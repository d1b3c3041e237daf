"""Only http(s) (and, in fireline's own pages, relative) URLs become links; alert text sent to Slack is
escaped; alert text in postmortem Markdown cannot form a link or HTML."""

from __future__ import annotations

from typing import Any

import pytest
from markdown_it import MarkdownIt

from fireline.notify import pagerduty, slack, webhook
from fireline.notify.links import markdown_text, safe_url, slack_clip, slack_escape
from fireline.notify.message import NoticeEvent
from tests.notify.schemas import assert_pagerduty, assert_slack
from tests.notify.test_payloads import notice

UNSAFE = ["javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
          "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
          "ftp://files.example.com/runbook", "mailto:oncall@example.com", "//evil.example/runbook",
          "/\\evil.example", "http:evil", "https://", "file:///etc/passwd"]
HOSTILE = "<!channel> see <https://evil.example|Runbook> & <@U123> now"


@pytest.mark.parametrize("url", UNSAFE)
def test_only_http_and_https_become_links(url: str) -> None:
    assert safe_url(url) is None
    assert safe_url(url, relative=True) is None


def test_http_https_and_site_paths_are_links() -> None:
    assert safe_url("https://runbooks.example.com/a.md") == "https://runbooks.example.com/a.md"
    assert safe_url("HTTP://runbooks.example.com/a.md") == "HTTP://runbooks.example.com/a.md"
    assert safe_url("/runbooks/checkout.md") is None, "relative only where fireline's own pages render it"
    assert safe_url("/runbooks/checkout.md", relative=True) == "/runbooks/checkout.md"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("event", list(NoticeEvent))
def test_every_alert_supplied_text_sent_to_slack_is_escaped(event: NoticeEvent) -> None:
    body = slack.message(notice(event, title=HOSTILE, summary=HOSTILE, service=HOSTILE, slo="a&b", team=HOSTILE,
                                burn_rate="<1x>", budget_remaining="<!here>", actor=HOSTILE, note=HOSTILE,
                                sections=[(HOSTILE, HOSTILE)]))
    assert_slack(body)
    texts = _strings(body)
    for text in texts:
        assert "<" not in text and ">" not in text, text
    assert any("&lt;!channel&gt; see &lt;https://evil.example|Runbook&gt; &amp; &lt;@U123&gt;" in t for t in texts)


def test_slack_and_pagerduty_link_to_http_runbooks_only() -> None:
    for url in UNSAFE:
        message = slack.message(notice(runbook_url=url))
        assert_slack(message)
        buttons = message["blocks"][-1]["elements"]
        assert [b["action_id"] for b in buttons] == ["incident"], url
        event = pagerduty.event(notice(runbook_url=url))
        assert_pagerduty({**event, "routing_key": "R" * 32})
        assert event["payload"]["custom_details"].get("runbook_url") is None, url
        assert [link["text"] for link in event["links"]] == ["fireline incident #42"], url
        assert webhook.body(notice(runbook_url=url))["runbook_url"] is None
    assert slack.message(notice())["blocks"][-1]["elements"][0]["url"] == "https://runbooks.example.com/checkout.md"
    assert pagerduty.event(notice())["links"][0]["href"] == "https://runbooks.example.com/checkout.md"


def test_clipping_escaped_slack_text_leaves_no_half_entity() -> None:
    escaped = slack_escape("a" * 8 + "<<<<")
    for limit in range(9, len(escaped)):
        clipped = slack_clip(escaped, limit)
        assert len(clipped) <= limit
        body = clipped.removesuffix("…")
        assert body.count("&") == body.count(";"), clipped


def test_markdown_text_cannot_form_links_or_html() -> None:
    md = MarkdownIt("commonmark")
    for text in ("[Runbook](javascript:alert(1))", "<javascript:alert(1)>", "<https://evil.example>",
                 "<script>alert(1)</script>", "[x][ref]\n\n[ref]: javascript:alert(1)", "<img src=x onerror=alert(1)>"):
        html = md.render(markdown_text(text))
        assert "<a " not in html and "<script" not in html and "<img" not in html, html
        assert "javascript" not in html or "href" not in html
