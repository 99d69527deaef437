"""Live capture with tcpdump, to a pcap that :func:`read_flows` then reads like any other.

tcpdump (Debian package ``tcpdump``) does the capturing because it is the tool network teams
already trust on their segments; cityscan never decodes live packets itself. The snapshot length
of 512 bytes keeps every header and a whole DNS answer but little of anyone's payload.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence

from scanner.errors import CannotRunError, InputError
from scanner.runtime.interrupt import end_with_us, release

SNAPLEN = 512
STOP_GRACE = 3.0  # seconds tcpdump gets to flush after SIGINT before it is killed
MAX_SECONDS = 86400
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")


def tcpdump_path() -> str:
    path = shutil.which("tcpdump")
    if not path:
        raise CannotRunError("tcpdump is not installed or not on PATH (Debian/Ubuntu: apt-get install tcpdump)")
    return path


def interface_addresses(iface: str, netns: str | None = None) -> list[str]:
    """The IP addresses of ``iface`` (``ip -j addr``), so a capture can leave out the scanner's own probes.

    An empty list when they cannot be read: the capture then keeps everything, which only adds
    the scanner's own connections to the records (they come from no device, so nothing is judged).
    """
    argv = ["ip", "-j", "addr", "show", "dev", iface]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
        links = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    found: list[str] = []
    for link in links if isinstance(links, list) else []:
        for info in link.get("addr_info") or [] if isinstance(link, dict) else []:
            local = info.get("local") if isinstance(info, dict) else None
            if isinstance(local, str):
                with contextlib.suppress(ValueError):
                    found.append(str(ipaddress.ip_address(local)))
    return found


def capture_filter(exclude_hosts: Sequence[str]) -> list[str]:
    """A BPF expression that drops traffic to or from ``exclude_hosts`` (validated IP addresses)."""
    hosts = [str(ipaddress.ip_address(h)) for h in exclude_hosts]
    return ["not", "(", " or ".join(f"host {h}" for h in hosts), ")"] if hosts else []


def capture_argv(iface: str, out_path: str, netns: str | None = None, exclude_hosts: Sequence[str] = ()) -> list[str]:
    """The command line: packet-buffered (-U) so a stopped capture is complete up to its last packet;
    ``-Z root`` because Debian's tcpdump otherwise drops to user tcpdump before opening ``-w``."""
    argv = [tcpdump_path(), "-i", iface, "-n", "-U", "-s", str(SNAPLEN), "-Z", "root", "-w", out_path,
            *capture_filter(exclude_hosts)]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    return argv


def check_capture(iface: str, seconds: int, netns: str | None = None, check_interface: bool = True) -> None:
    """Everything a capture needs, checked before the scan starts so that a typo costs no scan time."""
    if not _NAME.fullmatch(iface):
        raise InputError(f"capture: {iface[:40]!r} is not an interface name")
    if netns is not None and not _NAME.fullmatch(netns):
        raise InputError(f"capture: {netns[:40]!r} is not a network namespace name")
    if type(seconds) is not int or not 1 <= seconds <= MAX_SECONDS:
        raise InputError(f"capture: seconds must be a whole number from 1 to {MAX_SECONDS}")
    tcpdump_path()
    if os.geteuid() != 0:
        raise CannotRunError("live capture needs root (or run tcpdump yourself and pass the pcap with --flows)")
    if netns is None and check_interface:
        try:
            socket.if_nametoindex(iface)
        except OSError:
            raise InputError(f"capture: no network interface {iface!r} here") from None


def capture(iface: str, seconds: int, out_path: str, netns: str | None = None, own_addresses: bool = False,
            stop: threading.Event | None = None) -> None:
    """Capture ``iface`` (inside network namespace ``netns`` if given) for ``seconds`` into ``out_path``.

    ``own_addresses``: leave out traffic to and from the interface's own addresses (the scanner's probes).
    ``stop``: ends the capture early (a stopped scan must not leave tcpdump running).
    """
    check_capture(iface, seconds, netns, check_interface=False)
    if netns is not None and not shutil.which("ip"):
        raise CannotRunError("capturing in a network namespace needs iproute2's 'ip' command")
    argv = capture_argv(iface, out_path, netns, interface_addresses(iface, netns) if own_addresses else ())
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise CannotRunError(f"cannot start tcpdump: {exc.strerror}") from None
    end_with_us(proc)  # tcpdump has no time limit of its own: it must not outlive an immediate exit
    with proc, contextlib.ExitStack() as done:
        done.callback(release, proc)
        try:
            _, err = _wait(proc, seconds, stop)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # tcpdump flushes and closes the file on SIGINT
            try:
                proc.communicate(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            return
        except BaseException:
            proc.kill()
            raise
    # tcpdump ended before its time: it could not capture (no such interface, no permission).
    lines = (err or "").strip().splitlines()
    reason = next((line for line in reversed(lines) if "tcpdump:" in line), lines[-1] if lines else "")
    raise CannotRunError(f"tcpdump stopped after starting (exit {proc.returncode}): {reason[:200]}")


def _wait(proc: subprocess.Popen[str], seconds: float, stop: threading.Event | None) -> tuple[str, str]:
    """``communicate`` with a deadline that ``stop`` can bring forward; TimeoutExpired when it passes."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (stop is not None and stop.is_set()):
            raise subprocess.TimeoutExpired(proc.args, seconds)
        try:
            return proc.communicate(timeout=min(remaining, 0.25))
        except subprocess.TimeoutExpired:
            continue
