"""Authenticated read-only checks as data (``knowledge/data/authenticated-checks.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scanner.errors import InputError
from scanner.knowledge import validate as v
from scanner.knowledge.yamlfile import load
from scanner.model import CAPABILITIES


@dataclass(frozen=True)
class CapabilityCheck:
    vendor: str
    path: str
    auth: str
    source: str
    elements: tuple[tuple[str, str], ...]   # (element path below the root, capability)


def read_checks(path: Path) -> list[CapabilityCheck]:
    doc = load(path)
    items = doc.get("checks") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError("authenticated checks data needs a 'checks' list", str(path))
    out = []
    for index, raw in enumerate(items):
        item = v.mapping(raw, items, index, "check")
        v.check_keys(item, ("vendor", "path", "auth", "source", "elements"), "check",
                     required=("vendor", "path", "auth", "source", "elements"))
        v.choice(item, "auth", ("digest",), "check")
        path_text = v.typed(item, "path", str, "check")
        if not path_text.startswith("/"):
            raise v.fail(item, "path", "check.path must start with /")
        elements = []
        raw_elements = item["elements"]
        if not isinstance(raw_elements, list):
            raise v.fail(item, "elements", "check.elements must be a list of {element, capability}")
        for position, entry in enumerate(raw_elements):
            element = v.mapping(entry, raw_elements, position, "check element")
            v.check_keys(element, ("element", "capability"), "check element", required=("element", "capability"))
            elements.append((v.typed(element, "element", str, "check element"),
                             v.choice(element, "capability", CAPABILITIES, "check element") or ""))
        out.append(CapabilityCheck(v.typed(item, "vendor", str, "check"), path_text, "digest",
                                   v.typed(item, "source", str, "check"), tuple(elements)))
    return out
