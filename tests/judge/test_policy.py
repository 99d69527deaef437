from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from scanner.errors import InputError
from scanner.judge.policy import load_policy

SAMPLES = sorted((ROOT / "sample_configs" / "policies").glob("*.yaml"))


def test_there_are_four_sample_policies() -> None:
    assert {p.stem for p in SAMPLES} >= {"eu-gdpr-baseline", "nl-municipality", "us-ndaa-889", "staging-lab-ci"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_policies_validate_and_every_rule_has_references(path: Path) -> None:
    policy = load_policy(path)
    assert policy.enabled_rules()
    for rule in policy.enabled_rules():
        assert rule.references, f"{path.name}: {rule.id} has no legal reference"
        assert all(r.url.startswith("https://") or r.url.startswith("http://") for r in rule.references)


def test_extends_overrides_severity_and_keeps_parameters() -> None:
    nl = load_policy("nl-municipality")
    assert nl.rules["wifi-tracking"].severity == "critical"
    assert nl.rules["banned-vendor"].params["vendors"] == ["Hikvision", "Dahua", "Huawei", "ZTE", "Hytera"]
    assert len(nl.files) == 2
    ci = load_policy("staging-lab-ci")
    assert ci.fail_on == "medium"
    assert all(r.severity in ("medium", "high", "critical") for r in ci.enabled_rules())


def test_policy_hash_changes_with_the_base(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    child = tmp_path / "child.yaml"
    base.write_text("name: base\nrules:\n  banned-vendor: {vendors: [Dahua]}\n")
    child.write_text("name: child\nextends: base\nrules: {}\n")
    first = load_policy(child).sha256
    base.write_text("name: base\nrules:\n  banned-vendor: {vendors: [Hikvision]}\n")
    assert load_policy(child).sha256 != first
    assert load_policy(child).rules["banned-vendor"].params["vendors"] == ["Hikvision"]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("name: p\nrules:\n  no-such-rule: {}\n", 3, "unknown rule 'no-such-rule'"),
    ("name: p\nrules:\n  banned-vendor:\n    severity: severe\n", 4, "rules.banned-vendor.severity must be one of"),
    ("name: p\nrules:\n  banned-vendor:\n    vendor: [Dahua]\n", 4, "unknown key 'vendor' in rules.banned-vendor"),
    ("name: p\nrules:\n  banned-vendor:\n    vendors: Dahua, Hikvision\n", 4, "must be a YAML list, e.g. [Dahua, Hikvision]"),
    ("name: p\nrules:\n  banned-vendor:\n    include_related: maybe\n", 4, "must be true or false"),
    ("name: p\nrules:\n  wifi-tracking:\n    capabilities: [mind-reading]\n", 4, "is not one of"),
    ("name: p\nextends: nowhere\n", 2, "no policy named 'nowhere'"),
    ("rules: {}\n", 1, "policy needs the key 'name'"),
    ("name: p\nrules:\n  banned-vendor:\n    references:\n      - {title: x, url: 'ftp://x'}\n", 5, "must start with https"),
    ("name: p\nname: q\n", 2, "duplicate key 'name'"),
])
def test_policy_mistakes_point_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}:{line}: "), str(err.value)
    assert message in str(err.value)


def test_extends_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nextends: b\n")
    (tmp_path / "b.yaml").write_text("name: b\nextends: a\n")
    with pytest.raises(InputError, match="cycle"):
        load_policy(tmp_path / "a.yaml")
