"""Firmware that matters: known-exploited flaws with the firmware that fixes them, and end of support.

Two data sets meet here. ``kev-catalogue.json`` is CISA's Known Exploited Vulnerabilities
catalogue as CISA publishes it (a pinned copy; ``cityscan data update`` fetches a newer pinned
one): which CVEs are exploited in the wild, since when. ``firmware.yaml`` is cityscan's own
mapping, from vendors' advisories and CVE records, of a CVE to the vendor, model lines and the
firmware that fixes it, plus minimum supported versions and end-of-life model lines. A flaw is
reported as known-exploited only when both agree: the mapping says the firmware is affected, and
the catalogue in use lists the CVE.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.files import read_bounded
from scanner.knowledge import validate as v
from scanner.knowledge.yamlfile import load

MAX_KEV_BYTES = 32 * 1024 * 1024  # the whole catalogue is ~1.3 MB (2025)
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Source:
    url: str
    title: str
    date: str | None

    def cite(self) -> str:
        return f"{self.title} ({self.date or 'undated'}), {self.url}"


@dataclass(frozen=True)
class FixedIn:
    """One firmware line of an affected model: versions matching ``line`` and older than ``fixed``."""

    line: re.Pattern[str]
    fixed: str


@dataclass(frozen=True)
class KevEntry:
    cve: str
    vendor_project: str
    product: str
    name: str
    date_added: str
    required_action: str
    ransomware: str


@dataclass(frozen=True)
class ExploitedFlaw:
    cve: str
    vendor: str
    model_pattern: re.Pattern[str]
    affected: tuple[FixedIn, ...]
    advisory: Source

    def fixed_for(self, firmware: str) -> str | None:
        """The fixed version of the first line ``firmware`` belongs to; None: no listed line."""
        return next((f.fixed for f in self.affected if f.line.search(firmware)), None)


@dataclass(frozen=True)
class Lifecycle:
    vendor: str
    model_pattern: re.Pattern[str]
    min_version: str | None
    end_of_life: str | None
    source: Source


@dataclass(frozen=True)
class FirmwareFacts:
    flaws: tuple[ExploitedFlaw, ...]
    lifecycle: tuple[Lifecycle, ...]
    kev: dict[str, KevEntry]
    kev_version: str

    def listed(self, flaw: ExploitedFlaw) -> KevEntry | None:
        return self.kev.get(flaw.cve)


def read_kev(path: Path) -> tuple[dict[str, KevEntry], str]:
    """CISA's catalogue as published: ``{catalogVersion, vulnerabilities: [{cveID, ...}]}``."""
    data = read_bounded(str(path), MAX_KEV_BYTES, "KEV catalogue", regular_only=True)
    if len(data) > MAX_KEV_BYTES:
        raise InputError(f"KEV catalogue larger than {MAX_KEV_BYTES} bytes", str(path))
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"KEV catalogue is not JSON: {exc}", str(path)) from None
    items = doc.get("vulnerabilities") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError("KEV catalogue has no 'vulnerabilities' list", str(path))
    out: dict[str, KevEntry] = {}
    for index, item in enumerate(items):
        cve = item.get("cveID") if isinstance(item, dict) else None
        if not isinstance(cve, str) or not _CVE.fullmatch(cve):
            raise InputError(f"KEV catalogue entry {index}: no valid cveID", str(path))

        def text(key: str, entry: dict[str, Any] = item) -> str:
            value = entry.get(key)
            return value[:1000] if isinstance(value, str) else ""

        out[cve] = KevEntry(cve, text("vendorProject"), text("product"), text("vulnerabilityName"),
                            text("dateAdded"), text("requiredAction"), text("knownRansomwareCampaignUse"))
    return out, str(doc.get("catalogVersion") or "")[:40]


def _pattern(node: dict[str, Any], key: str, what: str, default: str | None = None) -> re.Pattern[str]:
    text = v.typed(node, key, str, what, default)
    try:
        return re.compile(text)
    except re.error as exc:
        raise v.fail(node, key, f"{what}.{key} does not compile: {exc}") from None


