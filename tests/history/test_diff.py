"""Changes between two scans: devices, identities, destinations, countries, findings, and the renderers."""

from __future__ import annotations

import json

import pytest

from scanner.history.diff import diff, has_new_at_or_above
from scanner.model import Destination, Device, Finding, ScanInfo, ScanResult
from scanner.report.diff import DIFF_FORMATS, render_diff

POLICY = {"name": "eu-gdpr-baseline", "sha256": "ab" * 32, "files": []}


def result(started: str, devices: list[Device], destinations: list[Destination], findings: list[Finding],
           partial: bool = False, policy: dict[str, object] | None = None) -> ScanResult:
    return ScanResult(scan=ScanInfo(started_at=started, finished_at=started, targets=["198.51.100.0/24"],
                                    partial=partial, policy=policy or POLICY),
                      devices=devices, destinations=destinations, findings=findings)


def cam(ip: str, firmware: str = "V5.7.15", mac: str | None = "00:11:22:33:44:55", **kw: object) -> Device:
    return Device(ip=ip, mac=mac, vendor="Hikvision", model="DS-2CD2386G2-IU", firmware=firmware,
                  device_class="camera", **kw)  # type: ignore[arg-type]


def leaves_eu(ip: str, host: str, waived: bool = False, severity: str = "high") -> Finding:
    return Finding("data-leaves-eu", severity, "Data leaves the EU", ip, f"{ip} sends to {host}",
                   destination={"host": host, "ip": None, "port": 443}, waived=waived)


@pytest.fixture
def pair() -> tuple[ScanResult, ScanResult]:
    """A week on the network: one camera added, one gone, a firmware bump, a new cloud in a new country."""
    old = result("2026-11-20T02:00:00Z",
                 [cam("198.51.100.10"), cam("198.51.100.11", mac="00:11:22:33:44:66"), cam("198.51.100.12")],
                 [Destination("198.51.100.10", host="eu.cloud.example", ip="192.0.2.1", port=443, country="DE"),
                  Destination("198.51.100.12", host="old.cloud.example", port=443, country="DE")],
                 [Finding("default-credentials", "high", "Default credentials", "198.51.100.12", "admin/12345"),
                  Finding("cleartext-admin", "medium", "Cleartext admin", "198.51.100.10", "port 80", waived=True)])
    new = result("2026-11-21T02:00:00Z",
                 [cam("198.51.100.10", firmware="V5.7.17"), cam("198.51.100.11", mac="AA:BB:CC:DD:EE:FF"),
                  cam("198.51.100.13")],
                 [Destination("198.51.100.10", host="EU.cloud.example", ip="192.0.2.99", port=443, country="DE"),
                  Destination("198.51.100.10", host="cloud.hik-connect.com", port=443, country="CN",
                              company="Hangzhou Hikvision")],
                 [leaves_eu("198.51.100.10", "cloud.hik-connect.com"),
                  Finding("cleartext-admin", "medium", "Cleartext admin", "198.51.100.10", "port 80", waived=False)])
    return old, new


def test_diff_reports_each_kind_of_change(pair: tuple[ScanResult, ScanResult]) -> None:
    d = diff(*pair)
    assert [x.ip for x in d.new_devices] == ["198.51.100.13"]
    assert [x.ip for x in d.gone_devices] == ["198.51.100.12"]
    assert [(m.ip, m.old, m.new) for m in d.mac_changes] == [("198.51.100.11", "00:11:22:33:44:66", "AA:BB:CC:DD:EE:FF")]
    [bump] = d.identity_changes
    assert bump.ip == "198.51.100.10"
    assert [(c.field, c.old, c.new) for c in bump.changes] == [("firmware", "V5.7.15", "V5.7.17")]
    # the same host at another address (or in other case) is not a new destination
    assert [(x.device_ip, x.where(), x.country) for x in d.new_destinations] == [
        ("198.51.100.10", "cloud.hik-connect.com:443", "CN")]
    assert [x.where() for x in d.gone_destinations] == ["old.cloud.example:443"]
    assert [(c.device_ip, c.new, c.gone) for c in d.country_changes] == [("198.51.100.10", ["CN"], [])]
    assert [(f.rule, f.device_ip) for f in d.new_findings] == [("data-leaves-eu", "198.51.100.10")]
    assert [(f.rule, f.device_ip) for f in d.resolved_findings] == [("default-credentials", "198.51.100.12")]
    [changed] = d.changed_findings
    assert (changed.rule, changed.old_waived, changed.new_waived) == ("cleartext-admin", True, False)
    assert d.notes == [] and not d.empty()
    assert d.counts()["new_countries"] == 1


