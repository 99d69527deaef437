"""Re-record the lab data the tests and the offline demo replay use (run as root: `make record`).

- tests/data/lab-nmap.xml: real nmap 7.x XML (-sS -sV --version-light) of the emulated lab,
  made from inside the lab's scanner namespace;
- scanner/lab/recorded/lab-scan.json: a full cityscan scan of the lab (observations included),
  replayed by `cityscan demo` where namespaces cannot be created.
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
        subprocess.run(["ip", "netns", "exec", state.scanner_ns, "nmap", "-n", "-sS", "-sV", "--version-light",
                        "-T4", "-p", PORTS, "-oX", str(xml), lab.LAB_NETWORK], check=True, stdout=subprocess.DEVNULL)
        out = ROOT / "scanner" / "lab" / "recorded" / "lab-scan.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ip", "netns", "exec", state.scanner_ns, sys.executable, "-m", "scanner.cli", "scan",
                        lab.LAB_NETWORK, "--ports", PORTS, "--policy", "eu-gdpr-baseline", "--format", "json",
                        "--output", str(out), "--fail-on", "none"], check=True)
        print(f"recorded {xml} and {out}")
    finally:
        lab.down("csrec")


if __name__ == "__main__":
    main()
