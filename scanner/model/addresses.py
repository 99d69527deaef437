"""IP address helpers every stage shares: one way to sort, one way to tell public from local."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=65536)
def parse_ip(text: str | None) -> IPAddress | None:
    """``text`` as an address, or None when it is not one.

    A dotted quad goes through ``inet_pton`` (strict like ``ipaddress``: four decimal parts, no
    leading zeros) and is built from its four bytes, several times faster than parsing the text."""
    if text and ":" not in text:
        try:
            return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
        except (OSError, ValueError):
            return None
    try:
        return ipaddress.ip_address(text or "")
    except ValueError:
        return None


def ip_sort_key(text: str | None) -> tuple[int, int, str]:
    """Numeric order (198.51.100.9 before 198.51.100.10), IPv4 before IPv6, non-addresses last."""
    addr = parse_ip(text)
    if addr is None:
        return (9, 0, text or "")
    return (addr.version, int(addr), "")


def is_global(text: str | None) -> bool:
    """A public address (not private, documentation, loopback, link-local ...)."""
    addr = parse_ip(text)
    return addr is not None and addr.is_global
