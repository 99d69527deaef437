"""Re-record the lab data the tests and the offline demo replay use (run as root: `make record`).

- tests/data/lab-nmap.xml: real nmap 7.x XML (-sS -sV --version-light) of the emulated lab,
  made from inside the lab's scanner namespace;
- scanner/lab/recorded/lab-scan.json: a full cityscan scan of the lab (observations included, and
  the devices' cloud traffic captured during the scan), replayed by `cityscan demo` where
  namespaces cannot be created.

`--scan-only` re-records only the replay (the tests' expectations rest on lab-nmap.xml).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scanner.lab import lab

ROOT = Path(__file__).resolve().parent.parent.parent
PORTS = "21,22,23,80,443,554,8000,8080,8443"


def main() -> None:
    state = lab.up(prefix="csrec")
    try:
        xml = ROOT / "tests" / "data" / "lab-nmap.xml"
        if "--scan-only" not in sys.argv[1:]:
            subprocess.run(["ip", "netns", "exec", state.scanner_ns, "nmap", "-n", "-sS", "-sV", "--version-light",
                            "-T4", "-p", PORTS, "-oX", str(xml), lab.LAB_NETWORK], check=True, stdout=subprocess.DEVNULL)
        out = ROOT / "scanner" / "lab" / "recorded" / "lab-scan.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ip", "netns", "exec", state.scanner_ns, sys.executable, "-m", "scanner.cli", "scan",
                        lab.LAB_NETWORK, "--ports", PORTS, "--policy", "eu-gdpr-baseline", "--format", "json",
                        "--output", str(out), "--fail-on", "none", "--no-store",
                        "--capture", "eth0", "--capture-seconds", "15"], check=True)
        print(f"recorded {out}" + ("" if "--scan-only" in sys.argv[1:] else f" and {xml}"))
    finally:
        lab.down("csrec")


if __name__ == "__main__":
    main()
