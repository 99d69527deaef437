"""The emulated city lab: bring it up, report on it, run a command in it, take it down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import CannotRunError, InputError
from scanner.knowledge.loader import default_db
from scanner.lab import netns
from scanner.lab.cloud import DNS_IP
from scanner.lab.devices import DeviceSpec, load_devices

DEFAULT_PREFIX = "cslab"
SCANNER_IP = "198.51.100.2"
SCANNER_MAC = "02:00:00:00:00:02"  # locally administered: the scanner is nobody's product
LAB_NETWORK = "198.51.100.0/24"
STATE_DIR = Path(os.environ.get("CITYSCAN_LAB_STATE", "/run/cityscan-lab"))
CLOUD_NETWORK = "203.0.113.0/24"  # the lab's stand-in for the internet (documentation range)
CLOUD_NET_PREFIX = "203.0.113"
CLOUD_MAC = "02:00:00:00:00:fe"


@dataclass
class LabState:
    prefix: str
    scanner_ns: str
    devices: list[dict[str, str]]

    def to_dict(self) -> dict[str, object]:
        return {"prefix": self.prefix, "scanner_ns": self.scanner_ns, "devices": self.devices}


def _state_file(prefix: str) -> Path:
    return STATE_DIR / f"{prefix}.json"


def select(devices: list[DeviceSpec], names: list[str] | None, hostile: bool = False) -> list[DeviceSpec]:
    if names:
        known = {d.name: d for d in devices}
        missing = [n for n in names if n not in known]
        if missing:
            raise InputError(f"unknown lab device(s): {', '.join(missing)} (known: {', '.join(sorted(known))})")
        return [known[n] for n in names]
    return [d for d in devices if hostile or not d.hostile]


def cloud_endpoints(spec: DeviceSpec) -> list[tuple[str, int]]:
    """Where the real device is documented to talk: its vendor's cloud endpoints in the fingerprint database."""
    vendor_name = spec.expect.get("vendor")
    if not vendor_name:
        return []
    db = default_db()
    out = []
    for name in db.maker_chain(vendor_name):
        vendor = db.vendor(name)
        out += [(e.host, e.port or 443) for e in (vendor.cloud_endpoints if vendor else [])]
    return out


def cloud_zone(chosen: list[DeviceSpec]) -> dict[str, str]:
    """Every cloud host name the devices use -> an address of the lab's cloud namespace.

    Numbered over every built-in device as well as the chosen ones, so a host keeps its address
    whichever devices a lab runs: two scans of a changed lab differ only where the lab changed.
    """
    wanted = {host for spec in chosen for host, _ in cloud_endpoints(spec)}
    every = sorted({host for spec in load_devices() for host, _ in cloud_endpoints(spec)} | wanted)
    return {host: f"{CLOUD_NET_PREFIX}.{100 + index}" for index, host in enumerate(every[:150]) if host in wanted}


