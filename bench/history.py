"""Benchmark: store two 10,000-device scans, load them back and diff them; print times and size.

The results are synthetic but shaped like real ones: each device has services, observations
(banners with serial numbers, so they do not compress unrealistically well), evidence, one or two
destinations and a few findings. The second scan adds and removes devices, bumps firmware,
adds destinations and findings, as a week on a city network would.
Run: .venv/bin/python bench/history.py [DEVICES]   (target: store + load + diff < 5 s)
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from scanner.history.diff import diff
from scanner.history.store import Store
from scanner.model import (
    Destination,
    Device,
    Evidence,
    Finding,
    Observation,
    ScanInfo,
    ScanResult,
    Service,
)
from scanner.report.diff import render_diff

VENDORS = [("Hikvision", "DS-2CD2386G2-IU", "camera", "V5.7.{}"), ("Axis", "P3245-LVE", "camera", "10.12.{}"),
           ("Dahua", "NVR5216-16P-4KS2E", "nvr", "4.001.0000000.{}"), ("Ubiquiti", "UAP-AC-PRO", "access-point", "6.5.{}"),
           ("MultiTech", "MTCDT-L4E1", "iot-gateway", "5.3.{}"), ("Huawei", "AR161", "router", "V300R019C{}")]
CLOUDS = [("cloud.hik-connect.com", "CN", "Hangzhou Hikvision"), ("p2p.easy4ipcloud.com", "CN", "Dahua"),
          ("unifi.ui.com", "US", "Ubiquiti"), ("eu.axis.cloud", "SE", "Axis AB"), ("lora.example.net", "DE", "Example")]


def _ip(n: int) -> str:
    """Addresses in 198.18.0.0/15, the range set aside for benchmarks (RFC 2544): data only, never scanned."""
    return f"198.{18 + ((n >> 16) & 1)}.{(n >> 8) & 255}.{n & 255}"


def make_device(n: int, rng: random.Random, patch: int) -> tuple[Device, list[Destination], list[Finding]]:
    vendor, model, cls, fw = VENDORS[n % len(VENDORS)]
    ip = _ip(n + 10)
    serial = "".join(rng.choices("0123456789ABCDEF", k=12))
    dev = Device(
        ip=ip, mac=dev_mac(n), hostname=f"{cls}-{n}.city.local",
        vendor=vendor, model=model, firmware=fw.format(patch), device_class=cls, capabilities=["onvif", "rtsp"],
        services=[Service(80, "tcp", "http", "lighttpd", "1.4.59", method="probed"),
                  Service(443, "tcp", "https", "nginx", "1.22", method="probed"),
                  Service(554, "tcp", "rtsp", None, None, method="table"),
                  Service(161, "udp", "snmp", "net-snmp", "5.9")],
        evidence=[Evidence("fingerprint:http.body", f"{vendor} {model} matched <model>{model}</model>"),
                  Evidence("mac-oui", f"OUI of {dev_mac(n)} registered to {vendor}")],
        mac_vendor=vendor, confidence=0.95,
        observations=[Observation("http.title", f"{vendor} {model} - {serial}", "http-get", 80, "/"),
                      Observation("http.server", "lighttpd/1.4.59", "http-get", 80, "/"),
                      Observation("http.body", f"<DeviceInfo><model>{model}</model><serialNumber>{serial}"
                                               f"</serialNumber><firmwareVersion>{fw.format(patch)}</firmwareVersion>"
                                               "</DeviceInfo>", "http-get", 80, "/ISAPI/System/deviceInfo"),
                      Observation("tls.subject", f"CN={serial}.{vendor.lower()}.device", "tls", 443),
                      Observation("snmp.sysDescr", f"{vendor} {model} {fw.format(patch)}", "snmp", 161),
                      Observation("ssdp.server", f"Linux/4.9 UPnP/1.0 {vendor}/{patch}", "ssdp"),
                      Observation("rtsp.server", f"{vendor} Streaming Media", "rtsp", 554)],
    )
    host, country, company = CLOUDS[n % len(CLOUDS)]
    dests = [Destination(ip, host=host, ip=f"203.0.113.{n % 250}", port=443, transport="tcp", asn=64500 + n % 20,
                         network_owner=company, company=company, parent_company=company, country=country,
                         jurisdictions=[country], sources=["fingerprint"],
                         evidence=[Evidence("fingerprint", f"{vendor} firmware phones home to {host}")])]
    findings = [Finding("default-credentials", "high", "Default credentials accepted", ip,
                        f"{vendor} {model} at {ip} accepts admin/12345", evidence=[Evidence("probe", "HTTP 200 on /")]),
                Finding("cleartext-admin", "medium", "Administration over cleartext HTTP", ip,
                        f"port 80 on {ip} serves the admin UI", evidence=[Evidence("probe", "login form on :80")])]
    if country == "CN":
        findings.append(Finding("data-leaves-eu", "high", "Data leaves the EU", ip, f"{ip} sends to {host} ({country})",
                                destination={"host": host, "ip": None, "port": 443}))
    return dev, dests, findings


def dev_mac(n: int) -> str:
    return ":".join(f"{(n * 7919 + i * 31) % 256:02x}" for i in range(6))


def make_scan(count: int, seed: int, started: str, offset: int = 0, bumped: int = 0) -> ScanResult:
    """``count`` devices starting at ``offset``; the first ``bumped`` of them on a newer firmware."""
    rng = random.Random(seed)
    result = ScanResult(scan=ScanInfo(started_at=started, finished_at=started, targets=["198.18.0.0/15"],
                                      policy={"name": "eu-gdpr-baseline", "sha256": "0" * 64, "files": []},
                                      inputs=[{"kind": "nmap-live", "targets": "198.18.0.0/15"}]),
                        tool={"name": "cityscan", "version": "bench"})
    for n in range(offset, offset + count):
        dev, dests, findings = make_device(n, rng, 16 if n < offset + bumped else 15)
        result.devices.append(dev)
        result.destinations.extend(dests)
        result.findings.extend(findings)
    return result


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    old = make_scan(count, 1, "2026-11-20T02:00:00Z")
    new = make_scan(count, 2, "2026-11-21T02:00:00Z", offset=100, bumped=200)  # 100 gone, 100 new, 200 bumped
    new.destinations.append(Destination(new.devices[5].ip, host="telemetry.example.cn", port=8443, country="CN"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scans.db"
        t0 = time.perf_counter()
        with Store(path) as store:
            old_id = store.save(old)
            new_id = store.save(new)
        t1 = time.perf_counter()
        with Store(path, readonly=True) as store:
            pair = store.last_two()
            assert pair is not None and (pair[0].id, pair[1].id) == (old_id, new_id)
            a, b = store.load(pair[0].id), store.load(pair[1].id)
        t2 = time.perf_counter()
        d = diff(a, b)
        t3 = time.perf_counter()
        text = render_diff(d, "table")
        t4 = time.perf_counter()
        size = path.stat().st_size
    doc = old.to_dict()
    json_mb = len(json.dumps(doc)) / 1e6
    m0 = time.perf_counter()
    old.to_dict()
    m1 = time.perf_counter()
    ScanResult.from_dict(doc)
    m2 = time.perf_counter()
    print(f"devices per scan:         {count} ({len(old.destinations)} destinations, {len(old.findings)} findings)")
    print(f"store two scans:          {t1 - t0:.2f} s")
    print(f"load both back:           {t2 - t1:.2f} s")
    print(f"diff:                     {t3 - t2:.2f} s  ({', '.join(f'{v} {k}' for k, v in d.counts().items() if v)})")
    print(f"render diff (table):      {t4 - t3:.2f} s  ({len(text.splitlines())} lines)")
    print(f"total store+load+diff:    {t3 - t0:.2f} s  (target < 5 s)")
    print(f"per command: scan --store saves one: {(t1 - t0) / 2:.2f} s; cityscan diff loads two + diffs: "
          f"{t3 - t1:.2f} s")
    print(f"of which model code:      ScanResult.to_dict {m1 - m0:.2f} s, from_dict {m2 - m1:.2f} s per scan")
    print(f"database size:            {size / 1e6:.1f} MB for 2 scans ({json_mb:.0f} MB of JSON per scan)")

if __name__ == "__main__":
    main()
