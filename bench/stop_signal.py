"""Benchmark: how fast a city-sized scan stops on SIGTERM, and what it keeps.

systemd stops a service with SIGTERM and kills it after TimeoutStopSec (90 s by default); a person
presses Ctrl-C and waits a few seconds at most. This runs ``cityscan scan --nmap-xml`` on a
20,000-host file (bench/nmap_import.py's generator: the lab's recorded nmap output, renumbered
into 198.18.0.0/15; an import, nothing is sent) and signals it at several points of the run.
For each it prints the seconds from the signal to the exit, the exit status, and what the JSON
result kept. The last case sends a second SIGTERM half a second after the first.
Run: .venv/bin/python bench/stop_signal.py [HOSTS] [DELAY ...]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nmap_import import city_xml  # noqa: E402  (the same generator as the import bench)


def run(xml: Path, out: Path, delay: float, second: float | None) -> str:
    out.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "scanner", "scan", "--nmap-xml", str(xml), "--format", "json",
            "--output", str(out), "--no-store", "--quiet"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CITYSCAN_NO_CONFIG": "1"})
    time.sleep(delay)
    if proc.poll() is not None:
        return f"finished before the signal ({time.monotonic() - started:.1f} s)"
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    if second is not None:
        time.sleep(second)
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    took = time.monotonic() - signalled
    kept = "no result file"
    if out.exists():
        doc = json.loads(out.read_text(encoding="utf-8"))
        named = sum(1 for d in doc["devices"] if d.get("vendor"))
        cut = [e["message"] for e in doc["errors"] if "not done after the stop signal" in e["message"]]
        kept = (f"partial={doc['scan'].get('partial')}, {len(doc['devices']):,} devices "
                f"({named:,} identified), {len(doc.get('rules') or []):,} rule verdicts"
                + (f"; {cut[0].split(': ', 1)[1]}" if cut else ""))
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return f"exit {proc.returncode} {took:5.1f} s after the signal; {kept}" + (f" | {last[:100]}" if second else "")


def main() -> None:
    hosts = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    delays = [float(a) for a in sys.argv[2:]] or [2.0, 6.0, 10.0, 14.0]
    with tempfile.TemporaryDirectory() as tmp:
        xml, out = Path(tmp) / "city-nmap.xml", Path(tmp) / "result.json"
        city_xml(hosts, xml)
        t0 = time.monotonic()
        whole = subprocess.run([sys.executable, "-m", "scanner", "scan", "--nmap-xml", str(xml), "--format", "json",
                                "--output", str(out), "--no-store", "--quiet"], capture_output=True, text=True,
                               env={**os.environ, "CITYSCAN_NO_CONFIG": "1"})
        print(f"{hosts:,} hosts, {xml.stat().st_size / 1e6:.1f} MB of nmap XML; an uninterrupted scan takes "
              f"{time.monotonic() - t0:.1f} s (exit {whole.returncode})")
        for delay in delays:
            print(f"SIGTERM at {delay:4.1f} s: {run(xml, out, delay, None)}")
        print(f"SIGTERM at {delays[-1]:4.1f} s, again 0.5 s later: {run(xml, out, delays[-1], 0.5)}")


if __name__ == "__main__":
    main()
