"""Generated alertmanager.yml: golden file, Alertmanager 0.25 validity (amtool) and routing intent."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from fireline.routing.alertmanager import (
    build_alertmanager_config,
    quote_matcher_value,
    render_alertmanager_config,
)
from fireline.routing.expected import expected_routes, load_expected_routes, write_alertmanager
from fireline.routing.tree import parse_config, receivers_for
from fireline.spec.config import Config
from fireline.spec.loader import load_config, load_services

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool (Alertmanager 0.25) is not installed")


def example_config() -> Config:
    return load_config(EXAMPLES / "fireline.yaml")


def example_teams() -> list[str]:
    return [loaded.spec.spec.team for loaded in load_services([EXAMPLES])]


def config_from(tmp_path: Path, body: str) -> Config:
    """A Config whose secret files exist in tmp_path (newer amtools may read them)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    for name in ("pd.key", "slack.url", "smtp.pw"):
        (secrets / name).write_text(f"secret-value-of-{name}\n", encoding="utf-8")
    path = tmp_path / "fireline.yaml"
    text = "apiVersion: fireline/v1\nkind: Config\n" + textwrap.dedent(body).replace("SECRETS", str(secrets))
    path.write_text(text, encoding="utf-8")
    return load_config(path)


# Configs covering each shape of the tree: webhook or not, no teams, a team without ticket
# receivers, a receiver with several integrations, team names that need regex escaping.
VARIANTS = {
    "no-webhook": """\
        default_receiver: sre
        receivers:
          sre: {slack: {channel: "#sre", api_url_file: SECRETS/slack.url}}
          pager: {pagerduty: {routing_key_file: SECRETS/pd.key}}
        teams:
          payments: {page: [pager, sre], ticket: [sre]}
        """,
    "webhook-no-teams": """\
        alertmanager: {webhook: "http://127.0.0.1:8080/api/v1/alerts/alertmanager"}
        default_receiver: sre
        receivers:
          sre: {slack: {channel: "#sre", api_url_file: SECRETS/slack.url}}
        """,
    "mixed": """\
        alertmanager:
          webhook: "http://127.0.0.1:8080/api/v1/alerts/alertmanager"
          defaults: {group_by: ["..."], group_wait: 10s, group_interval: 1m, repeat_interval: 12h}
        default_receiver: mail
        receivers:
          mail: {email: {to: sre@example.com, from: am@example.com, smarthost: "smtp.example.com:587",
                         auth_username: am, auth_password_file: SECRETS/smtp.pw}}
          everything: {pagerduty: {routing_key_file: SECRETS/pd.key},
                       slack: {channel: "#all", api_url_file: SECRETS/slack.url},
                       webhook: {url: "http://127.0.0.1:9000/", max_alerts: 10}}
          search-slack: {slack: {channel: "@search-oncall", api_url_file: SECRETS/slack.url}}
        teams:
          search.api: {page: [everything, search-slack]}
          search-web: {ticket: [search-slack]}
          idle: {}
        """,
}


def test_example_alertmanager_golden(golden: Callable[[str, str], None]) -> None:
    golden("examples-alertmanager.yml", render_alertmanager_config(example_config()))


def test_example_expected_routes_golden(tmp_path: Path, golden: Callable[[str, str], None]) -> None:
    written = write_alertmanager(example_config(), example_teams(), tmp_path)
    assert [p.name for p in written] == ["alertmanager.yml", "expected-routes.yml"]
    golden("examples-expected-routes.yml", written[1].read_text(encoding="utf-8"))


def test_output_is_deterministic(tmp_path: Path) -> None:
    first = render_alertmanager_config(example_config())
    assert first == render_alertmanager_config(example_config())
    config = config_from(tmp_path, VARIANTS["mixed"])
    assert render_alertmanager_config(config) == render_alertmanager_config(config)


