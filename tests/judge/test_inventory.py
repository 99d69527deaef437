"""--inventory: a device missing from the scan, or one nobody expected, is a finding; without an
inventory both rules are "not assessable", never "passed"."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA
from helpers import HIKVISION_DEVICEINFO, device, policy, result

from scanner.errors import InputError
from scanner.judge.evaluate import evaluate
from scanner.judge.inventory import load_inventory
from scanner.pipeline import identify

RULES = "name: t\nrules:\n  missing-device: {}\n  unexpected-device: {}\n"


def inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return path


def hik(ip: str = "198.51.100.11", mac: str = "44:19:b6:3a:5c:01"):  # type: ignore[no-untyped-def]
    dev = device(ip, mac, [("http.body", HIKVISION_DEVICEINFO, "/ISAPI/System/deviceInfo")])
    identify(result([dev]))
    return dev


def test_missing_unexpected_and_swapped_devices_are_findings(tmp_path: Path) -> None:
    listed = load_inventory(str(inventory(tmp_path, """devices:
  - {ip: 198.51.100.11, vendor: Hikvision, name: camera north gate}
  - {ip: 198.51.100.12, mac: "aa:bb:cc:00:00:12", name: traffic controller}
  - {ip: 198.51.100.13, vendor: Axis}
""")))
    found = [hik("198.51.100.11"), hik("198.51.100.13"), hik("198.51.100.99")]
    judged = evaluate(result(found), policy(tmp_path, RULES), inventory=listed)
    got = {(f.rule, f.device_ip or f.message.split()[0]) for f in judged.findings}
    assert got == {("missing-device", "198.51.100.12"), ("unexpected-device", "198.51.100.13"),
                   ("unexpected-device", "198.51.100.99")}
    missing = next(f for f in judged.findings if f.rule == "missing-device")
    assert "traffic controller" in missing.message and f"{tmp_path}" in missing.evidence[0].detail
    swapped = next(f for f in judged.findings if f.device_ip == "198.51.100.13")
    assert "vendor Hikvision, inventory Axis" in swapped.message
    assert all(f.references and f.evidence[0].source == "inventory" and f.evidence[0].kind for f in judged.findings)


def test_matching_inventory_passes_and_no_inventory_is_not_assessable(tmp_path: Path) -> None:
    listed = load_inventory(str(inventory(tmp_path, "devices:\n  - {ip: 198.51.100.11, vendor: HIKVISION}\n")))
    judged = evaluate(result([hik()]), policy(tmp_path, RULES), inventory=listed)
    assert judged.findings == []
    assert {r["id"]: r["status"] for r in judged.rules} == {"missing-device": "passed", "unexpected-device": "passed"}
    blind = evaluate(result([hik()]), policy(tmp_path, RULES))
    assert {r["status"] for r in blind.rules} == {"not-assessable"}
    assert "--inventory" in blind.rules[0]["reason"]


def test_an_unidentified_device_cannot_be_confirmed_as_the_expected_one(tmp_path: Path) -> None:
    listed = load_inventory(str(inventory(tmp_path, "devices:\n  - {ip: 198.51.100.20, model: DS-2CD2386G2-IU}\n")))
    judged = evaluate(result([device("198.51.100.20")]), policy(tmp_path, RULES), inventory=listed)
    status = {r["id"]: r for r in judged.rules}
    assert status["unexpected-device"]["status"] == "not-assessable"
    assert "could not be identified" in status["unexpected-device"]["reason"]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("hosts: []\n", 1, "an inventory needs a 'devices' list"),
    ("devices:\n  - {ip: 198.51.100.300}\n", 2, "is not an IP address"),
    ("devices:\n  - {ip: 198.51.100.1}\n  - {ip: 198.51.100.1}\n", 3, "lists 198.51.100.1 twice"),
    ("devices:\n  - {address: 198.51.100.1}\n", 2, "unknown key 'address'"),
])
def test_inventory_mistakes_point_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = inventory(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_inventory(str(path))
    assert message in str(err.value) and f":{line}:" in str(err.value), str(err.value)


def test_cli_scan_with_inventory_fails_the_staging_gate_on_a_missing_device(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = inventory(tmp_path, "devices:\n  - {ip: 198.51.100.11, vendor: Hikvision}\n"
                               "  - {ip: 198.51.100.250, name: parking sensor gateway}\n")
    run = cli("scan", "--nmap-xml", str(DATA / "lab-nmap.xml"), "--policy", "staging-lab-ci",
              "--inventory", str(path), "--format", "json")
    assert run.code == 1
    assert "missing-device" in run.out and "198.51.100.250 (parking sensor gateway)" in run.out
    assert "unexpected-device" in run.out  # the rest of the lab is not in this inventory
    bad = inventory(tmp_path, "devices: nope\n")
    run = cli("scan", "--nmap-xml", str(DATA / "lab-nmap.xml"), "--inventory", str(bad))
    assert run.code == 2 and "Traceback" not in run.err and "inventory.yaml:1" in run.err
