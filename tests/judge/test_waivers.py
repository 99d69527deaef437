from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from helpers import result

from scanner.errors import InputError
from scanner.judge.waivers import apply_waivers, load_waivers
from scanner.model import Device, Finding, ScanResult


def macs(res: ScanResult) -> dict[str, str | None]:
    return {d.ip: d.mac for d in res.devices}


ENTRY = ("  - rule: banned-vendor\n    device: {device}\n    justification: replacement ordered\n"
         "    approver: CISO\n    expires: {expires}\n")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return path


def findings() -> list[Finding]:
    return [Finding("banned-vendor", "high", "t", "198.51.100.11", "m"),
            Finding("banned-vendor", "high", "t", "198.51.100.12", "m"),
            Finding("cleartext-management", "medium", "t", "198.51.100.12", "m")]


def test_match_by_ip_mac_and_finding_id(tmp_path: Path) -> None:
    fs = findings()
    text = "waivers:\n" + ENTRY.format(device="198.51.100.11", expires="2999-01-01") + \
        ENTRY.format(device="44:19:B6:00:00:12", expires="2999-01-01").replace("banned-vendor", "'*'") + \
        ENTRY.format(device=fs[0].id, expires="2999-01-01")
    res = result([Device("198.51.100.11"), Device("198.51.100.12", mac="44:19:b6:00:00:12")])
    res.findings = fs
    report = apply_waivers(res.findings, macs(res), load_waivers(write(tmp_path, text)))
    assert [f.waived for f in fs] == [True, True, True]
    assert [w["status"] for w in report] == ["active", "active", "active"]
    assert fs[0].waiver and fs[0].waiver["approver"] == "CISO" and fs[0].waiver["source"].endswith("waivers.yaml:2")


def test_expired_waiver_stops_waiving_and_unused_is_reported(tmp_path: Path) -> None:
    fs = findings()
    text = "waivers:\n" + ENTRY.format(device="198.51.100.11", expires="2026-01-31") + \
        ENTRY.format(device="198.51.100.99", expires="2999-01-01")
    res = result([Device("198.51.100.11")])
    res.findings = fs
    report = apply_waivers(res.findings, macs(res), load_waivers(write(tmp_path, text)), today=dt.date(2026, 2, 1))
    assert not fs[0].waived
    assert [(w["device"], w["status"], w["matched"]) for w in report] == [
        ("198.51.100.11", "expired", 1), ("198.51.100.99", "unused", 0)]


def test_waiver_on_its_last_day_still_applies(tmp_path: Path) -> None:
    fs = findings()
    res = result([Device("198.51.100.11")])
    res.findings = fs
    apply_waivers(res.findings, macs(res), load_waivers(write(tmp_path, "waivers:\n" + ENTRY.format(device="198.51.100.11",
                                                                            expires="2026-02-01"))),
                  today=dt.date(2026, 2, 1))
    assert fs[0].waived


@pytest.mark.parametrize(("text", "line", "message"), [
    ("waivers:\n  - rule: no-such-rule\n    device: x\n    justification: j\n    approver: a\n    expires: 2030-01-01\n",
     2, "waiver for unknown rule 'no-such-rule'"),
    ("waivers:\n  - rule: banned-vendor\n    device: x\n    justification: j\n    expires: 2030-01-01\n",
     2, "waiver needs the key 'approver'"),
    ("waivers:\n  - rule: banned-vendor\n    device: x\n    justification: '  '\n    approver: a\n    expires: 2030-01-01\n",
     4, "waiver.justification must not be empty"),
    ("waivers:\n  - rule: banned-vendor\n    device: x\n    justification: j\n    approver: a\n    expires: 31/01/2030\n",
     6, "is not a date"),
    ("waivers:\n  - rule: banned-vendor\n    device: x\n    justification: j\n    approver: a\n    expires: 2030-01-01\n"
     "    expiry: 2031-01-01\n", 7, "unknown key 'expiry'"),
    ("waivers: {rule: banned-vendor}\n", 1, "a waivers file must hold a list"),
    ("waiver:\n  - {}\n", 1, "unknown key 'waiver' in waivers file"),
])
def test_waiver_mistakes_point_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_waivers(path)
    assert str(err.value).startswith(f"{path}:{line}: "), str(err.value)
    assert message in str(err.value)
