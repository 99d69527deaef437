"""The EU-US Data Privacy Framework snapshot: which US operators are certified (``dpf.yaml``).

The US adequacy decision covers only organisations on the DPF List, so "is the operator
certified?" is a fact about a company, not a country; the transfer rules ask it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scanner.errors import InputError
from scanner.knowledge.yamlfile import load

STATUSES = ("active", "not-listed", "inactive")


@dataclass(frozen=True)
class DpfEntry:
    company: str
    status: str
    listed_as: str | None
    checked: str | None      # when the entry was checked against the list; None: not yet verified


@dataclass(frozen=True)
class DpfList:
    version: str
    date: str | None
    source: str
    entries: dict[str, DpfEntry]

    def status(self, *companies: str | None) -> DpfEntry | None:
        """The entry of the first of ``companies`` (operator, then its parent) the snapshot knows."""
        for name in companies:
            if name and name in self.entries:
                return self.entries[name]
        return None


def read_dpf(path: Path) -> DpfList:
    doc = load(path)
    items = doc.get("organisations") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError("DPF data needs an 'organisations' list", str(path))
    entries: dict[str, DpfEntry] = {}
    for item in items:
        if not isinstance(item, dict) or not item.get("company"):
            raise InputError(f"DPF entry needs a company: {item!r}", str(path))
        status = str(item.get("status") or "")
        if status not in STATUSES:
            raise InputError(f"DPF entry {item['company']!r}: status must be one of {', '.join(STATUSES)}", str(path))
        entries[str(item["company"])] = DpfEntry(str(item["company"]), status, item.get("listed_as"),
                                                 None if item.get("checked") is None else str(item["checked"]))
    return DpfList(str(doc.get("version") or ""), None if doc.get("date") is None else str(doc["date"]),
                   str(doc.get("source") or ""), entries)
