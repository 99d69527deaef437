"""Live capture with tcpdump, to a pcap that :func:`read_flows` then reads like any other.

tcpdump (Debian package ``tcpdump``) does the capturing because it is the tool network teams
already trust on their segments; cityscan never decodes live packets itself. The snapshot length
of 512 bytes keeps every header and a whole DNS answer but little of anyone's payload.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess

from ..errors import CannotRunError, InputError

SNAPLEN = 512
MAX_SECONDS = 86400
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")


def tcpdump_path() -> str:
    path = shutil.which("tcpdump")
    if not path:
        raise CannotRunError("tcpdump is not installed or not on PATH (Debian/Ubuntu: apt-get install tcpdump)")
    return path


def capture_argv(iface: str, out_path: str, netns: str | None = None) -> list[str]:
    """The command line: packet-buffered (-U) so a stopped capture is complete up to its last packet;
    ``-Z root`` because Debian's tcpdump otherwise drops to user tcpdump before opening ``-w``."""
    argv = [tcpdump_path(), "-i", iface, "-n", "-U", "-s", str(SNAPLEN), "-Z", "root", "-w", out_path]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    return argv


def capture(iface: str, seconds: int, out_path: str, netns: str | None = None) -> None:
    """Capture ``iface`` (inside network namespace ``netns`` if given) for ``seconds`` into ``out_path``."""
    if not _NAME.fullmatch(iface):
        raise InputError(f"capture: {iface[:40]!r} is not an interface name")
    if netns is not None and not _NAME.fullmatch(netns):
        raise InputError(f"capture: {netns[:40]!r} is not a network namespace name")
    if type(seconds) is not int or not 1 <= seconds <= MAX_SECONDS:
        raise InputError(f"capture: seconds must be a whole number from 1 to {MAX_SECONDS}")
    argv = capture_argv(iface, out_path, netns)
    if os.geteuid() != 0:
        raise CannotRunError("live capture needs root (or run tcpdump yourself and pass the pcap with --flows)")
    if netns is not None and not shutil.which("ip"):
        raise CannotRunError("capturing in a network namespace needs iproute2's 'ip' command")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise CannotRunError(f"cannot start tcpdump: {exc.strerror}") from None
    with proc:
        try:
            _, err = proc.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # tcpdump flushes and closes the file on SIGINT
            try:
                proc.communicate(timeout=10)
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
