"""Benchmark: cityscan's live scan of the lab against nmap -sV, on the same hosts and ports.

Prints, for each tool (cityscan also with ``--ot``, which adds the OT ports and nmap's read-only
OT identification scripts): wall time, and how many lab devices it identified correctly (vendor, and
vendor + model). For nmap, "identified" means nmap's own service/device fields name the right
vendor (and model); its XML is also fed through cityscan's identify stage, which shows what the
nmap data alone is worth. Needs root (the lab). Run: sudo .venv/bin/python bench/live_scan.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scanner.collect.nmap import parse_nmap_xml
from scanner.identify import identify_device
from scanner.lab import lab
from scanner.lab.devices import load_devices

PREFIX = "csbench"
PORTS = "21,22,23,80,443,554,8000,8080,8443"


def score(found: dict[str, tuple[str | None, str | None]]) -> tuple[int, int, int]:
    specs = [d for d in load_devices() if not d.hostile]
    vendor = model = 0
    for spec in specs:
        got_vendor, got_model = found.get(spec.ip, (None, None))
        want_vendor, want_model = spec.expect.get("vendor"), spec.expect.get("model")
        if (got_vendor or None) == want_vendor:
            vendor += 1
            if (got_model or None) == want_model:
                model += 1
    return vendor, model, len(specs)


def nmap_own_identification(xml: bytes) -> dict[str, tuple[str | None, str | None]]:
    """What nmap itself says: a device counts as identified if a service's product names the vendor."""
    devices, _, _ = parse_nmap_xml(xml)
    vendors = {d.ip: d.expect.get("vendor") for d in load_devices()}
    models = {d.ip: d.expect.get("model") for d in load_devices()}
    out: dict[str, tuple[str | None, str | None]] = {}
    for dev in devices:
        text = " ".join(f"{s.product or ''} {s.version or ''} {s.extrainfo or ''}" for s in dev.services).lower()
        want_v, want_m = vendors.get(dev.ip), models.get(dev.ip)
        v = want_v if want_v and want_v.split()[0].lower() in text else None
        m = want_m if v and want_m and want_m.lower() in text else None
        out[dev.ip] = (v, m)
    return out


def run_nmap(ns: str, extra: list[str]) -> tuple[float, bytes]:
    with tempfile.NamedTemporaryFile(suffix=".xml") as tmp:
        started = time.monotonic()
        subprocess.run(["ip", "netns", "exec", ns, "nmap", "-n", "-sS", "-T4", "-p", PORTS, *extra, "-oX", tmp.name,
                        lab.LAB_NETWORK], check=True, stdout=subprocess.DEVNULL)
        return time.monotonic() - started, Path(tmp.name).read_bytes()


def main() -> None:
    state = lab.up(prefix=PREFIX)
    try:
        time.sleep(1)
        rows = []
        for label, extra in (("cityscan scan", []), ("cityscan scan --ot (also the OT ports, nmap's OT scripts)", ["--ot"])):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "scan.json"
                started = time.monotonic()
                subprocess.run(["ip", "netns", "exec", state.scanner_ns, sys.executable, "-m", "scanner.cli", "scan",
                                lab.LAB_NETWORK, "--ports", PORTS, *extra, "--format", "json", "--output", str(out),
                                "--fail-on", "none", "--no-store"], check=True, stderr=subprocess.DEVNULL)
                elapsed = time.monotonic() - started
                doc = json.loads(out.read_text())
                found = {d["ip"]: (d["vendor"], d["model"]) for d in doc["devices"]}
                rows.append((label, elapsed, *score(found)))
        for label, extra in (("nmap -sV", ["-sV"]), ("nmap -sV --version-light", ["-sV", "--version-light"])):
            elapsed, xml = run_nmap(state.scanner_ns, extra)
            rows.append((label, elapsed, *score(nmap_own_identification(xml))))
            devices, _, _ = parse_nmap_xml(xml)
            via = {d.ip: (i.vendor, i.model) for d in devices for i in [identify_device(d)]}
            rows.append((f"  {label} XML -> cityscan identify", elapsed, *score(via)))
    finally:
        lab.down(PREFIX)
    print(f"{'tool':52} {'wall s':>8} {'vendor ok':>10} {'vendor+model ok':>16}")
    for label, elapsed, vendor, model, total in rows:
        print(f"{label:52} {elapsed:8.1f} {vendor:>6}/{total:<3} {model:>12}/{total:<3}")


if __name__ == "__main__":
    main()
