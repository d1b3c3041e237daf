"""Rule targets: each layout's files (golden), Mimir/Cortex namespaces and limits, manifests' namespaces,
and the real tools reading them back (promtool through `fireline check`, vmalert -dryRun)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from fireline.bundle import BundleContext, generate_bundle
from fireline.check import check_bundle
from fireline.cli import app
from fireline.lint.files import load as load_lint_files
from fireline.lint.runner import lint
from fireline.rules.generate import rule_groups
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config, load_services
from fireline.targets.layout import ServiceRules, Target, target_files
from fireline.targets.settings import RulerSettings
from tests.conftest import EXAMPLES, ROOT, assert_golden

GOLDEN = ROOT / "tests" / "golden" / "targets"
yaml = YAML(typ="safe")


def _generate(out: Path, target: Target, config: Path | None = EXAMPLES / "fireline.yaml",
              specs: list[Path] | None = None) -> BundleContext:
    return generate_bundle(BundleContext(
        services=load_services(specs or [EXAMPLES]), out=out, rule_format=target,
        config=load_config(config) if config else None))


def _rule_files(out: Path, target: Target) -> list[Path]:
    folder = "prometheus" if target in (Target.PROMETHEUS, Target.PROMETHEUS_OPERATOR) else str(target)
    return sorted(p for p in (out / folder).glob("*.yml"))


@pytest.mark.parametrize("target", [t for t in Target if t is not Target.PROMETHEUS])
def test_golden_layout_of_every_target(tmp_path: Path, target: Target) -> None:
    _generate(tmp_path, target)
    files = _rule_files(tmp_path, target)
    assert files, f"no rule files for {target}"
    for path in files:
        assert_golden(GOLDEN / str(target) / path.name, path.read_text(encoding="utf-8"))
    # the golden folder holds exactly what the target writes, nothing stale
    assert sorted(p.name for p in (GOLDEN / str(target)).iterdir()) == [p.name for p in files]


def _groups_by_team(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """The plain Prometheus target's groups, collected per owning team."""
    _generate(tmp_path / "plain", Target.PROMETHEUS)
    by_team: dict[str, list[dict[str, Any]]] = {}
    for loaded in sorted(load_services([EXAMPLES]), key=lambda s: s.spec.name):
        plain = tmp_path / "plain" / "prometheus" / f"{loaded.spec.name}.rules.yml"
        by_team.setdefault(loaded.spec.spec.team, []).extend(yaml.load(plain.read_text(encoding="utf-8"))["groups"])
    return by_team


@pytest.mark.parametrize("target", [Target.MIMIR, Target.CORTEX])
def test_mimir_and_cortex_get_one_load_shaped_file_per_team(tmp_path: Path, target: Target) -> None:
    _generate(tmp_path, target)
    expected = _groups_by_team(tmp_path)
    files = _rule_files(tmp_path, target)
    assert [p.stem for p in files] == sorted(expected) == ["discovery", "myteam", "payments"]
    for path in files:
        doc = yaml.load(path.read_text(encoding="utf-8"))
        # mimirtool/cortextool `rules load` read exactly this: namespace beside the Prometheus groups.
        assert list(doc) == ["namespace", "groups"] and doc["namespace"] == path.stem
        names = [g["name"] for g in doc["groups"]]
        assert len(names) == len(set(names)), "group names repeat inside a namespace: the ruler refuses them"
        assert doc["groups"] == expected[path.stem]


def test_namespace_per_service_when_asked() -> None:
    services = [ServiceRules(s.spec, s.source.name, rule_groups(s.spec)) for s in load_services([EXAMPLES])]
    files = target_files(Target.MIMIR, services, RulerSettings(namespace_by="service"))
    assert sorted(files) == ["mimir/checkout.yml", "mimir/myservice.yml", "mimir/search.yml"]
    assert "namespace: checkout\n" in files["mimir/checkout.yml"]


