"""Benchmark: import a city-sized nmap XML file (10,000 hosts) and take it through the offline stages.

The file is built from the lab's recorded scan (tests/data/lab-nmap.xml): its host blocks, real
nmap 7.93 output of the emulated devices, are repeated with addresses renumbered into the
benchmarking range 198.18.0.0/15 (RFC 2544) and MAC addresses varied, so every host is distinct.
Nothing is sent anywhere: this is an import. Prints the file size, then the time and peak memory
of parsing (streamed), identifying, resolving and judging, and the JSON result's size; then, side
by side, python-nmap's bare parse of the same file (``PortScanner().analyse_nmap_xml_scan``, what
a script built on it does first) and the ratio of cityscan's whole import-to-JSON to it.
python-nmap comes with ``pip install -e '.[bench]'`` (``make bench``).
Run: .venv/bin/python bench/nmap_import.py [HOSTS]   (a city scan: 10,000 hosts)
"""

from __future__ import annotations

import ipaddress
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scanner.collect.nmap import import_nmap_xml
from scanner.judge.policy import load_policy
from scanner.model import ScanInfo, ScanResult
from scanner.pipeline import identify, judge, resolve
from scanner.report import RenderOptions, render

LAB_XML = Path(__file__).resolve().parent.parent / "tests" / "data" / "lab-nmap.xml"
HOST = re.compile(rb"<host[ >].*?</host>", re.S)
ADDR = re.compile(rb'<address addr="[^"]+" addrtype="ipv4"/>')
MAC = re.compile(rb'(<address addr=")([0-9A-F:]{17})(" addrtype="mac")')


def city_xml(hosts: int, path: Path) -> None:
    text = LAB_XML.read_bytes()
    blocks = [b for b in HOST.findall(text) if b'reason="localhost-response"' not in b]  # not the scanner
    head = text[:text.index(HOST.search(text).group(0))]  # type: ignore[union-attr]
    tail = text[text.rindex(b"</host>") + len(b"</host>"):]
    base = ipaddress.ip_address("198.18.0.1")
    with path.open("wb") as out:
        out.write(head)
        for n in range(hosts):
            block = blocks[n % len(blocks)]
            ip = str(base + n).encode()
            block = ADDR.sub(b'<address addr="' + ip + b'" addrtype="ipv4"/>', block, count=1)
            block = MAC.sub(lambda m: m.group(1) + m.group(2)[:9] + b"%02X:%02X:%02X" % (
                (n >> 16) & 255, (n >> 8) & 255, n & 255) + m.group(3), block, count=1)
            out.write(block + b"\n")
        out.write(tail)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    hosts = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "city-nmap.xml"
        city_xml(hosts, path)
        bare = python_nmap_parse(path)
        print(f"nmap XML: {hosts:,} hosts, {path.stat().st_size / 1e6:.1f} MB (from {LAB_XML.name})")
        start_mb = peak_mb()
        t0 = time.perf_counter()
        devices, errors, _ = import_nmap_xml([str(path)])
        t1 = time.perf_counter()
        print(f"parse:    {t1 - t0:6.2f} s  {len(devices):,} devices, {len(errors)} errors, "
              f"peak RSS {peak_mb():.0f} MB (before: {start_mb:.0f} MB)")
    result = ScanResult(scan=ScanInfo(started_at="2026-12-02T00:00:00Z"), devices=devices,
                        tool={"name": "cityscan", "version": "bench"})
    t1 = time.perf_counter()
    identify(result)
    t2 = time.perf_counter()
    known = sum(1 for d in result.devices if d.vendor)
    print(f"identify: {t2 - t1:6.2f} s  {known:,} of {len(result.devices):,} devices with a vendor")
    resolve(result, None, None)
    t3 = time.perf_counter()
    print(f"resolve:  {t3 - t2:6.2f} s  {len(result.destinations):,} destinations (vendor endpoints)")
    judge(result, load_policy("eu-gdpr-baseline"))
    t4 = time.perf_counter()
    print(f"judge:    {t4 - t3:6.2f} s  {len(result.findings):,} findings")
    text = render(result, "json", RenderOptions())
    t5 = time.perf_counter()
    print(f"json:     {t5 - t4:6.2f} s  {len(text) / 1e6:.1f} MB")
    print(f"total:    {t5 - t0:6.2f} s  peak RSS {peak_mb():.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        stored = Path(tmp) / "result.json"
        stored.write_text(text, encoding="utf-8")
        del text
        for how in ("streamed", "whole"):
            run = subprocess.run([sys.executable, "-c", LOAD_BACK, str(stored), how], capture_output=True, text=True)
            took, devices, peak = run.stdout.split() if run.returncode == 0 else ("nan", "0", run.stderr[-200:])
            print(f"load back ({how}): {float(took):5.2f} s  {int(devices):,} devices, peak RSS {peak} MB")
    if bare is not None:
        print(f"python-nmap 0.7.1 bare parse of the same file: {bare:.2f} s (its own process); "
              f"cityscan import to JSON: {(t5 - t0) / bare:.1f}x that")


LOAD_BACK = """
import json, sys, time
from scanner.history.results import load_result
from scanner.model import ScanResult
t0 = time.perf_counter()
if sys.argv[2] == "streamed":
    result = load_result(sys.argv[1])   # what report, diff and explain do
else:
    with open(sys.argv[1], encoding="utf-8") as handle:  # the whole parsed tree first, as before
        result = ScanResult.from_dict(json.load(handle))
took = time.perf_counter() - t0
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(f"{took} {len(result.devices)} {int(hwm) / 1024:.0f}")   # VmHWM: ru_maxrss survives exec
"""

PYTHON_NMAP = """
import sys, time
import nmap
t0 = time.perf_counter()
with open(sys.argv[1], encoding="utf-8", errors="replace") as handle:
    parsed = nmap.PortScanner().analyse_nmap_xml_scan(handle.read())
took = time.perf_counter() - t0
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(f"{took} {len(parsed['scan'])} {int(hwm) / 1024:.0f}")  # VmHWM: ru_maxrss survives exec
"""


def python_nmap_parse(path: Path) -> float | None:
    """Seconds python-nmap takes to read and parse ``path`` (in a process of its own, so that each
    tool's peak memory is its own); None, said, when python-nmap is not installed."""
    run = subprocess.run([sys.executable, "-c", PYTHON_NMAP, str(path)], capture_output=True, text=True)
    if run.returncode != 0:
        print("python-nmap not installed (pip install -e '.[bench]'): no side-by-side figure"
              if "No module named 'nmap'" in run.stderr else f"python-nmap failed: {run.stderr.strip()[-200:]}")
        return None
    took, hosts, peak = run.stdout.split()
    print(f"python-nmap: {float(took):6.2f} s  {int(hosts):,} hosts (bare parse, all in memory), peak RSS {peak} MB")
    return float(took)

if __name__ == "__main__":
    main()
