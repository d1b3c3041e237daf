"""The Alertmanager config the stack derives: demo receivers, timers, the drill route and its twins."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fireline.routing.expected import load_expected_routes
from fireline.routing.tree import parse_config, receivers_for
from fireline.stack.amconfig import DRILL_PREFIX, CaptureMap, derive_stack_config, read_yaml, to_yaml, unsafe_receivers
from fireline.stack.process import StackError
from tests.stack.conftest import CAPTURE

pytestmark = pytest.mark.usefixtures("bundle")


def _derive(bundle: Path, tmp_path: Path, *, demo: bool = True) -> tuple[str, CaptureMap]:
    derived = derive_stack_config(
        read_yaml(bundle / "alertmanager/alertmanager.yml"), capture_url=CAPTURE, secrets_dir=tmp_path / "secrets",
        intake_url="http://127.0.0.1:18080/api/v1/alerts/alertmanager", token_file=str(tmp_path / "token"),
        demo=demo, group_wait="3s", group_interval="10s", repeat_interval="1h")
    return to_yaml(derived.data, "test"), derived.captured


def test_real_alerts_route_as_in_the_bundle_and_drill_alerts_only_to_twins(bundle: Path, tmp_path: Path) -> None:
    text, _ = _derive(bundle, tmp_path)
    original = parse_config((bundle / "alertmanager/alertmanager.yml").read_text())
    derived = parse_config(text)
    rows = load_expected_routes(bundle / "alertmanager/expected-routes.yml")
    assert len(rows) > 5
    for row in rows:
        real = receivers_for(derived, row.labels)
        assert real == receivers_for(original, row.labels) == list(row.receivers), row.name
        drill = receivers_for(derived, {**row.labels, "drill": "true"})
        assert drill == [DRILL_PREFIX + r for r in row.receivers], row.name


def test_demo_receivers_point_at_the_capture_server_with_no_secret_inline(bundle: Path, tmp_path: Path) -> None:
    text, captured = _derive(bundle, tmp_path)
    assert "/etc/fireline/secrets" not in text  # the bundle's secret files are never read or referenced
    derived = parse_config(text)
    fireline = next(r for r in derived.data["receivers"] if r["name"] == "fireline")
    hook = fireline["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:18080/api/v1/alerts/alertmanager"
    assert hook["http_config"]["authorization"]["credentials_file"] == str(tmp_path / "token")
    pager = next(r for r in derived.data["receivers"] if r["name"] == "payments-pager")["pagerduty_configs"][0]
    assert pager["url"] == f"{CAPTURE}/r/payments-pager/pagerduty/v2/enqueue"
    slack = next(r for r in derived.data["receivers"] if r["name"] == "payments-slack")["slack_configs"][0]
    assert Path(slack["api_url_file"]).read_text().strip() == f"{CAPTURE}/r/payments-slack/slack"
    assert oct(Path(slack["api_url_file"]).stat().st_mode & 0o777) == "0o600"
    assert captured.paths["payments-pager"] == [("pagerduty", "/r/payments-pager/pagerduty/v2/enqueue")]
    # Every derived timer is the demo one, the root's and any a route declares.
    assert {r.group_wait.seconds for r in derived.route.walk()} == {3.0}
    assert {r.group_interval.seconds for r in derived.route.walk()} == {10.0}


def test_drill_and_real_alerts_never_inhibit_each_other(bundle: Path, tmp_path: Path) -> None:
    text, _ = _derive(bundle, tmp_path)
    assert all("drill" in rule.equal for rule in parse_config(text).inhibit_rules)


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool not installed")
def test_derived_config_loads_in_alertmanager_0_25(bundle: Path, tmp_path: Path) -> None:
    for demo in (True, False):
        text, _ = _derive(bundle, tmp_path, demo=demo)
        path = tmp_path / f"am-{demo}.yml"
        path.write_text(text)
        run = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_safety_check_flags_real_receivers_and_passes_the_drill_route(bundle: Path, tmp_path: Path) -> None:
    rows = load_expected_routes(bundle / "alertmanager/expected-routes.yml")
    alerts = [{**row.labels, "drill": "true"} for row in rows]
    original = parse_config((bundle / "alertmanager/alertmanager.yml").read_text())
    unsafe = unsafe_receivers(original, alerts, capture_only=set())
    assert unsafe["payments-pager"] == "has pagerduty integrations"
    assert unsafe["payments-slack"] == "has slack integrations"
    assert "fireline" not in unsafe  # a loopback webhook notifies no person
    text, captured = _derive(bundle, tmp_path, demo=False)
    assert unsafe_receivers(parse_config(text), alerts, captured.receivers()) == {}


def test_receiver_names_that_clash_with_twins_are_refused(bundle: Path, tmp_path: Path) -> None:
    data = read_yaml(bundle / "alertmanager/alertmanager.yml")
    data["receivers"].append({"name": "drill-sre-slack"})
    with pytest.raises(StackError, match="drill-sre-slack"):
        derive_stack_config(data, capture_url=CAPTURE, secrets_dir=tmp_path, intake_url="http://x/", token_file="t",
                            demo=True, group_wait=None, group_interval=None, repeat_interval=None)


def test_live_receivers_keep_their_secrets_files_but_the_webhook_is_the_stacks(bundle: Path, tmp_path: Path) -> None:
    text, captured = _derive(bundle, tmp_path, demo=False)
    derived = parse_config(text)
    slack = next(r for r in derived.data["receivers"] if r["name"] == "payments-slack")["slack_configs"][0]
    assert slack["api_url_file"] == "/etc/fireline/secrets/slack.url"
    hook = next(r for r in derived.data["receivers"] if r["name"] == "fireline")["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:18080/api/v1/alerts/alertmanager"
    assert set(captured.receivers()) == {DRILL_PREFIX + r["name"] for r in derived.data["receivers"]
                                         if not r["name"].startswith(DRILL_PREFIX)}
