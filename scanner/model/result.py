"""The one data model every stage reads and writes.

A scan result round-trips through JSON (``to_dict`` / ``from_dict``) so that any stage can run
alone: import an nmap XML, re-evaluate a stored scan under another policy, render a report.
The JSON shape is the public contract documented in README.md and ``scanner/model/scan-result.schema.json``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from scanner.model.vocabulary import SCHEMA_VERSION, at_or_above

T = TypeVar("T")


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The dataclass's field names, looked up once per class (``fields()`` is slow in a loop)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _plain(value: Any) -> Any:
    """A copy of a JSON-shaped value (dicts, lists, scalars): what ``asdict`` gave, without its
    generic deep copy, which made storing a 10,000-device scan take seconds."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _flat(obj: Any) -> dict[str, Any]:
    """``to_dict`` of a dataclass whose fields are scalars or JSON-shaped dicts and lists."""
    return {name: _plain(getattr(obj, name)) for name in _names(type(obj))}


def _scalars(obj: Any) -> dict[str, Any]:
    """``to_dict`` of a dataclass whose fields are all scalars (str, int, float, bool, None)."""
    return {name: getattr(obj, name) for name in _names(type(obj))}


_KNOWN: dict[type, frozenset[str]] = {}


def _from(cls: type[T], data: dict[str, Any]) -> T:
    """Build a dataclass from a dict, ignoring keys it does not know (forward compatible)."""
    known = _KNOWN.get(cls)
    if known is None:
        known = _KNOWN[cls] = frozenset(_names(cls))
    if known.issuperset(data):  # the usual case, checked in C
        return cls(**data)
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Evidence:
    """Why cityscan believes something: which probe or input, and what it saw.

    ``kind`` says what sort of proof it is where a verdict depends on that (``identity``: what the
    device is; ``capability``: what it can do; ``behaviour``: what its traffic shows; ``predicted``:
    what its vendor builds it to do), with the ``confidence`` of that one item.
    """

    source: str
    detail: str
    kind: str | None = None
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "detail": self.detail}
        if self.kind is not None:  # only when set: evidence lists are long at city size
            data["kind"] = self.kind
        if self.confidence is not None:
            data["confidence"] = self.confidence
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return _from(cls, data)


