"""Benchmark: a city's fleet in one PostgreSQL store; the fleet summary and a diff must stay under a second.

100 sites x 30 scans x 200 devices (3,000 scans, 600,000 device records) are written through the
real ``Store.save`` by two writer processes at once, then the fleet summary (``cityscan fleet``:
every site's newest scan, open findings by severity, new since the previous scan) and a diff (one
site's last two scans, loaded and compared) are timed. The results are generated: addresses in the
documentation ranges (RFC 5737), which every site reuses as cities reuse private ranges; each
scan moves a few devices, firmware versions and findings, as a night on a city network would.

Run: .venv/bin/python bench/fleet.py [--store postgresql://...] [--sites 100] [--scans 30] [--devices 200]
Without --store it starts a throw-away PostgreSQL server (Debian's postgresql, initdb/pg_ctl) in a
temporary directory, on a unix socket only, and removes it afterwards. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pwd
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

RANGES = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737: documentation only, never scanned
VENDORS = (("Hikvision", "DS-2CD2386G2-IU", "camera"), ("Axis", "P3245-LVE", "camera"),
           ("Dahua", "NVR5216-16P-4KS2E", "nvr"), ("Ubiquiti", "UAP-AC-PRO", "access-point"),
           ("MultiTech", "MTCDT-L4E1", "iot-gateway"), ("Libelium", "Meshlium", "wifi-tracker"))
CLOUDS = (("cloud.hik-connect.com", "CN"), ("unifi.ui.com", "US"), ("eu.axis.cloud", "SE"), ("lora.example.net", "DE"))
TARGETS = [f"{r}.0/24" for r in RANGES]


def _ip(n: int) -> str:
    return f"{RANGES[n // 250]}.{n % 250 + 1}"


def make_result(site: int, scan: int, devices: int, rng: random.Random) -> ScanResult:
    """Scan ``scan`` of site ``site``: a few devices come and go, firmware moves on, findings change."""
    present = [n for n in range(devices + 5) if not (n >= devices and rng.random() < 0.6)][:devices + 3]
    devs, dests, findings = [], [], []
    for n in present:
        vendor, model, cls = VENDORS[(n + site) % len(VENDORS)]
        ip = _ip(n)
        patch = scan // 10 + (n % 3)
        devs.append(Device(
            ip=ip, mac=f"02:00:{site % 256:02x}:{n // 256:02x}:{n % 256:02x}:01", vendor=vendor, model=model,
            firmware=f"5.{patch}.{n % 7}", device_class=cls, capabilities=["onvif"] if cls == "camera" else [],
            services=[Service(80, "tcp", "http", "lighttpd", "1.4.59", method="probed"),
                      Service(443, "tcp", "https", "nginx", "1.22", method="probed")],
            evidence=[Evidence("fingerprint:http.body", f"{vendor} {model}")], mac_vendor=vendor, confidence=0.9,
            observations=[Observation("http.title", f"{vendor} {model} s{site}-{n}", "http-get", 80, "/")]))
        host, country = CLOUDS[n % len(CLOUDS)]
        dests.append(Destination(ip, host=host, port=443, transport="tcp", country=country, jurisdictions=[country],
                                 sources=["fingerprint"]))
        if n % 4 == 0 or rng.random() < 0.05:
            findings.append(Finding("cleartext-management", "medium", "Cleartext management", ip,
                                    f"HTTP admin on {ip}", port=80))
        if vendor in ("Hikvision", "Dahua"):
            findings.append(Finding("banned-vendor", "high", "Banned vendor", ip, f"{vendor} at {ip}"))
        if country == "CN":
            findings.append(Finding("data-outside-eea", "high", "Data outside the EEA", ip, f"to {host}",
                                    destination={"host": host, "ip": None, "port": 443}))
    day = 1 + scan
    started = f"2026-{10 + day // 31:02d}-{day % 31 + 1:02d}T02:{site % 60:02d}:00Z"
    return ScanResult(
        scan=ScanInfo(started_at=started, finished_at=started, targets=TARGETS, site=f"site-{site:03d}",
                      policy={"name": "eu-gdpr-baseline", "sha256": "ab" * 32, "files": []}),
        devices=devs, destinations=dests, findings=findings, tool={"name": "cityscan", "version": "bench"})


def _writer(args: tuple[str, list[int], int, int]) -> tuple[int, float]:
    """One sensor process: saves its sites' scans in time order, one transaction each."""
    url, sites, scans, devices = args
    saved, build = 0, 0.0
    with Store(url) as store:
        for scan in range(scans):
            for site in sites:
                t = time.perf_counter()
                result = make_result(site, scan, devices, random.Random(site * 1000 + scan))
                build += time.perf_counter() - t
                store.save(result)
                saved += 1
    return saved, build


