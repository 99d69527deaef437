"""Resolve stage: where each device's data goes, who owns it, and whose law reaches it.

:mod:`.destinations` finds them (traffic, vendor endpoints), :mod:`.enrich` adds owner, location
and jurisdictions from the offline data, :mod:`.online` the opt-in look-ups. The stage returns a
:class:`Resolution`; the pipeline writes it into the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.knowledge.fingerprints import FingerprintDB
from scanner.knowledge.jurisdiction import Jurisdiction
from scanner.knowledge.loader import default_db, jurisdiction, ownership
from scanner.model import Destination, Device, ScanError, ScanResult
from scanner.model.flows import FlowSummary
from scanner.resolve.destinations import (
    destinations_from_fingerprints,
    destinations_from_flows,
    merge,
)
from scanner.resolve.enrich import enrich
from scanner.resolve.online import OnlineLookups


@dataclass
class Resolution:
    """What the resolve stage found: every destination, devices first seen in traffic, look-up
    errors, and the countries the destinations name, described for the reports."""

    destinations: list[Destination] = field(default_factory=list)
    new_devices: list[Device] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    countries: dict[str, dict[str, Any]] = field(default_factory=dict)


def describe_countries(codes: set[str], law: Jurisdiction | None = None) -> dict[str, dict[str, Any]]:
    """Name and data-protection zone of each country code, so a report needs no data set."""
    law = law or jurisdiction()
    out: dict[str, dict[str, Any]] = {}
    for code in sorted(codes):
        decision = law.adequacy.get(code)
        adequacy = None if decision is None else ("certified-only" if decision.get("requires_certification") else "full")
        out[code] = {"name": law.name(code), "eea": law.in_eea(code), "adequacy": adequacy}
    return out


def resolve(result: ScanResult, summary: FlowSummary | None = None, online: OnlineLookups | None = None,
            db: FingerprintDB | None = None) -> Resolution:
    """Every destination of the scan's devices (those already in ``result`` kept), enriched."""
    own = ownership()
    found: list[Destination] = list(result.destinations)
    new_devices: list[Device] = []
    if summary is not None:
        observed, new_devices = destinations_from_flows({d.ip for d in result.devices}, summary)
        found += observed
    devices = [*result.devices, *new_devices]
    if db is None and any(d.vendor for d in devices):   # loaded only when asked: a flows-only run needs none
        db = default_db()
    if db is not None:
        found += destinations_from_fingerprints(devices, db)
    merged = merge(found)
    if db is None and any(d.host for d in merged):
        db = default_db()
    for dest in merged:
        if not dest.jurisdictions:
            facts = online.facts_for(dest.host, dest.ip) if online is not None else None
            enrich(dest, own, db, facts)
    errors = online.drain_errors() if online is not None else []
    codes = {c for d in merged for c in [d.country, *d.jurisdictions] if c}
    return Resolution(merged, new_devices, errors, describe_countries(codes))


__all__ = ["Resolution", "describe_countries", "enrich", "merge", "resolve"]
