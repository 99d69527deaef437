"""Cloud services whose use is itself evidence: location analytics and people tracking.

``knowledge/data/location-services.yaml`` lists them with their domains and sources; a device
that sends data to one of them is tracking people (or feeding a system that does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import InputError
from scanner.knowledge import validate as v
from scanner.knowledge.yamlfile import load

SERVICE_KEYS = ("name", "company", "domains", "purpose", "source", "notes")


@dataclass(frozen=True)
class TrackingService:
    name: str
    company: str | None
    purpose: str
    source: str
    domains: tuple[str, ...] = field(default_factory=tuple)

    def matches(self, host: str | None) -> bool:
        """``host`` is one of the service's domains or below one."""
        if not host:
            return False
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)


def read_services(path: Path) -> list[TrackingService]:
    """Read and check the list (``file:line`` errors); use ``knowledge.loader.tracking_services()``."""
    doc = load(path)
    items = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError("location services data needs a 'services' list", str(path))
    out = []
    for index, raw in enumerate(items):
        item = v.mapping(raw, items, index, "service")
        v.check_keys(item, SERVICE_KEYS, "service", required=("name", "domains", "source"))
        domains = tuple(d.lower().rstrip(".") for d in v.string_list(item, "domains", "service"))
        if not domains:
            raise v.fail(item, "domains", "service needs at least one domain")
        out.append(TrackingService(v.typed(item, "name", str, "service"), v.typed(item, "company", str, "service"),
                                   v.typed(item, "purpose", str, "service", "") or "",
                                   v.typed(item, "source", str, "service"), domains))
    return out
