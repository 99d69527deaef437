"""What a scan may touch: targets must lie inside the scope, checked before any packet.

The limit on addresses applies to the whole scan, not to each target.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from scanner.errors import InputError, ScopeError
from scanner.files import read_bounded

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A target larger than this is almost always a typo (a /8 is 16 million hosts).
MAX_TARGET_ADDRESSES = 65536
MAX_LIST_BYTES = 1024 * 1024


def parse_network(text: str, what: str = "target", source: str | None = None,
                  line: int | None = None) -> Network:
    """An IP address or CIDR network; anything else is refused (see :func:`parse_targets` for more)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InputError(f"{what} {text[:80]!r} is not an IP address or CIDR network", source, line) from None


_RANGE = re.compile(r"^(?P<start>[0-9a-fA-F.:]+)-(?P<end>[0-9a-fA-F.:]+)$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.?$")


def parse_target(text: str, source: str | None = None, line: int | None = None,
                 resolve: Callable[[str], list[str]] | None = None) -> list[Network]:
    """What nmap users type: an address, a CIDR network, a range (``198.51.100.1-20`` or
    ``198.51.100.1-198.51.100.20``) or a host name (resolved, each address a /32 or /128)."""
    text = text.strip()
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_network(text, strict=False)]
    match = _RANGE.match(text)
    if match:
        start_text, end_text = match.group("start"), match.group("end")
        try:
            start = ipaddress.ip_address(start_text)
            if "." in end_text or ":" in end_text:
                end = ipaddress.ip_address(end_text)
            elif start.version == 4 and end_text.isdigit():  # 198.51.100.1-20: the last octet
                end = ipaddress.ip_address(".".join(start_text.split(".")[:3] + [end_text]))
            else:
                raise ValueError(end_text)
            if end < start:  # type: ignore[operator]
                raise ValueError("backwards")
            return list(ipaddress.summarize_address_range(start, end))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            raise InputError(f"target {text[:80]!r} is not a valid address range", source, line) from None
    if _HOSTNAME.match(text) and not text.replace(".", "").isdigit():
        addresses = (resolve or hosts_file)(text)
        if not addresses:
            how = "" if resolve is resolve_host else " in the hosts file (host names are looked up in DNS only with --online)"
            raise InputError(f"target {text[:80]!r}: the host name does not resolve{how}", source, line)
        return [ipaddress.ip_network(a) for a in addresses]
    raise InputError(f"target {text[:80]!r} is not an address, network, range or host name", source, line)


def resolve_host(name: str) -> list[str]:
    """A host name's addresses from the system resolver: asked only with ``--online``, only for a
    target the user named; every address must still lie inside the scope."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def hosts_file(name: str, path: str = "/etc/hosts") -> list[str]:
    """A host name's addresses from the hosts file only: the offline default sends no DNS query."""
    try:
        data = read_bounded(path, MAX_LIST_BYTES, "hosts file")
    except InputError:
        return []
    found = []
    for line in data.decode("utf-8", "replace").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and name.lower() in (w.lower() for w in words[1:]):
            with contextlib.suppress(ValueError):
                found.append(str(ipaddress.ip_address(words[0])))
    return sorted(set(found))


def read_target_list(path: str) -> list[tuple[str, int]]:
    """nmap's ``-iL``: one target per line (or several separated by spaces), ``#`` comments."""
    data = read_bounded(path, MAX_LIST_BYTES, "target list")
    if len(data) > MAX_LIST_BYTES:
        raise InputError(f"target list larger than {MAX_LIST_BYTES} bytes", path)
    out = []
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        for word in raw.split("#", 1)[0].split():
            out.append((word, number))
    return out


@dataclass(frozen=True)
class Scope:
    networks: tuple[Network, ...]

    @classmethod
    def build(cls, scope: Iterable[str], targets: Iterable[Network], source: str | None = None,
              lines: dict[str, int] | None = None) -> Scope:
        """The configured scope, or the targets themselves when none is configured."""
        nets = tuple(parse_network(s, "scope", source, (lines or {}).get(s)) for s in scope)
        return cls(nets if nets else tuple(targets))

    def contains(self, net: Network) -> bool:
        return any(net.version == s.version and net.subnet_of(s) for s in self.networks)  # type: ignore[arg-type]

    def contains_ip(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in s for s in self.networks)

    def check(self, targets: Iterable[Network]) -> None:
        """Refuse the whole scan if any target leaves the scope, or all of them together are more
        addresses than a scan should ever cover (a /8 typed for a /24)."""
        targets = list(targets)
        total = sum(t.num_addresses for t in targets)
        if total > MAX_TARGET_ADDRESSES:
            raise ScopeError(f"the targets cover {total} addresses; a scan covers at most {MAX_TARGET_ADDRESSES} "
                             "(split the work into several scans)")
        for target in targets:
            if not self.contains(target):
                allowed = ", ".join(str(n) for n in self.networks) or "nothing"
                raise ScopeError(f"target {target} is outside the scope ({allowed}); refusing to scan")

    def as_strings(self) -> list[str]:
        return [str(n) for n in self.networks]