@dataclass
class Observation:
    """One raw fact a probe read from a device (the input of identification)."""

    field: str
    value: str
    probe: str
    port: int | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _scalars(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        return _from(cls, data)


@dataclass
class Service:
    port: int
    transport: str
    name: str | None = None
    product: str | None = None
    version: str | None = None
    extrainfo: str | None = None
    state: str = "open"
    method: str | None = None  # nmap's: "table" (guessed from the port number) or "probed"
    cpe: list[str] = field(default_factory=list)  # nmap's CPE names for the service

    def to_dict(self) -> dict[str, Any]:
        data = _scalars(self)
        data["cpe"] = list(self.cpe)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Service:
        service = _from(cls, data)
        service.cpe = [str(c) for c in data.get("cpe") or []]
        return service


@dataclass
class Device:
    ip: str
    mac: str | None = None
    hostname: str | None = None
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None
    device_class: str = "unknown"
    capabilities: list[str] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    mac_vendor: str | None = None
    confidence: float | None = None
    observations: list[Observation] = field(default_factory=list)
    # capability -> supported | enabled | disabled | unknown (how sure the scan is that it is in use)
    capability_status: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = _scalars(self)
        data["capabilities"] = list(self.capabilities)
        data["services"] = [x.to_dict() for x in self.services]
        data["evidence"] = [x.to_dict() for x in self.evidence]
        data["observations"] = [x.to_dict() for x in self.observations]
        data["capability_status"] = dict(self.capability_status)
        return data

    def apply_identity(self, identity: Identity) -> None:
        """Replace what an earlier identification concluded (a re-run gives the same device)."""
        known = {(o.field, o.value, o.port, o.path) for o in self.observations}
        self.observations.extend(o for o in identity.observations if (o.field, o.value, o.port, o.path) not in known)
        self.vendor, self.model, self.firmware = identity.vendor, identity.model, identity.firmware
        self.device_class, self.confidence = identity.device_class, identity.confidence
        self.capabilities = list(identity.capabilities)
        self.capability_status = dict(identity.capability_status)
        # what an earlier identification said is replaced, not repeated (a stored result identified again)
        self.evidence = [e for e in self.evidence if not e.detail.startswith("fingerprint ") and e.source != "identify"
                         and e.kind != "capability"]
        self.evidence.extend(e for e in identity.evidence if e not in self.evidence)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Device:
        device = _from(cls, data)
        device.services = [Service.from_dict(s) for s in data.get("services") or []]
        device.evidence = [Evidence.from_dict(e) for e in data.get("evidence") or []]
        device.observations = [Observation.from_dict(o) for o in data.get("observations") or []]
        device.capabilities = list(data.get("capabilities") or [])
        device.capability_status = {str(k): str(v) for k, v in (data.get("capability_status") or {}).items()}
        return device


@dataclass
class Identity:
    """What the identify stage concluded about one device (a value; the pipeline applies it)."""

    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None
    device_class: str = "unknown"
    capabilities: list[str] = field(default_factory=list)
    capability_status: dict[str, str] = field(default_factory=dict)
    confidence: float | None = None
    evidence: list[Evidence] = field(default_factory=list)      # why: fingerprint matches, conflicts
    observations: list[Observation] = field(default_factory=list)  # signals derived without probing


@dataclass
class Destination:
    """A place a device sends (or is built to send) data to, and whose law reaches it."""

    device_ip: str
    host: str | None = None
    ip: str | None = None
    port: int | None = None
    transport: str | None = None
    asn: int | None = None
    network_owner: str | None = None
    company: str | None = None
    parent_company: str | None = None
    country: str | None = None
    jurisdictions: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    # What the traffic showed, when it was observed: connections, bytes, first_seen, last_seen
    # (ISO 8601 UTC). None for a destination only predicted from the device's fingerprint.
    traffic: dict[str, Any] | None = None
    registry_country: str | None = None   # where the address block is registered (RIR), not the server
    location_source: str | None = None    # which data set gave ``country``
    anycast: bool = False                 # served from many places: no single country

    @property
    def observed(self) -> bool:
        """Seen in traffic (flows, a capture), not only predicted from what the vendor builds in."""
        return self.traffic is not None or "flows" in self.sources

    def key(self) -> str:
        return f"{self.device_ip}|{self.host or ''}|{self.ip or ''}|{self.port or ''}|{self.transport or ''}"

    def to_dict(self) -> dict[str, Any]:
        data = _scalars(self)
        data["jurisdictions"] = list(self.jurisdictions)
        data["sources"] = list(self.sources)
        data["evidence"] = [x.to_dict() for x in self.evidence]
        data["traffic"] = dict(self.traffic) if self.traffic is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Destination:
        dest = _from(cls, data)
        dest.evidence = [Evidence.from_dict(e) for e in data.get("evidence") or []]
        dest.jurisdictions = list(data.get("jurisdictions") or [])
        dest.sources = list(data.get("sources") or [])
        return dest


@dataclass
class Reference:
    title: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        return _scalars(self)


@dataclass
class Finding:
    rule: str
    severity: str
    title: str
    device_ip: str | None
    message: str
    destination: dict[str, Any] | None = None
    port: int | None = None  # the device's service the finding is about (e.g. Telnet on 23)
    evidence: list[Evidence] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    waived: bool = False
    waiver: dict[str, Any] | None = None
    confidence: float | None = None  # how sure the evidence makes the finding (0..1), when known

    @property
    def id(self) -> str:
        """Stable identity across runs: rule + device + service port + destination, never scan order.

        A destination counts by its host name when it has one, else by its address: clouds and
        CDNs move a name between addresses all the time, and that is not a new finding.
        """
        dest = self.destination or {}
        host = str(dest.get("host") or "").lower().rstrip(".")
        parts = [self.rule, self.device_ip or "", host, "" if host else str(dest.get("ip") or ""),
                 str(dest.get("port") or "")]
        if self.port is not None:  # only then, so the ids of other findings stay what they were
            parts.append(f"service:{self.port}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        data = _flat(self)
        data["evidence"] = [x.to_dict() for x in self.evidence]
        data["references"] = [x.to_dict() for x in self.references]
        data["id"] = self.id
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        finding = _from(cls, {k: v for k, v in data.items() if k != "id"})
        finding.evidence = [Evidence.from_dict(e) for e in data.get("evidence") or []]
        finding.references = [_from(Reference, r) for r in data.get("references") or []]
        return finding


@dataclass
class ScanError:
    """Something that went wrong for one target or input without stopping the scan."""

    stage: str
    message: str
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _scalars(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanError:
        return _from(cls, data)


@dataclass
class ScanInfo:
    started_at: str
    finished_at: str | None = None
    targets: list[str] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)
    policy: dict[str, Any] | None = None
    offline: bool = True
    inputs: list[dict[str, Any]] = field(default_factory=list)
    partial: bool = False
    nmap_version: str | None = None
    data: list[dict[str, Any]] = field(default_factory=list)  # the data sets judged by: {name, version, date, source}
    site: str | None = None   # which part of the city (segment, sensor) the scan covers, for a shared history

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanInfo:
        return _from(cls, data)


@dataclass
class ScanResult:
    scan: ScanInfo
    devices: list[Device] = field(default_factory=list)
    destinations: list[Destination] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    waivers: list[dict[str, Any]] = field(default_factory=list)
    tool: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    # What the reports need besides the findings, written by the judge and resolve stages so that
    # every report is a pure function of the result: the rules evaluated (id, title, severity,
    # summary, references) and the countries named (code -> name, eea, adequacy).
    rules: list[dict[str, Any]] = field(default_factory=list)
    countries: dict[str, dict[str, Any]] = field(default_factory=dict)
    _index: tuple[list[Device], int, dict[str, Device]] | None = field(default=None, init=False, repr=False,
                                                                       compare=False)

    def device(self, ip: str) -> Device | None:
        """The device at ``ip`` (the first, if an import listed it twice). Indexed once per list:
        rules ask this for every destination, and a city has tens of thousands."""
        cached = self._index
        if cached is None or cached[0] is not self.devices or cached[1] != len(self.devices):
            index: dict[str, Device] = {}
            for d in self.devices:
                index.setdefault(d.ip, d)
            cached = self._index = (self.devices, len(self.devices), index)
        return cached[2].get(ip)

    def open_at_or_above(self, threshold: str) -> list[Finding]:
        """Unwaived findings at or above ``threshold``: what makes a CI run fail (exit 1)."""
        return [f for f in self.findings if not f.waived and at_or_above(f.severity, threshold)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tool": dict(self.tool),
            "scan": self.scan.to_dict(),
            "devices": [d.to_dict() for d in self.devices],
            "destinations": [d.to_dict() for d in self.destinations],
            "findings": [f.to_dict() for f in self.findings],
            "errors": [e.to_dict() for e in self.errors],
            "waivers": [dict(w) for w in self.waivers],
            "rules": [_plain(r) for r in self.rules],
            "countries": {code: dict(info) for code, info in self.countries.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanResult:
        return cls(
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
            tool=dict(data.get("tool") or {}),
            scan=ScanInfo.from_dict(data.get("scan") or {"started_at": ""}),
            devices=[Device.from_dict(d) for d in data.get("devices") or []],
            destinations=[Destination.from_dict(d) for d in data.get("destinations") or []],
            findings=[Finding.from_dict(f) for f in data.get("findings") or []],
            errors=[ScanError.from_dict(e) for e in data.get("errors") or []],
            waivers=[dict(w) for w in data.get("waivers") or []],
            rules=[dict(r) for r in data.get("rules") or [] if isinstance(r, dict)],
            countries={str(k): dict(v) for k, v in (data.get("countries") or {}).items() if isinstance(v, dict)},
        )
