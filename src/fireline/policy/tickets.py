"""Opening tickets: GitHub Issues REST, Jira REST (v2 issue create), or a generic webhook.

The API token is read from the tracker's token_file or token_env at send time; it goes into the
Authorization header only and never into logs, errors or the database.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fireline.policy.settings import Tracker, TrackerKind


class TicketError(Exception):
    """The ticket could not be opened; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class TicketRequest:
    title: str
    body: str
    labels: list[str]
    priority: str | None
    due_date: str | None  # ISO date
    key: str  # the action key: sent along so a receiver can drop a repeat


def read_token(tracker: Tracker, name: str) -> str | None:
    if tracker.token_env is not None:
        value = os.environ.get(tracker.token_env, "").strip()
        if value:
            return value
        if tracker.token_file is None:
            raise TicketError(f"tracker {name}: environment variable {tracker.token_env} is not set",
                              retryable=True)
    if tracker.token_file is not None:
        try:
            value = Path(tracker.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TicketError(f"tracker {name}: cannot read token_file {tracker.token_file}: "
                              f"{exc.strerror or type(exc).__name__}", retryable=True) from None
        if not value:
            raise TicketError(f"tracker {name}: token_file {tracker.token_file} is empty", retryable=True)
        return value
    return None


def _request(tracker: Tracker, name: str, ticket: TicketRequest,
             token: str | None) -> tuple[str, dict[str, Any], dict[str, str]]:
    headers = {"User-Agent": "fireline", "X-Fireline-Delivery": ticket.key}
    if tracker.type is TrackerKind.GITHUB:
        labels = list(ticket.labels)
        if ticket.priority:
            labels.append(f"priority:{ticket.priority}")
        body = ticket.body + (f"\n\nDue: {ticket.due_date}" if ticket.due_date else "")
        headers |= {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return (f"{tracker.api_url}/repos/{tracker.repository}/issues",
                {"title": ticket.title, "body": body, "labels": labels}, headers)
    if tracker.type is TrackerKind.JIRA:
        fields: dict[str, Any] = {
            "project": {"key": tracker.project}, "summary": ticket.title, "description": ticket.body,
            "issuetype": {"name": tracker.issue_type}, "labels": [label.replace(" ", "-") for label in ticket.labels],
        }
        if ticket.priority:
            fields["priority"] = {"name": ticket.priority.capitalize()}
        if ticket.due_date:
            fields["duedate"] = ticket.due_date
        if token and tracker.user:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{tracker.user}:{token}".encode()).decode()
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        return f"{tracker.api_url}/rest/api/2/issue", {"fields": fields}, headers
    if token:
        headers["Authorization"] = f"Bearer {token}"
    assert tracker.url is not None
    return tracker.url, {"kind": "fireline.ticket", "title": ticket.title, "body": ticket.body,
                         "labels": ticket.labels, "priority": ticket.priority, "due_date": ticket.due_date,
                         "key": ticket.key}, headers


def open_ticket(tracker: Tracker, name: str, ticket: TicketRequest, *, timeout: float = 10.0,
                transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Create the ticket; returns where it is ({"url": ..., "id": ...} as far as the tracker says)."""
    token = read_token(tracker, name)
    url, body, headers = _request(tracker, name, ticket, token)
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
            response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise TicketError(f"tracker {name}: request failed ({type(exc).__name__})", retryable=True) from None
    if not 200 <= response.status_code < 300:
        retryable = response.status_code in (408, 429) or response.status_code >= 500
        raise TicketError(f"tracker {name}: HTTP {response.status_code}: {response.text[:200]}",
                          retryable=retryable)
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    link = answer.get("html_url") or answer.get("self") or answer.get("url")
    ident = answer.get("number") or answer.get("key") or answer.get("id")
    return {"tracker": name, "url": link, "id": ident, "status_code": response.status_code}
