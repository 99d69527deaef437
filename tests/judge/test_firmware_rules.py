"""Firmware that matters: known-exploited flaws (CISA KEV x the vendor's fixed version), minimum
supported firmware and end-of-life model lines, each finding naming its advisory and KEV entry.

The devices below carry the identity a scan would give them (vendor, model, firmware as the
device reports it); the version strings are the vendors' own formats from their advisories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import device, policy, result

from scanner.errors import InputError
from scanner.judge.evaluate import evaluate
from scanner.knowledge.firmware import read_firmware, read_kev
from scanner.knowledge.loader import default_db, firmware_facts
from scanner.knowledge.paths import data_dir

POLICY = """
name: firmware
rules:
  known-exploited-vulnerability: {severity: high}
  outdated-firmware: {severity: medium}
"""


def judged(tmp_path: Path, *devices):  # type: ignore[no-untyped-def]
    return evaluate(result(list(devices)), policy(tmp_path, POLICY))


def verdict(judgement, rule_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return next(r for r in judgement.rules if r["id"] == rule_id)


def camera(firmware: str | None, model: str = "DS-2CD2032-I", ip: str = "198.51.100.11"):  # type: ignore[no-untyped-def]
    return device(ip, vendor="Hikvision", model=model, firmware=firmware, device_class="camera")


def test_a_camera_below_the_fix_of_a_kev_flaw_is_a_high_finding_naming_advisory_and_catalogue(tmp_path: Path) -> None:
    judgement = judged(tmp_path, camera("V5.5.160 build 200721"))
    [found] = [f for f in judgement.findings if f.rule == "known-exploited-vulnerability"]
    assert found.severity == "high" and "CVE-2021-36260" in found.message and "fixed in 5.5.800" in found.message
    kev = next(e.detail for e in found.evidence if e.source == "kev")
    assert "Known Exploited Vulnerabilities catalogue 2025.08.25 since 2022-01-10" in kev
    advisory = next(e.detail for e in found.evidence if e.source == "advisory")
    assert "hikvision.com" in advisory and "2021-09-18" in advisory
    assert any(e.source == "identity" and "firmware V5.5.160" in e.detail for e in found.evidence)  # how it was read


def test_the_fixed_firmware_passes_and_an_unmapped_line_is_not_assessable(tmp_path: Path) -> None:
    fixed = judged(tmp_path, camera("V5.5.800 build 210628"))
    assert not [f for f in fixed.findings if f.rule == "known-exploited-vulnerability"]
    assert verdict(fixed, "known-exploited-vulnerability")["status"] == "passed"
    # 5.7.x built before the fix is also affected, but no fixed version number is known: never "passed"
    unmapped = judged(tmp_path, camera("V5.7.15"))
    rule = verdict(unmapped, "known-exploited-vulnerability")
    assert rule["status"] == "not-assessable" and "198.51.100.11" in rule["reason"]
    unknown = judged(tmp_path, camera(None))
    assert verdict(unknown, "known-exploited-vulnerability")["status"] == "not-assessable"


def test_firmware_lines_are_told_apart(tmp_path: Path) -> None:
    """CVE-2018-14847 (Winbox): fixed in 6.40.8 on the bugfix line and 6.42.1 on the current one."""
    def router(firmware: str):  # type: ignore[no-untyped-def]
        return device("198.51.100.36", vendor="MikroTik", model="RB951G-2HnD", firmware=firmware,
                      device_class="router")

    def winbox(firmware: str) -> list[str]:
        return [f.message for f in judged(tmp_path, router(firmware)).findings
                if f.rule == "known-exploited-vulnerability" and "CVE-2018-14847" in f.message]

    assert winbox("6.42") and winbox("6.40.7") and winbox("6.29")
    assert not winbox("6.42.1") and not winbox("6.40.8") and not winbox("6.43.2")


def test_a_vendor_absent_from_the_catalogue_is_checked_and_an_unidentified_device_is_not(tmp_path: Path) -> None:
    xovis = device("198.51.100.31", vendor="Xovis", model="PC2S", firmware="4.3.1", device_class="people-counter")
    assert verdict(judged(tmp_path, xovis), "known-exploited-vulnerability")["status"] == "passed"
    nobody = device("198.51.100.37")
    assert verdict(judged(tmp_path, xovis, nobody), "known-exploited-vulnerability")["status"] == "not-assessable"


def test_a_flaw_missing_from_the_catalogue_in_use_is_not_reported(tmp_path: Path) -> None:
    """The mapping says 'affected'; only the catalogue says 'exploited'. An older catalogue (a user's
    pinned copy without the CVE) must not let the mapping claim exploitation on its own."""
    from scanner.judge.rules.base import Context
    from scanner.judge.rules.vendors import known_exploited
    from scanner.knowledge.firmware import FirmwareFacts
    from scanner.knowledge.loader import jurisdiction

    facts = firmware_facts()
    without = FirmwareFacts(facts.flaws, facts.lifecycle, {k: e for k, e in facts.kev.items()
                                                           if k != "CVE-2021-36260"}, "older")
    cfg = policy(tmp_path, POLICY).enabled_rules()[0]
    assert cfg.id == "known-exploited-vulnerability"
    scan = result([camera("V5.5.160")])
    assert list(known_exploited(scan, cfg, Context(default_db(), jurisdiction(), firmware=facts)))
    assert not list(known_exploited(scan, cfg, Context(default_db(), jurisdiction(), firmware=without)))


def test_minimum_supported_and_end_of_life_come_from_the_vendor_data(tmp_path: Path) -> None:
    router = device("198.51.100.36", vendor="MikroTik", model=None, firmware="6.28", device_class="router")
    [old] = [f for f in judged(tmp_path, router).findings if f.rule == "outdated-firmware"]
    assert "older than 6.49" in old.message and any("endoflife.date/routeros" in e.detail for e in old.evidence)
    eol = [c for c in firmware_facts().lifecycle if c.end_of_life][0]
    model = next(m for m in ("RV110W", "RV130W", "RV215W", "RV340", "RV042", "DSL7030")
                 if eol.model_pattern.search(m))
    gone = device("198.51.100.40", vendor=eol.vendor, model=model, firmware=None, device_class="router")
    [found] = [f for f in judged(tmp_path, gone).findings if f.rule == "outdated-firmware"]
    assert f"since {eol.end_of_life}" in found.message and eol.source.url in found.evidence[-1].detail


def test_the_bundled_data_agrees_with_itself() -> None:
    """Every mapped CVE is in the bundled catalogue; every version the data compares is readable."""
    from scanner.judge.versions import version_key
    facts = firmware_facts()
    assert len(facts.kev) == 1404 and facts.kev_version == "2025.08.25"
    assert len(facts.flaws) >= 20 and all(facts.listed(f) for f in facts.flaws)
    assert all(version_key(f.fixed) for flaw in facts.flaws for f in flaw.affected)
    assert all(version_key(c.min_version) for c in facts.lifecycle if c.min_version)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("vulnerabilities:\n  - cve: CVE-2021-36260\n    vendor: Hikvision\n    model_pattern: '(['\n"
     "    affected: [{line: '^5', fixed: '5.5.800'}]\n    advisory: {url: u, title: t}\n", 4, "does not compile"),
    ("vulnerabilities:\n  - cve: CVE-2021-36260\n    vendor: Hikvishun\n"
     "    affected: [{line: '^5', fixed: '5.5.800'}]\n    advisory: {url: u, title: t}\n", 3, "no vendor of the"),
    ("vulnerabilities:\n  - cve: 2021-36260\n    vendor: Hikvision\n"
     "    affected: [{line: '^5', fixed: '5.5.800'}]\n    advisory: {url: u, title: t}\n", 2, "not a CVE id"),
    ("lifecycle:\n  - vendor: MikroTik\n    end_of_life: 2023-02-30\n    source: {url: u, title: t}\n", 3,
     "not a valid timestamp"),
    ("lifecycle:\n  - vendor: MikroTik\n    source: {url: u, title: t}\n", 2, "needs min_version or end_of_life"),
    ("lifecycle:\n  - vendor: MikroTik\n    min_version: 6.50\n    source: {url: u, title: t}\n", 3,
     "must be a quoted version string"),
    ("vulnerabilities:\n  - cve: CVE-2021-36260\n    vendor: Hikvision\n"
     "    affected:\n      - {line: '^5', fixed: 5.50}\n    advisory: {url: u, title: t}\n", 5, "quoted version"),
])
def test_mistakes_in_the_firmware_data_point_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "firmware.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_firmware(path, set(default_db().vendors))
    assert caught.value.line == line and message in str(caught.value), str(caught.value)


def test_a_catalogue_that_is_not_cisas_format_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "kev.json"
    bad.write_text(json.dumps({"vulnerabilities": [{"cveID": "CVE-2021-36260; rm -rf /"}]}))
    with pytest.raises(InputError, match="no valid cveID"):
        read_kev(bad)
    bad.write_text("<html>rate limited</html>")
    with pytest.raises(InputError, match="not JSON"):
        read_kev(bad)
    kev, version = read_kev(data_dir() / "kev-catalogue.json")
    assert re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", version) and "CVE-2018-14847" in kev


def test_a_vendor_the_catalogue_spells_otherwise_is_not_passed(tmp_path: Path) -> None:
    """KEV says "Ruckus Wireless" (CVE-2023-25717), the database "Ruckus": no flaw of it is mapped to
    firmware versions, so a Ruckus device is not assessable, never "passed"."""
    ruckus = device("198.51.100.41", vendor="Ruckus", model="ZoneDirector 1200", firmware="10.0.1.0",
                    device_class="wireless-controller")
    rule = verdict(judged(tmp_path, ruckus), "known-exploited-vulnerability")
    assert rule["status"] == "not-assessable" and "198.51.100.41" in rule["reason"]


def test_every_database_vendor_the_catalogue_names_is_recognised() -> None:
    from scanner.judge.rules.base import Context
    from scanner.judge.rules.vendors import _kev_vendors
    from scanner.knowledge.loader import jurisdiction
    from scanner.model.text import fold_name
    db = default_db()
    named = _kev_vendors(Context(db, jurisdiction(), firmware=firmware_facts()))
    projects = {fold_name(k.vendor_project) for k in firmware_facts().kev.values()}
    for vendor in db.vendors.values():
        if fold_name(vendor.name) in projects or fold_name(vendor.company or "") in projects:
            assert vendor.name in named, vendor.name
    assert {"Ruckus", "Hikvision", "Cisco", "Zyxel", "TP-Link"} <= named and "Xovis" not in named


def test_a_firmware_string_without_a_version_is_not_counted_as_checked(tmp_path: Path) -> None:
    axis = device("198.51.100.14", vendor="Axis", model="M1065-LW", firmware="LTS", device_class="camera")
    judgement = judged(tmp_path, axis)
    assert verdict(judgement, "outdated-firmware")["status"] == "not-assessable"
    assert not [f for f in judgement.findings if f.rule == "outdated-firmware"]