def test_example_routing_intent() -> None:
    config = parse_config(render_alertmanager_config(example_config()))
    assert receivers_for(config, {"team": "payments", "fireline_severity": "page"}) == [
        "fireline", "payments-pager", "payments-slack"]
    assert receivers_for(config, {"team": "payments", "fireline_severity": "ticket"}) == [
        "fireline", "payments-slack"]
    assert receivers_for(config, {"team": "myteam", "fireline_severity": "page"}) == [
        "fireline", "myteam-slack"]
    assert receivers_for(config, {"team": "nobody", "fireline_severity": "page"}) == ["fireline", "sre-slack"]
    assert receivers_for(config, {}) == ["fireline", "sre-slack"]


@pytest.mark.parametrize("variant", ["examples", *VARIANTS])
def test_tree_model_agrees_with_expected_table(tmp_path: Path, variant: str) -> None:
    config = example_config() if variant == "examples" else config_from(tmp_path, VARIANTS[variant])
    tree = parse_config(render_alertmanager_config(config))
    for row in expected_routes(config, ["unconfigured-team"]):
        assert receivers_for(tree, row.labels) == list(row.receivers), row.name


def test_only_matchers_syntax_and_send_resolved_everywhere(tmp_path: Path) -> None:
    for config in (example_config(), config_from(tmp_path, VARIANTS["mixed"])):
        document = build_alertmanager_config(config)
        text = render_alertmanager_config(config)
        for deprecated in ("match:", "match_re:", "source_match:", "target_match:", "service_key"):
            assert deprecated not in text
        for receiver in document["receivers"]:
            integrations = [c for key, configs in receiver.items()
                            if key.endswith("_configs") for c in configs]
            assert integrations, receiver["name"]
            assert all(c["send_resolved"] is True for c in integrations), receiver["name"]


def test_secrets_are_referenced_by_path_never_copied(tmp_path: Path) -> None:
    config = config_from(tmp_path, VARIANTS["mixed"])
    text = render_alertmanager_config(config)
    assert "secret-value-of" not in text
    assert f"routing_key_file: {tmp_path}/secrets/pd.key" in text
    assert f"auth_password_file: {tmp_path}/secrets/smtp.pw" in text


def test_team_names_are_escaped_in_the_rest_route(tmp_path: Path) -> None:
    tree = parse_config(render_alertmanager_config(config_from(tmp_path, VARIANTS["mixed"])))
    # search.api is routed; "searchXapi" must not be mistaken for it by an unescaped dot.
    assert receivers_for(tree, {"team": "searchXapi", "fireline_severity": "page"}) == ["fireline", "mail"]
    assert receivers_for(tree, {"team": "search.api", "fireline_severity": "page"}) == [
        "fireline", "everything", "search-slack"]


def test_unused_receivers_are_left_out() -> None:
    config = example_config()
    names = [r["name"] for r in build_alertmanager_config(config)["receivers"]]
    assert names == ["fireline", "discovery-pager", "discovery-slack", "myteam-slack", "payments-pager",
                     "payments-slack", "sre-slack"]


def test_quoted_matcher_values() -> None:
    assert quote_matcher_value('a"b\\c') == '"a\\"b\\\\c"'


def _inhibited(rule_source: dict[str, str], target: dict[str, str]) -> bool:
    tree = parse_config(render_alertmanager_config(example_config()))
    for rule in tree.inhibit_rules:
        if (all(m.matches(target) for m in rule.target_matchers)
                and all(m.matches(rule_source) for m in rule.source_matchers)
                and all(rule_source.get(n, "") == target.get(n, "") for n in rule.equal)):
            return True
    return False


def test_page_inhibits_ticket_of_the_same_slo_only() -> None:
    page = {"alertname": "CheckoutAvailabilityBurn", "service": "checkout", "slo": "availability",
            "team": "payments", "fireline_severity": "page", "severity": "critical", "long_window": "1h"}
    ticket = {**page, "fireline_severity": "ticket", "severity": "warning", "long_window": "1d"}
    assert _inhibited(page, ticket)
    assert not _inhibited(page, {**ticket, "slo": "latency"})
    assert not _inhibited(ticket, page)


def test_critical_budget_alert_inhibits_the_warning_one() -> None:
    critical = {"alertname": "CheckoutAvailabilityErrorBudgetLow", "service": "checkout",
                "slo": "availability", "team": "payments", "fireline_severity": "page",
                "severity": "critical"}
    warning = {**critical, "fireline_severity": "ticket", "severity": "warning"}
    assert _inhibited(critical, warning)


