"""A site's own fingerprints (``--fingerprints DIR``): validated like the shipped ones, used besides them."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import DATA

SITE_VENDOR = """vendor:
  name: Gemeente Lab Sensors
  company: Gemeente Lab Sensors B.V.
  country: NL
  oui_orgs: []
  sources: [internal asset register]
entries:
  - id: site-lab-sensor-title
    description: the web UI title of the city's own air-quality sensors
    match: {field: nmap.product, pattern: '^MikroTik RouterOS sshd$'}
    conclude: {vendor: Gemeente Lab Sensors, device_class: sensor}
    confidence: 0.99
    examples:
      - value: MikroTik RouterOS sshd
        source: the site's own device (example of a local override)
"""


def test_a_site_directory_adds_entries_and_is_recorded(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site-fingerprints"
    site.mkdir()
    (site / "lab-sensors.yaml").write_text(SITE_VENDOR)
    out = tmp_path / "r.json"
    run = cli("scan", "--nmap-xml", str(DATA / "lab-nmap.xml"), "--fingerprints", str(site), "--policy", "none",
              "--no-store", "--format", "json", "--output", str(out))
    assert run.code == 0, run.err
    doc = json.loads(out.read_text())
    assert any(d["vendor"] == "Gemeente Lab Sensors" for d in doc["devices"])
    assert [d for d in doc["scan"]["data"] if d["name"] == "site-fingerprints"][0]["source"] == str(site)


def test_a_broken_site_file_is_file_and_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site"
    site.mkdir()
    (site / "bad.yaml").write_text(SITE_VENDOR.replace("device_class: sensor", "device_class: toaster"))
    run = cli("scan", "--nmap-xml", str(DATA / "lab-nmap.xml"), "--fingerprints", str(site), "--no-store")
    assert run.code == 2 and f"{site / 'bad.yaml'}:" in run.err and "toaster" in run.err
    run = cli("scan", "--nmap-xml", str(DATA / "lab-nmap.xml"), "--fingerprints", str(tmp_path / "nope"), "--no-store")
    assert run.code == 2 and "not a directory" in run.err
