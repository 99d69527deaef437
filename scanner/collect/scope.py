"""What a scan may touch: targets must lie inside the scope, checked before any packet."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from scanner.errors import InputError, ScopeError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A target larger than this is almost always a typo (a /8 is 16 million hosts).
MAX_TARGET_ADDRESSES = 65536


def parse_network(text: str, what: str = "target", source: str | None = None,
                  line: int | None = None) -> Network:
    """An IP address or CIDR network; anything else (host names, ranges) is refused."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InputError(f"{what} {text!r} is not an IP address or CIDR network", source, line) from None


@dataclass(frozen=True)
class Scope:
    networks: tuple[Network, ...]

    @classmethod
    def build(cls, scope: Iterable[str], targets: Iterable[Network]) -> Scope:
        """The configured scope, or the targets themselves when none is configured."""
        nets = tuple(parse_network(s, "scope") for s in scope)
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
        """Refuse the whole scan if any target leaves the scope."""
        for target in targets:
            if target.num_addresses > MAX_TARGET_ADDRESSES:
                raise ScopeError(f"target {target} has {target.num_addresses} addresses; "
                                 f"split it into networks of at most {MAX_TARGET_ADDRESSES}")
            if not self.contains(target):
                allowed = ", ".join(str(n) for n in self.networks) or "nothing"
                raise ScopeError(f"target {target} is outside the scope ({allowed}); refusing to scan")

    def as_strings(self) -> list[str]:
        return [str(n) for n in self.networks]