def up(names: list[str] | None = None, prefix: str = DEFAULT_PREFIX, hostile: bool = False,
       devices: list[DeviceSpec] | None = None) -> LabState:
    """Create the lab (replacing one with the same prefix) and start every emulated device."""
    netns.require_root()
    chosen = select(devices if devices is not None else load_devices(), names, hostile)
    netns.delete_lab(prefix)
    netns.create_switch(prefix)
    scanner_ns = f"{prefix}-scan"
    zone = cloud_zone(chosen)
    try:
        netns.add_host(prefix, 0, netns.Host(scanner_ns, SCANNER_IP, SCANNER_MAC))
        procs = [_start_cloud(prefix, zone)]
        for index, spec in enumerate(chosen, start=1):
            ns = f"{prefix}-d{index}"
            netns.add_host(prefix, index, netns.Host(ns, spec.ip, spec.mac))
            netns.add_onlink_route(ns, CLOUD_NETWORK)
            argv = [sys.executable, "-m", "scanner.lab.emulator", spec.file]
            talk = [(h, p) for h, p in cloud_endpoints(spec) if h in zone]
            if talk:
                argv += ["--dns", DNS_IP] + [a for h, p in talk for a in ("--talk", f"{h}:{p}")]
            proc = subprocess.Popen(netns.exec_argv(ns, argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
            procs.append((spec, ns, proc))
        for spec, ns, proc in procs:
            _wait_ready(spec, proc)
    except BaseException:
        netns.delete_lab(prefix)
        raise
    state = LabState(prefix, scanner_ns, [{"name": s.name, "ip": s.ip, "mac": s.mac, "ns": ns, "title": s.title}
                                          for s, ns, _ in procs[1:]])
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    _state_file(prefix).write_text(json.dumps(state.to_dict(), indent=2))
    return state


def _start_cloud(prefix: str, zone: dict[str, str]) -> tuple[DeviceSpec, str, subprocess.Popen[str]]:
    ns = f"{prefix}-cloud"
    netns.add_host(prefix, 250, netns.Host(ns, DNS_IP, CLOUD_MAC))
    for address in sorted(set(zone.values())):
        netns.add_address(ns, f"{address}/24")
    netns.add_onlink_route(ns, LAB_NETWORK)
    zone_file = STATE_DIR / f"{prefix}-zone.json"
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    zone_file.write_text(json.dumps(zone, indent=2))
    proc = subprocess.Popen(netns.exec_argv(ns, [sys.executable, "-m", "scanner.lab.cloud", str(zone_file)]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    spec = DeviceSpec(name="lab-cloud", title="the lab's internet", ip=DNS_IP, mac=CLOUD_MAC, expect={},
                      sources=[], services=[], file="")
    return spec, ns, proc


def _wait_ready(spec: DeviceSpec, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ready"):
            return
        if proc.poll() is not None:
            err = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
            raise CannotRunError(f"lab device {spec.name} failed to start: {err[-1] if err else proc.returncode}")
    raise CannotRunError(f"lab device {spec.name} did not start within {timeout} s")


def down(prefix: str = DEFAULT_PREFIX) -> list[str]:
    netns.require_root()
    removed = netns.delete_lab(prefix)
    _state_file(prefix).unlink(missing_ok=True)
    (STATE_DIR / f"{prefix}-zone.json").unlink(missing_ok=True)
    return removed


def status(prefix: str = DEFAULT_PREFIX) -> LabState | None:
    path = _state_file(prefix)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    live = set(netns.list_namespaces())
    if data.get("scanner_ns") not in live:
        return None
    return LabState(data["prefix"], data["scanner_ns"], [d for d in data["devices"] if d["ns"] in live])


def exec_in_scanner(argv: list[str], prefix: str = DEFAULT_PREFIX) -> int:
    state = status(prefix)
    if state is None:
        raise CannotRunError("the lab is not up (run 'cityscan lab up' first)")
    return run_forwarding_signals(netns.exec_argv(state.scanner_ns, argv))


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_forwarding_signals(argv: list[str]) -> int:
    """Run ``argv`` and pass every stop signal on to it, then wait for it to finish.

    A scan inside the lab keeps what it collected when it is stopped: it must get the signal
    (subprocess.call would SIGKILL it on Ctrl-C, and a SIGTERM would leave it running). The exit
    status is the command's, a signal death reported as 128 + signal like a shell does. The
    handlers are in place before the command starts: a signal in between is passed on once it runs.
    """
    running: list[subprocess.Popen[bytes]] = []
    early: list[int] = []

    def forward(signum: int, frame: object) -> None:
        if not running:
            early.append(signum)
            return
        try:
            running[0].send_signal(signum)
        except OSError:
            pass  # it has already exited

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        try:
            # its own session: a Ctrl-C at the terminal then reaches it once, through us, not twice
            # (twice would be "exit at once" to a cityscan scan)
            running.append(subprocess.Popen(argv, start_new_session=True))
        except OSError as exc:
            raise CannotRunError(f"cannot run {argv[0]}: {exc.strerror}") from None
        for signum in early:
            running[0].send_signal(signum)
        code = running[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code
