"""Slack interactivity: button presses on incident messages and the `/fireline` slash command.

Slack posts both to the app's request URLs as `application/x-www-form-urlencoded`: button presses
as one field `payload` holding the JSON of a `block_actions` interaction (user, actions,
response_url), slash commands as fields (`command`, `text`, `user_id`, `response_url`, ...).
A press is answered 200 at once and the message is replaced through its `response_url`; a
command is answered in the response body. Signatures are checked before any of this (signing.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.incidents import service
from fireline.incidents.models import Incident, Status
from fireline.notify import slack as slack_message
from fireline.notify.message import NoticeEvent
from fireline.oncall import service as oncall
from fireline.oncall.actions import Action, act, load
from fireline.oncall.settings import ROLES, person_for_slack_user
from fireline.spec.config import Config

BUTTONS = {slack_message.ACKNOWLEDGE_ACTION: Action.ACKNOWLEDGE, slack_message.ON_IT_ACTION: Action.ON_IT,
           slack_message.RESOLVE_ACTION: Action.RESOLVE}
_NOTICE = {Status.TRIGGERED: NoticeEvent.TRIGGERED, Status.ACKNOWLEDGED: NoticeEvent.ACKNOWLEDGED,
           Status.MITIGATED: NoticeEvent.MITIGATED, Status.RESOLVED: NoticeEvent.RESOLVED}
_MENTION_RE = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
HELP = ("`/fireline ack ID` · `/fireline resolve ID [note]` · `/fireline status [ID]` · "
        "`/fireline oncall [SCHEDULE]` · `/fireline role ID commander|communications|scribe [@user|me|none]`")


class PayloadError(ValueError):
    """The body is not a Slack interaction or command fireline understands (answered 400)."""


def escape(text: str) -> str:
    """Slack mrkdwn control characters (alert text must never become a mention or a link)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Reply:
    """What to tell Slack: `body` is the HTTP answer; `update` goes to response_url when set."""

    body: dict[str, Any] | None
    update: dict[str, Any] | None = None
    response_url: str | None = None
    changed: bool = False


