"""Where the configuration comes from, portable results, and options from the environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import DATA

LAB_XML = str(DATA / "lab-nmap.xml")


def test_the_suite_runs_with_a_home_of_its_own() -> None:
    assert "pytest" in os.environ["HOME"] and not (Path.cwd() / "cityscan.yaml").exists()
    assert os.environ["CITYSCAN_STORE"].startswith(os.environ["HOME"].rsplit("/", 1)[0])


def test_configuration_is_discovered_in_order(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    user = tmp_path / "xdg"
    (user / "cityscan").mkdir(parents=True)
    (user / "cityscan" / "config.yaml").write_text("site: from-user-dir\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    run = cli("config", "show")
    assert run.code == 0 and "the user's config directory" in run.out and "from-user-dir" in run.out
    (work / "cityscan.yaml").write_text("site: from-working-dir\nports: '80,443'\n")
    run = cli("config", "show")
    assert "the working directory" in run.out and "from-working-dir" in run.out
    assert any(line.split()[0] == "ports" and line.endswith("cityscan.yaml:2") for line in run.out.splitlines())
    env = tmp_path / "env.yaml"
    env.write_text("site: from-env\n")
    monkeypatch.setenv("CITYSCAN_CONFIG", str(env))
    assert "from-env" in cli("config", "show").out
    monkeypatch.setenv("CITYSCAN_SITE", "from-variable")
    assert "$CITYSCAN_SITE" in cli("config", "show").out
    monkeypatch.setenv("CITYSCAN_CONFIG", str(tmp_path / "missing.yaml"))
    run = cli("config", "show")
    assert run.code == 2 and "$CITYSCAN_CONFIG names no such file" in run.err


def test_a_scan_uses_the_discovered_configuration(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cityscan.yaml").write_text(f"nmap_xml: [{LAB_XML}]\nsite: depot\npolicy: none\n")
    run = cli("scan", "--no-store", "--format", "json")
    assert run.code == 0 and json.loads(run.out)["scan"]["site"] == "depot"


def test_every_option_can_come_from_the_environment(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITYSCAN_SCAN_POLICY", "none")
    monkeypatch.setenv("CITYSCAN_SCAN_FAIL_ON", "none")
    run = cli("scan", "--nmap-xml", LAB_XML, "--no-store", "--format", "json")
    assert run.code == 0 and json.loads(run.out)["scan"]["policy"] is None


def test_a_result_can_be_rejudged_on_a_machine_without_its_policy_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "city.yaml"
    policy.write_text("name: my-city\nextends: eu-gdpr-baseline\nrules:\n  banned-vendor: {severity: critical}\n")
    out = tmp_path / "scan.json"
    assert cli("scan", "--nmap-xml", LAB_XML, "--policy", str(policy), "--no-store", "--format", "json",
               "--output", str(out)).code == 1
    stored = json.loads(out.read_text())["scan"]["policy"]
    assert stored["content"]["city.yaml"].startswith("name: my-city") and "builtin" not in stored
    policy.unlink()  # another machine: the file is gone
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: banned-vendor\n    device: 198.51.100.11\n    justification: x\n"
                       "    approver: CISO\n    expires: 2999-01-01\n")
    run = cli("report", str(out), "--waivers", str(waivers), "--format", "json")
    assert run.code == 1, run.err
    doc = json.loads(run.out)
    assert doc["scan"]["policy"]["name"] == "my-city"
    assert any(f["waived"] for f in doc["findings"]) and {f["severity"] for f in doc["findings"]
                                                          if f["rule"] == "banned-vendor"} == {"critical"}
    builtin = tmp_path / "b.json"
    cli("scan", "--nmap-xml", LAB_XML, "--no-store", "--format", "json", "--output", str(builtin))
    assert json.loads(builtin.read_text())["scan"]["policy"]["builtin"].startswith("eu-gdpr-baseline@")
