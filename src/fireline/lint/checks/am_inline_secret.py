"""am/inline-secret: keys, tokens and secret webhook URLs written into the config, and placeholders.

Alertmanager does not expand environment variables in its config; secrets belong in the
`*_file` fields, read from files the deployment mounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fireline.lint.files import AlertmanagerFile
from fireline.lint.model import AlertmanagerCheck, Finding, LintContext, Severity
from fireline.routing.tree import line_of

# field -> the field that reads it from a file (Alertmanager 0.25 unless noted)
SECRET_FIELDS = {
    "slack_api_url": "slack_api_url_file",
    "service_key": "service_key_file",
    "routing_key": "routing_key_file",
    "api_key": "api_key_file",
    "opsgenie_api_key": "opsgenie_api_key_file",
    "victorops_api_key": "victorops_api_key_file",
    "user_key": "user_key_file (0.26+)",
    "token": "token_file (0.26+)",
    "bot_token": "bot_token_file (0.26+)",
    "api_secret": "api_secret_file (newer versions)",
    "wechat_api_secret": "the file-based setting of a newer version",
    "auth_password": "auth_password_file",
    "smtp_auth_password": "smtp_auth_password_file",
    "auth_secret": "auth_secret_file (newer versions)",
    "smtp_auth_secret": "the file-based setting of a newer version",
    "password": "password_file",
    "bearer_token": "bearer_token_file (or authorization.credentials_file)",
    "credentials": "credentials_file",
    "client_secret": "client_secret_file",
    "secret_key": "a role or the AWS credentials file",
    "webhook_url": "webhook_url_file (0.26+)",
}
# Same name, no secret: VictorOps' routing_key picks a routing rule (the api_key is the secret), and
# Alertmanager has no routing_key_file for it, so the suggested fix would not even load.
NOT_SECRET = {("routing_key", "victorops_configs")}
# URL fields whose URL is itself the credential (Slack incoming webhooks and the like).
SECRET_URL_FIELDS = {"api_url": "slack_configs", "url": "webhook_configs"}
SECRET_HOSTS = (
    "hooks.slack.com",
    "discord.com/api/webhooks",
    "webhook.office.com",
    "outlook.office.com/webhook",
)
SECRET_QUERY = re.compile(r"token|key|secret|password|sig|auth", re.IGNORECASE)
PLACEHOLDER = re.compile(
    r"\bYOUR[_-][A-Z0-9_-]+|<(?![!@#])[^<>{}\n]*\b(?:key|token|secret|url|webhook|password)\b[^<>{}\n]*>"
    r"|\bCHANGE[_-]?ME\b|\bREPLACE[_-]?ME\b|X{6,}",
    re.IGNORECASE,
)


def secret_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.username or parts.password:
        return True
    if any(host in url for host in SECRET_HOSTS):
        return True
    return any(SECRET_QUERY.search(name) for name in parse_qs(parts.query))


class InlineSecret(AlertmanagerCheck):
    id = "am/inline-secret"
    severity = Severity.ERROR
    summary = "A secret (key, token, password, secret webhook URL) or a placeholder is written inline."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        yield from self._walk(file, file.data, [])

    def _walk(self, file: AlertmanagerFile, node: Any, path: list[str]) -> Iterator[Finding]:
        if isinstance(node, CommentedMap):
            for key, value in node.items():
                if isinstance(value, str):
                    yield from self._value(file, str(key), value, line_of(node, key), path)
                else:
                    yield from self._walk(file, value, [*path, str(key)])
        elif isinstance(node, CommentedSeq):
            for item in node:
                yield from self._walk(file, item, path)

    def _value(self, file: AlertmanagerFile, key: str, value: str, line: int, path: list[str]) -> Iterator[Finding]:
        if not value.strip() or value == "<secret>":
            return
        placeholder = PLACEHOLDER.search(value)
        if placeholder is not None:
            yield self.finding(
                file.name,
                line,
                f"{key} holds the placeholder {placeholder.group()!r}: notifications to it fail. Put the "
                f"real value in a file and point {SECRET_FIELDS.get(key, key + '_file')} at it.",
            )
            return
        if key in SECRET_FIELDS and (key, path[-1] if path else "") not in NOT_SECRET:
            yield self.finding(
                file.name,
                line,
                f"{key} is a secret written inline: it ends up in version control, in logs and in every "
                f"copy of the config. Use {SECRET_FIELDS[key]} pointing at a file the deployment mounts.",
            )
        elif key in SECRET_URL_FIELDS and SECRET_URL_FIELDS[key] in path and (key == "api_url" or secret_url(value)):
            alternative = "api_url_file" if key == "api_url" else "url_file (0.26+) or a URL without credentials"
            yield self.finding(
                file.name,
                line,
                f"{key} is a webhook URL that is itself the credential (anyone with it can post), written "
                f"inline. Use {alternative}.",
            )
