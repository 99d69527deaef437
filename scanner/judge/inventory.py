"""The devices a segment is expected to hold (``--inventory FILE``): what a staging lab or a
scheduled scan compares against, so that a device that answers nothing cannot pass silently.

    devices:
      - ip: 198.51.100.11
        mac: 44:19:b6:3a:5c:01        # optional
        vendor: Hikvision             # optional
        model: DS-2CD2386G2-IU        # optional
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from scanner.errors import InputError
from scanner.knowledge import validate as v
from scanner.knowledge.yamlfile import line_of, load

KEYS = ("ip", "mac", "vendor", "model", "name", "notes")


@dataclass(frozen=True)
class Expected:
    ip: str
    mac: str | None = None
    vendor: str | None = None
    model: str | None = None
    name: str | None = None
    where: str = ""

    def label(self) -> str:
        parts = [p for p in (self.name, self.vendor, self.model) if p]
        return f"{self.ip} ({' '.join(parts)})" if parts else self.ip


def load_inventory(path: str) -> list[Expected]:
    doc = load(path)
    items = doc.get("devices") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError("an inventory needs a 'devices' list", path, line_of(doc) or 1)
    v.check_keys(doc, ("devices",), "inventory")
    out: list[Expected] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        item = v.mapping(raw, items, index, "inventory device")
        v.check_keys(item, KEYS, "inventory device", required=("ip",))
        ip = str(item["ip"]).strip()
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise v.fail(item, "ip", f"inventory device ip {ip[:60]!r} is not an IP address") from None
        if ip in seen:
            raise v.fail(item, "ip", f"inventory lists {ip} twice")
        seen.add(ip)
        mac = v.typed(item, "mac", str, "inventory device")
        out.append(Expected(ip, mac.lower() if mac else None, v.typed(item, "vendor", str, "inventory device"),
                            v.typed(item, "model", str, "inventory device"),
                            v.typed(item, "name", str, "inventory device"), f"{path}:{line_of(items, index)}"))
    return out
