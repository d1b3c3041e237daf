"""The web UI links to http(s) URLs and its own paths only: a hostile runbook_url or Markdown link in alert
text is shown as text, never as a link (the CSP is a second line, not the first)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fireline.ui.routes import UI
from tests.ui.support import InProcess, alert, in_process, notification


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    monkeypatch.setenv("FIRELINE_UI_READ", "open")
    with in_process(tmp_path) as running:
        yield running


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", " JAVASCRIPT:alert(1)",
                                 "data:text/html,<script>alert(1)</script>", "//evil.example/x", "vbscript:x"])
def test_a_hostile_runbook_url_is_text_not_a_link(server: InProcess, url: str) -> None:
    body = alert("checkout", "payments", fingerprint="a1",
                 summary="see [the runbook](javascript:alert(1)) or <a href='javascript:alert(2)'>this</a>")
    body["annotations"]["runbook_url"] = url
    result = server.alert(notification(body, group_key="g1"))
    html = server.client.get(f"/incidents/{result['incident_id']}").text
    hrefs = _hrefs(html)
    assert not [h for h in hrefs if "javascript" in h.lower() or h.startswith(("data:", "//", "vbscript"))], hrefs
    assert "not an http(s) link" in html
    assert "<a href='javascript" not in html


def test_http_and_site_runbooks_are_links(server: InProcess) -> None:
    for fingerprint, url in (("b1", "https://runbooks.example.com/checkout.md"),
                             ("b2", "/runbooks/checkout-availability-page.md")):
        body = alert("checkout", "payments", fingerprint=fingerprint)
        body["annotations"]["runbook_url"] = url
        result = server.alert(notification(body, group_key=f"g-{fingerprint}"))
        assert url in _hrefs(server.client.get(f"/incidents/{result['incident_id']}").text)


def test_rendered_markdown_links_only_to_http_and_site_paths() -> None:
    html = UI().markdown.render("[a](ftp://files.example) [b](https://ok.example/x) [c](/runbooks/x.md) "
                                "[d](mailto:x@example.com) [e](javascript:alert(1)) <https://auto.example>")
    assert sorted(_hrefs(html)) == ["/runbooks/x.md", "https://auto.example", "https://ok.example/x"]
