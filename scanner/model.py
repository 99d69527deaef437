"""The one data model every stage reads and writes.

A scan result round-trips through JSON (``to_dict`` / ``from_dict``) so that any stage can run
alone: import an nmap XML, re-evaluate a stored scan under another policy, render a report.
The JSON shape is the public contract documented in README.md and ``scanner/schema``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

SCHEMA_VERSION = 1

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")

DEVICE_CLASSES: tuple[str, ...] = (
    "camera", "nvr", "wifi-tracker", "access-point", "people-counter",
    "street-light-controller", "traffic-controller", "iot-gateway", "router", "sensor", "unknown",
)

T = TypeVar("T")


def severity_rank(severity: str) -> int:
    """Order of a severity, ``info`` lowest; unknown names rank below everything."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return -1


def _from(cls: type[T], data: dict[str, Any]) -> T:
    """Build a dataclass from a dict, ignoring keys it does not know (forward compatible)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Evidence:
    """Why cityscan believes something: which probe or input, and what it saw."""

    source: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
        return asdict(self)

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Service:
        return _from(cls, data)


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Device:
        device = _from(cls, data)
        device.services = [Service.from_dict(s) for s in data.get("services") or []]
        device.evidence = [Evidence.from_dict(e) for e in data.get("evidence") or []]
        device.observations = [Observation.from_dict(o) for o in data.get("observations") or []]
        device.capabilities = list(data.get("capabilities") or [])
        return device


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

    def key(self) -> str:
        return f"{self.device_ip}|{self.host or ''}|{self.ip or ''}|{self.port or ''}|{self.transport or ''}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
        return asdict(self)


@dataclass
class Finding:
    rule: str
    severity: str
    title: str
    device_ip: str | None
    message: str
    destination: dict[str, Any] | None = None
    evidence: list[Evidence] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    waived: bool = False
    waiver: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        """Stable identity across runs: rule + device + destination, never scan order."""
        dest = self.destination or {}
        basis = "|".join([self.rule, self.device_ip or "", str(dest.get("host") or ""),
                          str(dest.get("ip") or ""), str(dest.get("port") or "")])
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["id"] = self.id
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        finding = _from(cls, data)
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
        return asdict(self)

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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

    def device(self, ip: str) -> Device | None:
        return next((d for d in self.devices if d.ip == ip), None)

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
        )
