"""Bounded network reads: every probe has a deadline and a byte budget, whatever the device does."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

MAX_READ = 256 * 1024


class ProbeNote(Exception):
    """Not a failure: the probe got its answer, with something odd worth reporting."""

    def __init__(self, message: str, observations: list, stop: bool = False) -> None:  # type: ignore[type-arg]
        super().__init__(message)
        self.observations = observations
        self.stop = stop  # the service misbehaves: do not send it more requests


class ProbeFailed(Exception):
    """A probe could not complete (refused, timed out, over budget); the message says how.

    ``absent`` marks the ordinary answer of a device that simply lacks the service (no SNMP
    agent, not an ONVIF device): not worth an error entry. Anything odd is not absent.
    """

    def __init__(self, message: str, absent: bool = False) -> None:
        super().__init__(message)
        self.absent = absent


@dataclass
class Budget:
    """A deadline for one exchange: a device that drips one byte a second still stops at it."""

    seconds: float

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def left(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeFailed(f"timed out after {self.seconds:g} s")
        return remaining


def connect(ip: str, port: int, budget: Budget, tls: bool = False,
            server_hostname: str | None = None) -> socket.socket:
    try:
        sock = socket.create_connection((ip, port), timeout=budget.left())
    except TimeoutError:
        raise ProbeFailed(f"connect timed out after {budget.seconds:g} s") from None
    except OSError as exc:
        raise ProbeFailed(f"connect failed: {exc.strerror or exc}") from None
    if not tls:
        return sock
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # identification only: we read the certificate, we trust nothing
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    try:
        sock.settimeout(budget.left())
        return ctx.wrap_socket(sock, server_hostname=server_hostname)
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise ProbeFailed(f"TLS handshake failed: {exc}") from None


def read_until(sock: socket.socket, budget: Budget, limit: int = MAX_READ, stop: bytes | None = None,
               idle: float | None = None, partial_ok: bool = False) -> bytes:
    """Read until the peer closes, ``stop`` appears, ``limit`` bytes, the deadline, or ``idle`` s of silence.

    A peer still sending at the deadline (one byte a second, say) is a failure unless
    ``partial_ok``: the deadline bounds the whole exchange, not the gap between bytes.
    """
    data = bytearray()
    while len(data) < limit:
        try:
            wait = budget.left()
        except ProbeFailed:
            if data and partial_ok:
                break
            if data:
                raise ProbeFailed(f"answer still incomplete after {budget.seconds:g} s "
                                  f"({len(data)} bytes; a device dripping data)") from None
            raise
        sock.settimeout(min(wait, idle) if idle else wait)
        try:
            chunk = sock.recv(min(65536, limit - len(data)))
        except (TimeoutError, socket.timeout):
            if idle or (data and partial_ok):
                break
            if data:
                raise ProbeFailed(f"answer still incomplete after {budget.seconds:g} s "
                                  f"({len(data)} bytes; a device dripping data)") from None
            raise ProbeFailed(f"no answer within {budget.seconds:g} s") from None
        except (OSError, ssl.SSLError) as exc:
            if data:
                break
            raise ProbeFailed(f"read failed: {exc}") from None
        if not chunk:
            break
        data.extend(chunk)
        if stop and stop in data:
            break
    return bytes(data)


def send(sock: socket.socket, payload: bytes, budget: Budget) -> None:
    try:
        sock.settimeout(budget.left())
        sock.sendall(payload)
    except (OSError, ssl.SSLError) as exc:
        raise ProbeFailed(f"send failed: {exc}") from None
