"""A second signal exits at once, but leaves nothing running or lying around: child processes
(nmap, tcpdump, which has no time limit of its own) are killed and temporary files removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import ROOT

SCRIPT = textwrap.dedent("""
    import subprocess, sys, time
    from scanner.runtime.interrupt import ScanInterrupted, end_with_us, interruptible, remove_with_us
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    end_with_us(child)
    open(sys.argv[1], "w").write("captured city traffic")
    remove_with_us(sys.argv[1])
    with interruptible() as stop:
        print(child.pid, flush=True)   # only now: a signal before the handler would end the script
        try:
            time.sleep(60)
        except ScanInterrupted:
            with stop.deferred():
                print("cleaning up", flush=True)
                time.sleep(60)  # a slow clean-up: the user sends a second signal
""")


def test_the_second_signal_kills_children_and_removes_temporary_files(tmp_path: Path) -> None:
    pcap = tmp_path / "cityscan-capture-x.pcap"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(pcap)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    assert pcap.exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout.readline().strip() == "cleaning up"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143 and "second SIGTERM: exiting at once" in err
    assert not pcap.exists()
    for _ in range(50):  # the killed child is reaped by init; its pid disappears
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{child}/stat") as stat:
            if stat.read().split()[2] == "Z":
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the child process outlived the immediate exit")
