"""Benchmark: every report format of a city-sized result (10,000 devices), its size and render time.

The result is generated: devices in the benchmarking range 198.18.0.0/15 (RFC 2544, data only),
each with services, observations and evidence like a probed device, destinations to a few hundred
operators and findings from the real rules of the EU baseline policy.
Run: .venv/bin/python bench/reports.py [DEVICES]
"""

from __future__ import annotations

import ipaddress
import random
import sys
import time

from scanner.judge.policy import load_policy
from scanner.model import Destination, Device, Evidence, Observation, ScanInfo, ScanResult, Service
from scanner.pipeline import describe, judge
from scanner.report import FORMATS, RenderOptions, render

VENDORS = [("Hikvision", "DS-2CD2386G2-IU", "camera"), ("Axis", "M1065-LW", "camera"),
           ("Signify", None, "street-light-controller"), ("Cisco", "Meraki MR46E", "access-point"),
           ("Libelium", "Meshlium Xtreme 3G", "wifi-tracker"), (None, None, "unknown")]


def city(devices: int, seed: int = 7) -> ScanResult:
    rng = random.Random(seed)
    base = int(ipaddress.ip_address("198.18.0.1"))
    result = ScanResult(scan=ScanInfo(started_at="2026-12-01T02:15:00Z", finished_at="2026-12-01T02:45:00Z",
                                      targets=["198.18.0.0/15"], scope=["198.18.0.0/15"]),
                        tool={"name": "cityscan", "version": "bench"})
    for i in range(devices):
        vendor, model, cls = rng.choice(VENDORS)
        ip = str(ipaddress.ip_address(base + i))
        dev = Device(ip=ip, mac=f"02:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01", vendor=vendor,
                     model=model, device_class=cls, confidence=0.9 if vendor else None,
                     services=[Service(80, "tcp", "http", method="probed"), Service(443, "tcp", "https")],
                     observations=[Observation("http.status", "200", "http-get", 80, "/"),
                                   Observation("http.title", f"{vendor or 'device'} {i}", "http-get", 80, "/")],
                     evidence=[Evidence("http-get:80/", f"fingerprint {vendor or 'x'}-entry matched http.title")])
        if cls == "wifi-tracker":
            dev.capabilities = ["wifi-probe-capture"]
        result.devices.append(dev)
        for _ in range(rng.randint(0, 3)):
            operator = rng.randrange(300)
            result.destinations.append(Destination(
                ip, host=f"api{operator}.cloud.example", ip=f"203.0.113.{operator % 250}", port=443, transport="tcp",
                company=f"Operator {operator}", country=rng.choice(["DE", "NL", "US", "CN", "IE"]),
                jurisdictions=[rng.choice(["DE", "US", "CN"])], sources=["flows"],
                traffic={"connections": rng.randint(1, 500), "bytes": rng.randint(100, 10**8)}))
    return judge(describe(result), load_policy("eu-gdpr-baseline"))


def main() -> None:
    devices = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    started = time.perf_counter()
    result = city(devices)
    print(f"{devices} devices, {len(result.destinations)} destinations, {len(result.findings)} findings "
          f"(generated and judged in {time.perf_counter() - started:.1f} s)")
    for fmt in sorted(FORMATS):
        started = time.perf_counter()
        text = render(result, fmt, RenderOptions(fail_on="high"))
        print(f"  {fmt:9} {len(text.encode()) / 1e6:7.2f} MB  {time.perf_counter() - started:6.2f} s")


if __name__ == "__main__":
    main()