@contextmanager
def postgres() -> Iterator[str]:
    """A throw-away server on a unix socket in a temporary directory (as 'nobody' when run as root)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql), or give --store URL")
    bindir = found[-1].parent
    base = Path(tempfile.mkdtemp(prefix="cityscan-bench-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        prefix = ["runuser", "-u", "nobody", "--"]
    data = base / "data"
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "cityscan", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "start",
                        "-o", f"-k {base} -c listen_addresses='' -p 5432"], check=True, capture_output=True,
                       timeout=120)
        yield f"postgresql://cityscan@/postgres?host={base}&port=5432"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(base, ignore_errors=True)


def timed(fn: object, repeat: int = 5) -> tuple[float, float]:
    """(median, max) seconds of ``repeat`` runs, each on a fresh read-only connection as a command would."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times), max(times)


def run(url: str, sites: int, scans: int, devices: int, writers: int) -> None:
    with Store(url) as store:
        store.migrate()
    t0 = time.perf_counter()
    shares = [(url, list(range(w, sites, writers)), scans, devices) for w in range(writers)]
    with multiprocessing.get_context("spawn").Pool(writers) as pool:
        done = pool.map(_writer, shares)
    write_s = time.perf_counter() - t0
    saved = sum(d[0] for d in done)
    build_s = sum(d[1] for d in done)

    def fleet() -> None:
        with Store(url, readonly=True) as store:
            summary = store.fleet()
        assert len(summary) == sites

    def one_diff() -> None:
        with Store(url, readonly=True) as store:
            pair = store.last_two(site=f"site-{sites // 2:03d}")
            assert pair is not None
            old, new = store.load(pair[0].id), store.load(pair[1].id)
        render_diff(diff(old, new), "json")

    fleet_med, fleet_max = timed(fleet)
    diff_med, diff_max = timed(one_diff)
    with Store(url, readonly=True) as store:
        sample = store.fleet()[0]
        size = store._run("SELECT pg_total_relation_size('scans')")[0][0]
    print(f"stored: {saved} scans ({sites} sites x {scans} scans x {devices} devices) by {writers} writers "
          f"in {write_s:.1f} s ({saved / write_s:.0f} scans/s; generating results took {build_s:.1f} s of it)")
    print(f"table size: {size / 1e6:.1f} MB ({size / saved / 1e3:.1f} kB per scan)")
    print(f"fleet summary ({sites} sites): median {fleet_med * 1000:.0f} ms, max {fleet_max * 1000:.0f} ms"
          f"   [target < 1000 ms]  e.g. {sample.site}: {sample.devices} devices, open {sample.open_findings}, "
          f"new {sample.new_findings}")
    print(f"diff (one site's last two scans, loaded and compared): median {diff_med * 1000:.0f} ms, "
          f"max {diff_max * 1000:.0f} ms   [target < 1000 ms]")
    ok = fleet_max < 1.0 and diff_max < 1.0
    print("result:", "PASS" if ok else "FAIL")
    if not ok:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", help="an empty PostgreSQL database's URL (default: a throw-away server)")
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--scans", type=int, default=30)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--writers", type=int, default=max(2, min(8, os.cpu_count() or 2)))
    args = parser.parse_args()
    if args.store:
        run(args.store, args.sites, args.scans, args.devices, args.writers)
        return
    with postgres() as url:
        run(url, args.sites, args.scans, args.devices, args.writers)


if __name__ == "__main__":
    main()