def _config(tmp_path: Path, ruler: str) -> Path:
    text = (EXAMPLES / "fireline.yaml").read_text(encoding="utf-8") + f"ruler:\n{ruler}"
    path = tmp_path / "fireline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_rules_per_group_over_the_limit_are_refused_naming_the_group(tmp_path: Path) -> None:
    config = _config(tmp_path, "  max_rules_per_rule_group: 12\n")
    result = CliRunner().invoke(app, ["generate", str(EXAMPLES), "-c", str(config), "-o", str(tmp_path / "out"),
                                      "--target", "mimir"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    # the 13-rule burn groups of checkout and myservice break it; search's 8-rule group does not
    assert "group fireline:checkout:availability (namespace payments, from checkout.yaml) has 13 rules" in message
    assert "group fireline:myservice:requests-availability (namespace myteam" in message
    assert "fireline:search:availability " not in message
    assert "over max_rules_per_rule_group 12" in message and "-ruler.max-rules-per-rule-group" in message
    assert not (tmp_path / "out" / "mimir").exists()


def test_groups_per_tenant_over_the_limit_are_refused_naming_the_first_group_over(tmp_path: Path) -> None:
    config = _config(tmp_path, "  max_rule_groups_per_tenant: 7\n")
    with pytest.raises(ValueError) as caught:
        _generate(tmp_path / "out", Target.CORTEX, config)
    message = str(caught.value)
    # 11 groups: discovery's 2 (a ratio SLI has no hourly tier), myteam's 3, payments' 6; the 8th in
    # namespace order is the third of payments
    assert "the tenant would hold 11 rule groups, over max_rule_groups_per_tenant 7" in message
    assert "first group over the limit is fireline:checkout:availability:budget (namespace payments" in message


def test_mimir_defaults_apply_and_cortex_has_none() -> None:
    services = [ServiceRules(s.spec, s.source.name, rule_groups(s.spec)) for s in load_services([EXAMPLES])]
    many = [ServiceRules(services[0].service, "big.yaml", [
        {"name": f"g{i}", "rules": [{"record": "x", "expr": "1", "labels": {"service": "s"}}]} for i in range(71)])]
    with pytest.raises(ValueError, match="over max_rule_groups_per_tenant 70"):
        target_files(Target.MIMIR, many, RulerSettings())
    assert target_files(Target.CORTEX, many, RulerSettings())  # Cortex ships without limits


def _with_namespace(tmp_path: Path, namespace: str) -> Path:
    text = (EXAMPLES / "checkout.yaml").read_text(encoding="utf-8").replace(
        "  name: checkout\n", f"  name: checkout\n  namespace: {namespace}\n", 1)
    path = tmp_path / "checkout.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("target", "api_version", "kind", "name"), [
    (Target.PROMETHEUS_OPERATOR, "monitoring.coreos.com/v1", "PrometheusRule", "checkout.prometheusrule.yml"),
    (Target.VMRULE, "operator.victoriametrics.com/v1beta1", "VMRule", "checkout.vmrule.yml"),
])
def test_manifests_keep_the_specs_namespace(tmp_path: Path, target: Target, api_version: str, kind: str,
                                            name: str) -> None:
    spec = _with_namespace(tmp_path, "shop-prod")
    _generate(tmp_path / "out", target, config=None, specs=[spec])
    folder = "prometheus" if target is Target.PROMETHEUS_OPERATOR else "vmrule"
    manifest = yaml.load((tmp_path / "out" / folder / name).read_text(encoding="utf-8"))
    assert (manifest["apiVersion"], manifest["kind"]) == (api_version, kind)
    assert manifest["metadata"]["namespace"] == "shop-prod"
    assert manifest["metadata"]["name"] == "fireline-checkout"
    _generate(tmp_path / "plain", Target.PROMETHEUS, config=None, specs=[spec])
    plain = yaml.load((tmp_path / "plain" / "prometheus" / "checkout.rules.yml").read_text(encoding="utf-8"))
    assert manifest["spec"]["groups"] == plain["groups"]


def test_a_namespace_kubernetes_refuses_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_services([_with_namespace(tmp_path, "Shop_Prod")])
    assert "metadata.namespace" in str(caught.value.problems[0]) and "Kubernetes namespace" in str(
        caught.value.problems[0])


def test_thanos_groups_carry_the_partial_response_strategy(tmp_path: Path) -> None:
    _generate(tmp_path / "abort", Target.THANOS)
    _generate(tmp_path / "warn", Target.THANOS, _config(tmp_path, "  partial_response_strategy: warn\n"))
    for folder, strategy in (("abort", "abort"), ("warn", "warn")):
        for path in _rule_files(tmp_path / folder, Target.THANOS):
            groups = yaml.load(path.read_text(encoding="utf-8"))["groups"]
            assert groups and all(g["partial_response_strategy"] == strategy for g in groups)


@pytest.mark.promtool
@pytest.mark.parametrize("target", list(Target))
def test_lint_reads_every_target_and_finds_nothing(tmp_path: Path, target: Target) -> None:
    _generate(tmp_path, target)
    rule_files = _rule_files(tmp_path, target)
    # every file is read as rules (not skipped as unknown YAML), and promtool sees only its groups
    assert len(load_lint_files(rule_files)[0]) == len(rule_files)
    assert lint(rule_files).findings == []


@pytest.mark.slow
@pytest.mark.promtool
@pytest.mark.parametrize("target", [Target.PROMETHEUS_OPERATOR, Target.VMRULE, Target.MIMIR, Target.THANOS])
def test_fireline_check_runs_promtool_check_and_test_on_other_targets(tmp_path: Path, target: Target) -> None:
    # one small spec per target: promtool test rules is the slow part, and the extraction is what differs
    _generate(tmp_path, target, config=None, specs=[EXAMPLES / "search.yaml"])
    results = check_bundle(tmp_path)
    assert [(r.service, r.step, r.ok) for r in results] == [
        ("search", "check rules", True), ("search", "test rules", True), ("search", "behaviour", True)], \
        [r.output for r in results]


@pytest.mark.skipif(shutil.which("vmalert") is None, reason="vmalert not installed (make install adds it)")
@pytest.mark.parametrize("target", [Target.VMALERT, Target.VMRULE])
def test_vmalert_loads_the_vmalert_and_vmrule_groups(tmp_path: Path, target: Target) -> None:
    _generate(tmp_path / "out", target)
    files = _rule_files(tmp_path / "out", target)
    if target is Target.VMRULE:  # the operator hands vmalert spec.groups as a rule file
        plain = []
        for path in files:
            groups = yaml.load(path.read_text(encoding="utf-8"))["spec"]["groups"]
            plain.append(tmp_path / f"{path.stem}.yml")
            plain[-1].write_text(json.dumps({"groups": groups}), encoding="utf-8")
        files = plain
    run = subprocess.run(["vmalert", "-dryRun", *[f"-rule={p}" for p in files]],
                         capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(rate(x[5m]\n", encoding="utf-8")
    run = subprocess.run(["vmalert", "-dryRun", f"-rule={broken}"], capture_output=True, text=True, timeout=60,
                         check=False, cwd=tmp_path)
    assert run.returncode != 0  # the check above can fail
