"""Infrastructure traffic (DNS, NTP, OCSP/CRL, connectivity checks), from ``infrastructure.yaml``.

Such traffic keeps a device working and is not an upload of what it collects, so the transfer
rules grade it lower; this module only says which kind a destination is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scanner.errors import InputError
from scanner.knowledge.yamlfile import entries


@dataclass(frozen=True)
class Infrastructure:
    ports: dict[tuple[int, str], str]       # (port, transport) -> kind
    hosts: tuple[tuple[str, str], ...]      # (host or suffix, kind), longest first

    def kind(self, host: str | None, port: int | None, transport: str | None) -> str | None:
        """``DNS``, ``NTP``, ``OCSP/CRL``, ``connectivity check`` or None (payload)."""
        if host:
            name = host.lower().rstrip(".")
            for suffix, kind in self.hosts:
                if name == suffix or name.endswith("." + suffix):
                    return kind
        if port is not None and transport:
            return self.ports.get((port, transport.lower()))
        return None


def read_infrastructure(path: Path) -> Infrastructure:
    ports: dict[tuple[int, str], str] = {}
    hosts: list[tuple[str, str]] = []
    for item in entries(path, "services", "infrastructure", "infrastructure entry needs a kind and a source",
                        ("kind", "source")):
        kind = str(item["kind"])
        for entry in item.get("ports") or []:
            try:
                ports[(int(entry["port"]), str(entry["transport"]).lower())] = kind
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{kind}: bad port entry {entry!r}", str(path)) from None
        hosts.extend((str(h).lower().rstrip("."), kind) for h in item.get("hosts") or [])
    return Infrastructure(ports, tuple(sorted(hosts, key=lambda pair: -len(pair[0]))))
