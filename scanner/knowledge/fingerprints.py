"""The fingerprint database: ``fingerprints/*.yaml`` loaded, validated and indexed.

Knowledge of city hardware is data that a security team reviews; this module only checks it
(``file:line`` errors) and makes it fast to query.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.knowledge import validate as v
from scanner.knowledge.paths import fingerprints_dir
from scanner.knowledge.yamlfile import file_of, line_of, load
from scanner.model import CAPABILITIES, DEVICE_CLASSES
from scanner.model.text import fold_name

FIELDS = (
    "mac.oui_org", "nmap.mac_vendor", "nmap.product", "nmap.version", "nmap.cpe",
    "http.server", "http.www_authenticate", "http.location", "http.title", "http.body",
    "tls.subject", "tls.issuer", "rtsp.server", "ssh.banner", "telnet.banner", "ftp.banner",
    "snmp.sysdescr", "snmp.sysobjectid", "upnp.server", "upnp.manufacturer", "upnp.model_name",
    "upnp.model_number", "upnp.model_description", "upnp.friendly_name", "upnp.serial",
    "onvif.manufacturer", "onvif.model", "onvif.firmware", "onvif.hardware_id",
    # generic signals: nmap's own conclusions (imported or live XML), banners, derived fields
    "nmap.os", "nmap.os_cpe", "snmp.sysname", "snmp.enterprise", "http.realm",
    "http.favicon_md5", "tls.san", "upnp.firmware", "smtp.banner", "rtsp.methods",
    # nmap's read-only OT identification scripts (--ot, or imported XML): what the controller says it is
    "s7.module", "s7.basic_hardware", "s7.version", "s7.system_name", "s7.module_type", "s7.serial",
    "s7.copyright", "s7.plant_id", "modbus.device_id", "modbus.slave_id",
    "bacnet.vendor_id", "bacnet.vendor_name", "bacnet.firmware", "bacnet.application_software",
    "bacnet.object_name", "bacnet.model_name", "bacnet.description",
    "enip.vendor", "enip.product_name", "enip.device_type", "enip.revision", "enip.serial", "enip.product_code",
)
HARDWARE_FIELDS = frozenset({"mac.oui_org", "nmap.mac_vendor"})
FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

VENDOR_KEYS = ("name", "company", "country", "parent", "parent_country", "oem_of", "subsidiary_of",
               "oui_orgs", "cloud_endpoints", "min_supported_firmware", "sources", "aliases", "notes")
ENTRY_KEYS = ("id", "description", "match", "conclude", "confidence", "examples", "notes")
MATCH_KEYS = ("field", "path", "pattern", "flags")
CONCLUDE_KEYS = ("vendor", "model", "firmware", "hardware", "device_class", "capabilities")
EXAMPLE_KEYS = ("value", "source", "captures", "path", "notes")
ENDPOINT_KEYS = ("host", "purpose", "source", "port", "notes")
PURPOSES = ("cloud", "p2p", "update", "ntp", "telemetry", "dns", "other")


@dataclass
class Endpoint:
    host: str
    purpose: str
    source: str | None = None
    port: int | None = None


@dataclass
class Vendor:
    name: str
    company: str | None = None
    country: str | None = None
    parent: str | None = None
    parent_country: str | None = None
    oem_of: str | None = None
    subsidiary_of: str | None = None
    aliases: list[str] = field(default_factory=list)
    oui_orgs: list[str] = field(default_factory=list)
    cloud_endpoints: list[Endpoint] = field(default_factory=list)
    min_supported_firmware: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    file: str = ""


@dataclass
class Example:
    value: str
    source: str
    captures: dict[str, str]
    path: str | None
    line: int | None


@dataclass
class Entry:
    id: str
    description: str
    field: str
    path: str | None
    pattern: str
    regex: re.Pattern[str]
    conclude: dict[str, Any]
    confidence: float
    examples: list[Example]
    file: str
    line: int | None

    @cached_property
    def location(self) -> str:
        """``fingerprints/<file>:<line>``: short, and the same on every installation."""
        name = f"fingerprints/{Path(self.file).name}"
        return f"{name}:{self.line}" if self.line else name

    def conclusions(self, match: re.Match[str]) -> dict[str, Any]:
        """What this entry concludes, with ``{capture}`` placeholders filled in."""
        groups = {k: (val.strip() if val else "") for k, val in match.groupdict().items()}
        out: dict[str, Any] = {}
        for key, value in self.conclude.items():
            if isinstance(value, str):
                filled = _PLACEHOLDER.sub(lambda m: groups.get(m.group(1), ""), value).strip()
                out[key] = filled or None
            else:
                out[key] = value
        return out


@dataclass
class FingerprintDB:
    vendors: dict[str, Vendor]
    entries: list[Entry]
    by_field: dict[str, list[Entry]]
    oui_index: dict[str, str]
    files: list[str]
    # (field, path, value) -> what matched it: a city repeats the same OUI, banner or title thousands of times
    matched: dict[tuple[str, str | None, str], list[tuple[Entry, dict[str, Any]]]] = \
        field(default_factory=dict, repr=False, compare=False)

    def vendor(self, name: str | None) -> Vendor | None:
        return self.vendors.get(name) if name else None

    def maker_chain(self, name: str) -> list[str]:
        """``name`` then the makers/owners it is relabelled from or belongs to (EZVIZ -> Hikvision)."""
        chain = [name]
        while True:
            vendor = self.vendors.get(chain[-1])
            nxt = vendor and (vendor.oem_of or vendor.subsidiary_of)
            if not nxt or nxt in chain:
                return chain
            chain.append(nxt)

    def vendor_for_oui_org(self, org: str | None) -> str | None:
        return self.oui_index.get(fold_name(org)) if org else None


def load_db(directory: str | Path | None = None, extra: Sequence[str | Path] = ()) -> FingerprintDB:
    """Load every ``*.yaml`` of a fingerprint directory (default: the shipped database) and of the
    ``extra`` directories (a site's own fingerprints, validated alike); the first mistake stops with
    ``file:line``. The shipped one, loaded once: ``knowledge.loader.default_db``."""
    root = Path(directory) if directory else fingerprints_dir()
    files = sorted(p for p in root.glob("*.yaml") if p.is_file())
    for site in extra:
        if not Path(site).is_dir():
            raise InputError("fingerprints: not a directory", str(site))
        files += sorted(p for p in Path(site).glob("*.yaml") if p.is_file())
    vendors: dict[str, Vendor] = {}
    entries: list[Entry] = []
    seen_ids: dict[str, str] = {}
    for path in files:
        doc = load(path)
        if not isinstance(doc, dict):
            raise InputError("a fingerprint file must be a mapping with 'vendor' and 'entries'", str(path), 1)
        v.check_keys(doc, ("vendor", "entries"), "fingerprint file")
        if "vendor" in doc:
            vendor = _vendor(v.mapping(doc["vendor"], doc, "vendor", "vendor"), str(path))
            if vendor.name in vendors:
                raise v.fail(doc["vendor"], "name",
                             f"vendor {vendor.name!r} is already defined in {vendors[vendor.name].file}")
            vendors[vendor.name] = vendor
        raw_entries = doc.get("entries") or []
        if not isinstance(raw_entries, list):
            raise v.fail(doc, "entries", "entries must be a list")
        for index, raw in enumerate(raw_entries):
            entry = _entry(v.mapping(raw, raw_entries, index, "entry"), str(path))
            if entry.id in seen_ids:
                raise v.fail(raw, "id", f"entry id {entry.id!r} is already used at {seen_ids[entry.id]}")
            seen_ids[entry.id] = entry.location
            entries.append(entry)
    for entry in entries:
        name = entry.conclude.get("vendor")
        if name and name not in vendors:
            raise InputError(f"entry {entry.id!r} concludes vendor {name!r}, which no fingerprint file defines",
                             entry.file, entry.line)
    for vendor in vendors.values():
        for ref in (vendor.oem_of, vendor.subsidiary_of):
            if ref and ref not in vendors:
                raise InputError(f"vendor {vendor.name!r} refers to unknown vendor {ref!r}", vendor.file)
    by_field: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_field[entry.field].append(entry)
    oui_index = {fold_name(org): vendor.name for vendor in vendors.values() for org in vendor.oui_orgs}
    return FingerprintDB(vendors, entries, dict(by_field), oui_index, [str(f) for f in files])


def _vendor(node: dict[str, Any], filename: str) -> Vendor:
    v.check_keys(node, VENDOR_KEYS, "vendor", required=("name",))
    vendor = Vendor(name=v.typed(node, "name", str, "vendor"), file=filename)
    for key in ("company", "country", "parent", "parent_country", "oem_of", "subsidiary_of"):
        setattr(vendor, key, v.typed(node, key, str, "vendor"))
    vendor.aliases = v.string_list(node, "aliases", "vendor")
    vendor.oui_orgs = v.string_list(node, "oui_orgs", "vendor")
    vendor.sources = v.string_list(node, "sources", "vendor")
    for key in ("country", "parent_country"):
        value = getattr(vendor, key)
        if value is not None and not re.fullmatch(r"[A-Z]{2}", value):
            raise v.fail(node, key, f"vendor.{key} must be an ISO 3166 alpha-2 code like 'CN', not {value!r}")
    endpoints = node.get("cloud_endpoints") or []
    if not isinstance(endpoints, list):
        raise v.fail(node, "cloud_endpoints", "vendor.cloud_endpoints must be a list")
    for index, raw in enumerate(endpoints):
        item = v.mapping(raw, endpoints, index, "cloud endpoint")
        v.check_keys(item, ENDPOINT_KEYS, "cloud endpoint", required=("host",))
        vendor.cloud_endpoints.append(Endpoint(
            host=v.typed(item, "host", str, "cloud endpoint").lower().rstrip("."),
            purpose=v.choice(item, "purpose", PURPOSES, "cloud endpoint", "cloud") or "cloud",
            source=v.typed(item, "source", str, "cloud endpoint"),
            port=v.typed(item, "port", int, "cloud endpoint"),
        ))
    msf = node.get("min_supported_firmware")
    if isinstance(msf, dict):
        msf = [msf]
    if msf is not None and not isinstance(msf, list):
        raise v.fail(node, "min_supported_firmware", "vendor.min_supported_firmware must be a mapping or a list")
    for index, raw in enumerate(msf or []):
        item = v.mapping(raw, msf, index, "min_supported_firmware item")
        v.check_keys(item, ("model_pattern", "version", "source", "notes"), "min_supported_firmware",
                     required=("version",))
        pattern = v.typed(item, "model_pattern", str, "min_supported_firmware")
        if pattern:
            _compile(pattern, (), item, "model_pattern")
        vendor.min_supported_firmware.append(dict(item))
    return vendor


def _compile(pattern: str, flags: tuple[str, ...] | list[str], where: Any, key: str) -> re.Pattern[str]:
    bits = 0
    for flag in flags:
        if flag not in FLAGS:
            raise v.fail(where, "flags", f"unknown regex flag {flag!r} (allowed: {', '.join(FLAGS)})")
        bits |= FLAGS[flag]
    try:
        return re.compile(pattern, bits)
    except re.error as exc:
        raise v.fail(where, key, f"pattern does not compile: {exc}") from None


def _entry(node: dict[str, Any], filename: str) -> Entry:
    v.check_keys(node, ENTRY_KEYS, "entry", required=("id", "match", "conclude", "examples"))
    entry_id = v.typed(node, "id", str, "entry")
    what = f"entry {entry_id}"
    match = v.mapping(node["match"], node, "match", f"{what}.match")
    v.check_keys(match, MATCH_KEYS, f"{what}.match", required=("field", "pattern"))
    field_name = v.choice(match, "field", FIELDS, f"{what}.match")
    pattern = v.typed(match, "pattern", str, f"{what}.match")
    regex = _compile(pattern, v.string_list(match, "flags", f"{what}.match"), match, "pattern")
    conclude = v.mapping(node["conclude"], node, "conclude", f"{what}.conclude")
    v.check_keys(conclude, CONCLUDE_KEYS, f"{what}.conclude")
    for key in ("vendor", "model", "firmware", "hardware"):
        v.typed(conclude, key, str, f"{what}.conclude")
    v.choice(conclude, "device_class", DEVICE_CLASSES, f"{what}.conclude")
    for cap in v.string_list(conclude, "capabilities", f"{what}.conclude"):
        if cap not in CAPABILITIES:
            raise v.fail(conclude, "capabilities", f"{what}: unknown capability {cap!r}")
    for key, value in conclude.items():
        if isinstance(value, str):
            for name in _PLACEHOLDER.findall(value):
                if name not in regex.groupindex:
                    raise v.fail(conclude, key, f"{what}: '{{{name}}}' is not a named capture of the pattern")
    confidence = float(v.typed(node, "confidence", float, what, 0.8))
    if not 0 < confidence <= 1:
        raise v.fail(node, "confidence", f"{what}: confidence must be in (0, 1]")
    raw_examples = node["examples"]
    if not isinstance(raw_examples, list) or not raw_examples:
        raise v.fail(node, "examples", f"{what} needs at least one real example")
    examples = []
    for index, raw in enumerate(raw_examples):
        ex = v.mapping(raw, raw_examples, index, f"{what} example")
        v.check_keys(ex, EXAMPLE_KEYS, f"{what} example", required=("value", "source"))
        captures = ex.get("captures") or {}
        if not isinstance(captures, dict):
            raise v.fail(ex, "captures", f"{what}: example captures must be a mapping")
        examples.append(Example(
            value=str(v.typed(ex, "value", (str, int, float), f"{what} example")),
            source=v.typed(ex, "source", str, f"{what} example"),
            captures={str(k): str(val) for k, val in captures.items()},
            path=v.typed(ex, "path", str, f"{what} example"),
            line=line_of(raw_examples, index),
        ))
    return Entry(
        id=entry_id,
        description=v.typed(node, "description", str, what, "") or "",
        field=field_name or "",
        path=v.typed(match, "path", str, f"{what}.match"),
        pattern=pattern,
        regex=regex,
        conclude=dict(conclude),
        confidence=confidence,
        examples=examples,
        file=file_of(node) or filename,
        line=line_of(node),
    )