@dataclass(frozen=True)
class Press:
    user_id: str
    action_id: str
    value: str
    response_url: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_press(body: bytes) -> Press:
    fields = _form(body)
    raw = fields.get("payload")
    if raw is None:
        raise PayloadError("expected a form field `payload` with the interaction JSON")
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError:
        raise PayloadError("the `payload` field is not JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else type(payload).__name__
        raise PayloadError(f"interaction type {kind!r} is not handled (fireline handles block_actions)")
    user = payload.get("user")
    actions = payload.get("actions")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise PayloadError("the interaction has no user.id")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise PayloadError("the interaction has no actions")
    action = actions[0]
    response_url = payload.get("response_url")
    return Press(user["id"], str(action.get("action_id", "")), str(action.get("value", "")),
                 response_url if isinstance(response_url, str) else None)


def _form(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("the body is not a URL-encoded form") from None
    return {key: values[0] for key, values in parsed.items()}


def response_url_allowed(url: str | None, hosts: list[str]) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and (parts.hostname or "") in hosts


def ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def unknown_user(user_id: str) -> str:
    return (f"fireline does not know Slack user {user_id}: add `slack_user: {user_id}` to your entry under "
            "people in fireline.yaml. Nothing was changed.")


def message_for(session: Session, config: Config, incident: Incident, actor: str | None) -> dict[str, Any]:
    """The incident's message as it should read now (buttons for what is still possible)."""
    notice = service.build_notice(session, config, incident, _NOTICE[Status(incident.status)], actor=actor)
    return {**slack_message.message(notice, interactive=True), "replace_original": True}


def handle_press(session: Session, config: Config, press: Press, now: datetime) -> Reply:
    hosts = config.integrations.slack.response_url_hosts if config.integrations.slack else []
    url = press.response_url if response_url_allowed(press.response_url, hosts) else None
    action = BUTTONS.get(press.action_id)
    if action is None:  # link buttons (runbook, incident) also report presses: nothing to do
        return Reply(None)
    person = person_for_slack_user(config.people, press.user_id)
    if person is None:
        return Reply(None, ephemeral(unknown_user(press.user_id)), url)
    if not press.value.isdigit():
        return Reply(None, ephemeral(f"button value {press.value[:40]!r} is not an incident number"), url)
    incident = load(session, int(press.value))
    if incident is None:
        return Reply(None, ephemeral(f"incident #{press.value} does not exist"), url)
    outcome = act(session, config, incident, action, person, "Slack", now, person=person)
    if not outcome.changed:
        return Reply(None, ephemeral(outcome.text), url)
    return Reply(None, message_for(session, config, incident, person), url, changed=True)


# ---------------------------------------------------------------------------------------- commands

@dataclass(frozen=True)
class Command:
    user_id: str
    text: str
    response_url: str | None


def parse_command(body: bytes) -> Command:
    fields = _form(body)
    if "user_id" not in fields or "command" not in fields:
        raise PayloadError("expected a slash command form (command, text, user_id)")
    return Command(fields["user_id"], fields.get("text", "").strip(), fields.get("response_url"))


def handle_command(session: Session, config: Config, command: Command, now: datetime) -> Reply:
    words = command.text.split()
    verb = words[0].lower() if words else "help"
    if verb in ("help", ""):
        return Reply(ephemeral(HELP))
    if verb == "oncall":
        return Reply(ephemeral(_oncall_text(session, config, words[1] if len(words) > 1 else None, now)))
    if verb == "status":
        return Reply(ephemeral(_status_text(session, words[1] if len(words) > 1 else None)))
    if verb not in ("ack", "acknowledge", "resolve", "role"):
        return Reply(ephemeral(f"unknown command {escape(verb)!r}. {HELP}"))
    person = person_for_slack_user(config.people, command.user_id)
    if person is None:
        return Reply(ephemeral(unknown_user(command.user_id)))
    if len(words) < 2 or not words[1].lstrip("#").isdigit():
        return Reply(ephemeral(f"give the incident number, e.g. `/fireline {verb} 12`"))
    incident = load(session, int(words[1].lstrip("#")))
    if incident is None:
        return Reply(ephemeral(f"incident #{words[1].lstrip('#')} does not exist"))
    if verb == "role":
        return _role(session, config, incident, person, words[2:], now)
    outcome = act(session, config, incident, Action.RESOLVE if verb == "resolve" else Action.ACKNOWLEDGE, person,
                  "Slack", now)
    if not outcome.changed:
        return Reply(ephemeral(outcome.text))
    return Reply({"response_type": "in_channel", "text": escape(outcome.text)}, changed=True)


def _role(session: Session, config: Config, incident: Incident, person: str, args: list[str],
          now: datetime) -> Reply:
    if not args or args[0].lower() not in ROLES:
        return Reply(ephemeral(f"give a role: {', '.join(ROLES)}, e.g. `/fireline role {incident.id} commander`"))
    role = args[0].lower()
    target: str | None = person
    if len(args) > 1:
        who = args[1]
        mention = _MENTION_RE.match(who)
        if who.lower() == "none":
            target = None
        elif who.lower() == "me":
            target = person
        elif mention is not None:
            target = person_for_slack_user(config.people, mention.group(1))
            if target is None:
                return Reply(ephemeral(unknown_user(mention.group(1))))
        elif who.lstrip("@") in config.people:
            target = who.lstrip("@")
        else:
            return Reply(ephemeral(f"{escape(who)} is neither a Slack mention nor a person in fireline.yaml"))
    try:
        changed = oncall.assign_role(session, config, incident, role, target, person, now)
    except oncall.OnCallError as exc:
        return Reply(ephemeral(escape(str(exc))))
    if not changed:
        return Reply(ephemeral(f"nothing changed: {target or 'nobody'} already holds {role} of #{incident.id}"))
    text = (f"{target} is {role} of incident #{incident.id}" if target
            else f"nobody is {role} of incident #{incident.id} now")
    return Reply({"response_type": "in_channel", "text": text}, changed=True)


def _oncall_text(session: Session, config: Config, schedule: str | None, now: datetime) -> str:
    names = [schedule] if schedule else sorted(config.schedules)
    if not names:
        return "no schedules are defined in fireline.yaml"
    lines = []
    for name in names:
        if name not in config.schedules:
            return f"no schedule {escape(name)!r} (schedules: {', '.join(sorted(config.schedules)) or 'none'})"
        who = oncall.on_call(session, config, name, now)
        if who is None:
            lines.append(f"*{name}*: nobody on call")
            continue
        spec = config.people.get(who.person)
        mention = f"<@{spec.slack_user}>" if spec and spec.slack_user else who.person
        until = oncall.until(session, config, name, now)
        lines.append(f"*{name}*: {mention} ({who.source})" + (f" until {until:%Y-%m-%d %H:%M} UTC" if until else ""))
    return "\n".join(lines)


def _status_text(session: Session, incident_id: str | None) -> str:
    if incident_id is not None:
        if not incident_id.lstrip("#").isdigit():
            return "give the incident number, e.g. `/fireline status 12`"
        incident = session.get(Incident, int(incident_id.lstrip("#")))
        if incident is None:
            return f"incident #{incident_id.lstrip('#')} does not exist"
        incidents = [incident]
    else:
        incidents = list(session.scalars(select(Incident).where(
            Incident.status != Status.RESOLVED.value, Incident.kind == "incident").order_by(Incident.id.desc())
            .limit(10)))
        if not incidents:
            return "no open incidents"
    lines = []
    for incident in incidents:
        owner = f", acknowledged by {incident.acknowledged_by}" if incident.acknowledged_by else ""
        held = oncall.roles(session, incident.id)
        roles = "".join(f", {role} {who}" for role, who in sorted(held.items()))
        lines.append(f"#{incident.id} {incident.severity} {incident.status}{owner}{roles}: {escape(incident.title)}")
    return "\n".join(lines)