def test_inhibition_needs_the_equal_labels_on_both_sides() -> None:
    # Without service/slo both sides would compare "" == "" and every ticket would be muted.
    assert not _inhibited({"fireline_severity": "page"}, {"fireline_severity": "ticket"})
    assert not _inhibited({"fireline_severity": "page", "service": "a", "slo": "b"},
                          {"fireline_severity": "ticket"})


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, check=False, timeout=60)


@needs_amtool
@pytest.mark.parametrize("variant", ["examples", *VARIANTS])
def test_amtool_check_config_accepts_generated_config(tmp_path: Path, variant: str) -> None:
    config = example_config() if variant == "examples" else config_from(tmp_path, VARIANTS[variant])
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(config), encoding="utf-8")
    result = amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_amtool
def test_amtool_check_config_does_not_read_secret_files(tmp_path: Path) -> None:
    # The example's secret paths do not exist here: 0.25 validates *_file fields without opening
    # them (Alertmanager reads them when notifying), so CI can check configs without secrets.
    assert not Path("/etc/fireline/secrets/slack.url").exists()
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(example_config()), encoding="utf-8")
    assert amtool("check-config", str(path)).returncode == 0


@needs_amtool
def test_amtool_rejects_what_we_avoid(tmp_path: Path) -> None:
    # The harness can fail: 0.25 refuses webhook url_file, which we only emit for version >= 0.26.
    config = config_from(tmp_path, """\
        alertmanager: {version: "0.26"}
        default_receiver: hook
        receivers:
          hook: {webhook: {url_file: SECRETS/slack.url}}
        """)
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(config), encoding="utf-8")
    result = amtool("check-config", str(path))
    assert result.returncode != 0 and "url_file" in result.stdout


@needs_amtool
@pytest.mark.parametrize("variant", ["examples", *VARIANTS])
def test_amtool_routes_match_the_expected_table(tmp_path: Path, variant: str) -> None:
    if variant == "examples":
        config, teams = example_config(), example_teams()
    else:
        config, teams = config_from(tmp_path, VARIANTS[variant]), ["unconfigured-team"]
    write_alertmanager(config, teams, tmp_path / "out")
    am = tmp_path / "out" / "alertmanager" / "alertmanager.yml"
    rows = load_expected_routes(tmp_path / "out" / "alertmanager" / "expected-routes.yml")
    assert rows
    for row in rows:
        labels = [f"{k}={v}" for k, v in sorted(row.labels.items())]
        result = amtool("config", "routes", "test", f"--config.file={am}",
                        f"--verify.receivers={','.join(row.receivers)}", *labels)
        assert result.returncode == 0, f"{row.name}: {result.stdout}{result.stderr}"
        assert result.stdout.strip().splitlines()[0] == ",".join(row.receivers)


def test_fireline_webhook_sends_the_bearer_token_from_a_file(tmp_path: Path) -> None:
    """fireline serve refuses intake without its token, so the generated webhook must carry it."""
    from fireline.bundle import BundleContext, generate_bundle

    config = load_config(EXAMPLES / "fireline.yaml")
    document = build_alertmanager_config(config)
    fireline = next(r for r in document["receivers"] if r["name"] == "fireline")["webhook_configs"][0]
    assert fireline["http_config"] == {
        "authorization": {"type": "Bearer", "credentials_file": "/etc/fireline/secrets/fireline.token"}}
    text = (EXAMPLES / "fireline.yaml").read_text().replace(
        "  webhook_token_file: /etc/fireline/secrets/fireline.token     # its API token, read by Alertmanager\n", "")
    (tmp_path / "fireline.yaml").write_text(text)
    ctx = generate_bundle(BundleContext(services=load_services([EXAMPLES / "checkout.yaml"]), out=tmp_path / "out",
                                        config=load_config(tmp_path / "fireline.yaml")))
    assert any("no webhook_token_file" in note for note in ctx.notes)