def _version(node: dict[str, Any], key: str, what: str) -> str:
    """A version as text: YAML would read an unquoted 5.50 as the number 5.5, a different floor."""
    value = node.get(key)
    if not isinstance(value, str):
        raise v.fail(node, key, f"{what}.{key} must be a quoted version string (YAML reads 5.50 as the number 5.5)")
    return value


def _source(node: dict[str, Any], key: str, what: str) -> Source:
    item = v.mapping(node.get(key), node, key, f"{what}.{key}")
    v.check_keys(item, ("url", "title", "date"), f"{what}.{key}", required=("url", "title"))
    date = item.get("date")
    if date is not None and not _DATE.fullmatch(str(date)):
        raise v.fail(item, "date", f"{what}.{key}.date must be YYYY-MM-DD or null")
    return Source(v.typed(item, "url", str, what), v.typed(item, "title", str, what),
                  None if date is None else str(date))


def read_firmware(path: Path, known_vendors: set[str] | None = None) -> tuple[tuple[ExploitedFlaw, ...],
                                                                              tuple[Lifecycle, ...]]:
    """``firmware.yaml``, checked with ``file:line`` errors; vendors must be fingerprint vendor names."""
    doc = load(path)
    if not isinstance(doc, dict):
        raise InputError("firmware data must be a mapping with 'vulnerabilities' and 'lifecycle'", str(path))
    v.check_keys(doc, ("vulnerabilities", "lifecycle"), "firmware data")

    def vendor_of(item: dict[str, Any], what: str) -> str:
        name = v.typed(item, "vendor", str, what)
        if known_vendors is not None and name not in known_vendors:
            raise v.fail(item, "vendor", f"{what}.vendor {name!r} is no vendor of the fingerprint database")
        return name

    flaws = []
    for index, raw in enumerate(doc.get("vulnerabilities") or []):
        what = "vulnerabilities item"
        item = v.mapping(raw, doc["vulnerabilities"], index, what)
        v.check_keys(item, ("cve", "vendor", "model_pattern", "affected", "advisory", "notes"), what,
                     required=("cve", "vendor", "affected", "advisory"))
        cve = v.typed(item, "cve", str, what)
        if not _CVE.fullmatch(cve):
            raise v.fail(item, "cve", f"{what}.cve {cve!r} is not a CVE id")
        lines = item["affected"]
        if not isinstance(lines, list) or not lines:
            raise v.fail(item, "affected", f"{what}.affected must be a list of {{line, fixed}}")
        affected = []
        for n, line in enumerate(lines):
            entry = v.mapping(line, lines, n, f"{what}.affected item")
            v.check_keys(entry, ("line", "fixed"), f"{what}.affected item", required=("line", "fixed"))
            affected.append(FixedIn(_pattern(entry, "line", f"{what}.affected"), _version(entry, "fixed", what)))
        flaws.append(ExploitedFlaw(cve, vendor_of(item, what), _pattern(item, "model_pattern", what, ".*"),
                                   tuple(affected), _source(item, "advisory", what)))
    cycles = []
    for index, raw in enumerate(doc.get("lifecycle") or []):
        what = "lifecycle item"
        item = v.mapping(raw, doc["lifecycle"], index, what)
        v.check_keys(item, ("vendor", "model_pattern", "min_version", "end_of_life", "source", "notes"), what,
                     required=("vendor", "source"))
        eol = item.get("end_of_life")
        if eol is not None and not _DATE.fullmatch(str(eol)):
            raise v.fail(item, "end_of_life", f"{what}.end_of_life must be YYYY-MM-DD")
        minimum = _version(item, "min_version", what) if item.get("min_version") is not None else None
        if minimum is None and eol is None:
            raise v.fail(item, "vendor", f"{what} needs min_version or end_of_life")
        cycles.append(Lifecycle(vendor_of(item, what), _pattern(item, "model_pattern", what, ".*"),
                                minimum, None if eol is None else str(eol),
                                _source(item, "source", what)))
    return tuple(flaws), tuple(cycles)
