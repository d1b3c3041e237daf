"""JSON Schemas of what Slack and PagerDuty accept, written from their public reference docs.

Slack: "Sending messages using incoming webhooks" (payload fields) and the Block Kit reference
(blocks: header, section, context, actions; composition objects: text; elements: button, image).
Limits as documented: header text 150; section text 3000; section fields at most 10, each 2000;
block_id 255; context 1..10 elements; actions 1..25 elements; button text 75, action_id 255,
url 3000, value 2000, style primary|danger; at most 50 blocks per message.

PagerDuty: Events API v2 "Send an Event" (POST https://events.pagerduty.com/v2/enqueue): routing_key
(32-character integration key) and event_action (trigger|acknowledge|resolve) always; dedup_key
(max 255) for acknowledge and resolve; payload with summary (max 1024), source, severity
(critical|error|warning|info) for trigger, plus optional timestamp, component, group, class,
custom_details; images, links, client, client_url.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

_PLAIN = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
          "properties": {"type": {"const": "plain_text"}, "text": {"type": "string", "minLength": 1},
                         "emoji": {"type": "boolean"}}}
_MRKDWN = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
           "properties": {"type": {"const": "mrkdwn"}, "text": {"type": "string", "minLength": 1},
                          "verbatim": {"type": "boolean"}}}


def _text(kind: dict[str, Any], max_length: int) -> dict[str, Any]:
    limited = {**kind, "properties": {**kind["properties"], "text": {"type": "string", "minLength": 1,
                                                                       "maxLength": max_length}}}
    return limited


def _any_text(max_length: int) -> dict[str, Any]:
    return {"oneOf": [_text(_PLAIN, max_length), _text(_MRKDWN, max_length)]}


_BLOCK_ID = {"type": "string", "maxLength": 255}
_BUTTON = {
    "type": "object", "required": ["type", "text"], "additionalProperties": False,
    "properties": {
        "type": {"const": "button"}, "text": _text(_PLAIN, 75), "action_id": {"type": "string", "maxLength": 255},
        "url": {"type": "string", "maxLength": 3000, "pattern": "^https?://"},
        "value": {"type": "string", "maxLength": 2000}, "style": {"enum": ["primary", "danger"]},
        "accessibility_label": {"type": "string", "maxLength": 75}, "confirm": {"type": "object"},
    },
}
_IMAGE_ELEMENT = {"type": "object", "required": ["type", "image_url", "alt_text"],
                  "properties": {"type": {"const": "image"}, "image_url": {"type": "string"},
                                 "alt_text": {"type": "string"}}}
_BLOCKS = {
    "header": {"type": "object", "required": ["type", "text"], "additionalProperties": False,
               "properties": {"type": {"const": "header"}, "text": _text(_PLAIN, 150), "block_id": _BLOCK_ID}},
    "section": {"type": "object", "required": ["type"], "additionalProperties": False,
                "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                "properties": {"type": {"const": "section"}, "text": _any_text(3000), "block_id": _BLOCK_ID,
                               "fields": {"type": "array", "minItems": 1, "maxItems": 10,
                                          "items": _any_text(2000)},
                               "accessory": {"type": "object"}}},
    "context": {"type": "object", "required": ["type", "elements"], "additionalProperties": False,
                "properties": {"type": {"const": "context"}, "block_id": _BLOCK_ID,
                               "elements": {"type": "array", "minItems": 1, "maxItems": 10,
                                            "items": {"oneOf": [_PLAIN, _MRKDWN, _IMAGE_ELEMENT]}}}},
    "actions": {"type": "object", "required": ["type", "elements"], "additionalProperties": False,
                "properties": {"type": {"const": "actions"}, "block_id": _BLOCK_ID,
                               "elements": {"type": "array", "minItems": 1, "maxItems": 25, "items": _BUTTON}}},
    "divider": {"type": "object", "required": ["type"], "additionalProperties": False,
                "properties": {"type": {"const": "divider"}, "block_id": _BLOCK_ID}},
}

SLACK_INCOMING_WEBHOOK = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {"type": "array", "maxItems": 50, "items": {
            "type": "object", "required": ["type"],
            "properties": {"type": {"enum": sorted(_BLOCKS)}},
            "allOf": [{"if": {"properties": {"type": {"const": name}}}, "then": schema}
                      for name, schema in _BLOCKS.items()]}},
        "attachments": {"type": "array"},
        "thread_ts": {"type": "string"},
        "mrkdwn": {"type": "boolean"},
        "unfurl_links": {"type": "boolean"},
        "unfurl_media": {"type": "boolean"},
        # Legacy incoming-webhook overrides (Alertmanager sends them too).
        "channel": {"type": "string", "pattern": "^[#@]"},
        "username": {"type": "string"},
        "icon_emoji": {"type": "string"},
        "icon_url": {"type": "string"},
    },
}

PAGERDUTY_EVENT_V2 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["routing_key", "event_action"],
    "additionalProperties": False,
    "properties": {
        "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "payload": {
            "type": "object", "required": ["summary", "source", "severity"], "additionalProperties": False,
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string", "format": "date-time"},
                "component": {"type": "string"}, "group": {"type": "string"}, "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
        "images": {"type": "array", "items": {"type": "object", "required": ["src"],
                                              "properties": {"src": {"type": "string"}, "href": {"type": "string"},
                                                             "alt": {"type": "string"}}}},
        "links": {"type": "array", "items": {"type": "object", "required": ["href"], "additionalProperties": False,
                                             "properties": {"href": {"type": "string", "pattern": "^https?://"},
                                                            "text": {"type": "string"}}}},
        "client": {"type": "string"},
        "client_url": {"type": "string", "pattern": "^https?://"},
    },
    "allOf": [
        {"if": {"properties": {"event_action": {"const": "trigger"}}}, "then": {"required": ["payload"]}},
        {"if": {"properties": {"event_action": {"enum": ["acknowledge", "resolve"]}}},
         "then": {"required": ["dedup_key"]}},
    ],
}


def errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in validator.iter_errors(document)]


def assert_slack(document: Any) -> None:
    problems = errors(SLACK_INCOMING_WEBHOOK, document)
    assert not problems, "not a valid Slack incoming-webhook message:\n" + "\n".join(problems)


def assert_pagerduty(document: Any) -> None:
    problems = errors(PAGERDUTY_EVENT_V2, document)
    assert not problems, "not a valid PagerDuty Events API v2 event:\n" + "\n".join(problems)