def test_identical_scans_have_no_changes(pair: tuple[ScanResult, ScanResult]) -> None:
    d = diff(pair[1], pair[1])
    assert d.empty()
    assert "no changes" in render_diff(d, "table")
    assert not has_new_at_or_above(d, "info")


def test_fail_on_new(pair: tuple[ScanResult, ScanResult]) -> None:
    d = diff(*pair)
    assert has_new_at_or_above(d, "high")  # data-leaves-eu is new and open
    assert not has_new_at_or_above(d, "critical")
    assert not has_new_at_or_above(d, "none")
    old, new = pair
    new.findings[0].waived = True  # new but waived: not a reason to fail
    d = diff(old, new)
    assert not has_new_at_or_above(d, "high")
    assert has_new_at_or_above(d, "medium")  # the cleartext-admin waiver ended: newly open


def test_severity_raised_by_the_policy_counts_as_newly_open() -> None:
    dev = [cam("198.51.100.10")]
    old = result("2026-11-20T02:00:00Z", dev, [], [leaves_eu("198.51.100.10", "x.example", severity="medium")])
    new = result("2026-11-21T02:00:00Z", dev, [], [leaves_eu("198.51.100.10", "x.example", severity="high")])
    d = diff(old, new)
    assert [(c.old_severity, c.new_severity) for c in d.changed_findings] == [("medium", "high")]
    assert has_new_at_or_above(d, "high") and not has_new_at_or_above(d, "medium")


def test_notes_for_partial_scans_and_policy_changes(pair: tuple[ScanResult, ScanResult]) -> None:
    old, new = pair
    new.scan.partial = True
    new.scan.policy = {"name": "strict", "sha256": "cd" * 32, "files": []}
    notes = " ".join(diff(old, new).notes)
    assert "newer scan is partial" in notes and "policy changed (eu-gdpr-baseline -> strict)" in notes


def test_json_is_complete_and_parseable(pair: tuple[ScanResult, ScanResult]) -> None:
    doc = json.loads(render_diff(diff(*pair), "json"))
    assert doc["counts"]["new_devices"] == 1 and doc["counts"]["resolved_findings"] == 1
    assert doc["identity_changes"][0]["changes"][0] == {"field": "firmware", "old": "V5.7.15", "new": "V5.7.17"}
    assert doc["new_findings"][0]["id"] == pair[1].findings[0].id
    assert doc["old"]["started_at"] == "2026-11-20T02:00:00Z"


def test_table_lists_sections(pair: tuple[ScanResult, ScanResult]) -> None:
    text = render_diff(diff(*pair), "table")
    for title in ("New devices (1)", "Gone devices (1)", "MAC changes (1)", "Identity changes (1)",
                  "New destinations (1)", "Destination countries (1)", "New findings (1)",
                  "Resolved findings (1)", "Changed findings (1)"):
        assert title in text
    assert "V5.7.15" in text and "V5.7.17" in text and "waiver ended" in text


def test_device_strings_cannot_drive_the_terminal_or_the_markdown(pair: tuple[ScanResult, ScanResult]) -> None:
    old, new = pair
    new.devices.append(Device(ip="198.51.100.66", vendor="\x1b]0;pwned\x07Evil\x1b[2J", model="[x](https://evil.example)",
                              firmware="<img src=x onerror=alert(1)>"))
    d = diff(old, new)
    table = render_diff(d, "table")
    assert "\x1b" not in table and "\x07" not in table and "\\x1b" in table
    markdown = render_diff(d, "markdown")
    assert "\x1b" not in markdown and "](https" not in markdown and "<img" not in markdown
    assert "### New devices (2)" in markdown


def test_long_sections_are_cut_in_the_table_only() -> None:
    old = result("2026-11-20T02:00:00Z", [], [], [])
    new = result("2026-11-21T02:00:00Z", [Device(ip=f"198.18.{n // 256}.{n % 256}") for n in range(250)], [], [])
    d = diff(old, new)
    assert "... and 50 more" in render_diff(d, "table")
    assert len(json.loads(render_diff(d, "json"))["new_devices"]) == 250
    assert [x.ip for x in d.new_devices][:3] == ["198.18.0.0", "198.18.0.1", "198.18.0.2"]  # numeric, not text order


def test_unknown_format() -> None:
    assert DIFF_FORMATS == ("table", "json", "markdown")
    with pytest.raises(ValueError, match="unknown diff format"):
        render_diff(diff(result("a", [], [], []), result("b", [], [], [])), "html")
