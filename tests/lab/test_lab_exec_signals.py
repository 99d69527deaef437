"""`cityscan lab exec` passes stop signals on: a scan run inside the lab keeps what it collected
when the lab command is stopped, instead of being killed (Ctrl-C) or left running (SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

CHILD = textwrap.dedent("""
    import signal, sys, time
    def stop(signum, frame):
        print(f"child got {signal.Signals(signum).name}", flush=True)
        sys.exit(7)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    print("ready", flush=True)
    time.sleep(30)
""")
WRAPPER = ("import sys\nfrom scanner.lab.lab import run_forwarding_signals\n"
           "sys.exit(run_forwarding_signals([sys.executable, '-c', sys.argv[1]]))")


def wrapper(child: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", WRAPPER, child], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_signal_reaches_the_command_once_and_its_exit_status_is_kept(sig: signal.Signals) -> None:
    proc = wrapper(CHILD)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert out.strip().splitlines() == [f"child got {sig.name}"], err  # once: twice would be "exit at once"
    assert proc.returncode == 7


def test_a_command_killed_by_the_signal_exits_128_plus_it() -> None:
    proc = wrapper("import time; print('ready', flush=True); time.sleep(30)")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 143
