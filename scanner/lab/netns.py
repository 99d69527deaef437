"""Linux network namespaces for the emulated city lab: a switch, devices and a scanner.

Layout (prefix ``P``): namespace ``P-sw`` holds bridge ``br0``; every device and the scanner
get a namespace ``P-<n>`` with ``eth0`` (its own MAC and documentation-range address) whose
veth peer is a port of ``br0``. No namespace has a default route or a link to the host, so
nothing in the lab can reach any other network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from scanner.errors import CannotRunError

PREFIX_MAX = 6  # interface/namespace names stay short and unique


@dataclass(frozen=True)
class Host:
    ns: str
    ip: str
    mac: str
    prefixlen: int = 24


def require_root() -> None:
    if os.geteuid() != 0:
        raise CannotRunError("the lab needs root (network namespaces); run as root or use the offline replay")
    if not shutil.which("ip"):
        raise CannotRunError("the lab needs iproute2's 'ip' command (apt-get install iproute2)")


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise CannotRunError(f"{' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc


def list_namespaces() -> list[str]:
    out = _run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def switch_ns(prefix: str) -> str:
    return f"{prefix}-sw"


def create_switch(prefix: str) -> str:
    """The lab segment. Its bridge forgets MAC addresses at once (ageing 0), so it floods every
    frame to every port like a hub: a capture in the scanner namespace sees the devices' traffic."""
    ns = switch_ns(prefix)
    _run("ip", "netns", "add", ns)
    _run("ip", "-n", ns, "link", "add", "br0", "type", "bridge", "ageing_time", "0")
    _run("ip", "-n", ns, "link", "set", "br0", "up")
    _run("ip", "-n", ns, "link", "set", "lo", "up")
    return ns


def add_host(prefix: str, index: int, host: Host) -> None:
    """Create ``host.ns`` with eth0 plugged into the switch's bridge."""
    sw = switch_ns(prefix)
    port = f"p{index}"
    _run("ip", "netns", "add", host.ns)
    _run("ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host.ns)
    _run("ip", "-n", sw, "link", "set", port, "master", "br0")
    _run("ip", "-n", sw, "link", "set", port, "up")
    _run("ip", "-n", host.ns, "link", "set", "lo", "up")
    _run("ip", "-n", host.ns, "link", "set", "eth0", "address", host.mac)
    _run("ip", "-n", host.ns, "addr", "add", f"{host.ip}/{host.prefixlen}", "dev", "eth0")
    _run("ip", "-n", host.ns, "link", "set", "eth0", "up")


def add_onlink_route(ns: str, cidr: str) -> None:
    """A route to another documentation range on the same segment (no gateway, nothing beyond it)."""
    _run("ip", "-n", ns, "route", "add", cidr, "dev", "eth0")


def add_address(ns: str, cidr: str) -> None:
    _run("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0")


def kill_namespace_processes(ns: str) -> None:
    pids = _run("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), 15)
        except (ProcessLookupError, ValueError, PermissionError):
            pass


def delete_lab(prefix: str) -> list[str]:
    """Remove every namespace of the lab ``prefix`` (and the processes inside them)."""
    removed = []
    for ns in list_namespaces():
        if ns.startswith(f"{prefix}-"):
            kill_namespace_processes(ns)
            _run("ip", "netns", "del", ns, check=False)
            removed.append(ns)
    return removed


def exec_argv(ns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]
