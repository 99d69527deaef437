"""bench/nmap_import.py keeps working: at 30 hosts its file has 30 distinct devices and every stage runs."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_the_import_bench_runs_on_a_small_city() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "nmap_import.py"), "30"], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "nmap XML: 30 hosts" in run.stdout and "30 devices, 0 errors" in run.stdout
    assert "judge:" in run.stdout and "total:" in run.stdout
