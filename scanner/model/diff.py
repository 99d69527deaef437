"""What changed between two scans, as a value: devices, identities, destinations, countries, findings.

Computed by :mod:`scanner.history.diff`, rendered by :mod:`scanner.report.diff`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scanner.model.result import Destination, Device, Finding, ScanResult

IDENTITY_FIELDS: tuple[str, ...] = ("vendor", "model", "firmware", "device_class")


@dataclass
class ScanRef:
    """Which scan a side of the diff is, for the header line."""

    started_at: str
    finished_at: str | None
    targets: list[str]
    partial: bool
    policy: str | None
    policy_sha256: str | None

    @classmethod
    def of(cls, result: ScanResult) -> ScanRef:
        policy = result.scan.policy or {}
        return cls(result.scan.started_at, result.scan.finished_at, list(result.scan.targets),
                   bool(result.scan.partial), policy.get("name"), policy.get("sha256"))


@dataclass
class DeviceRef:
    ip: str
    mac: str | None
    vendor: str | None
    model: str | None
    firmware: str | None
    device_class: str

    @classmethod
    def of(cls, d: Device) -> DeviceRef:
        return cls(d.ip, d.mac, d.vendor, d.model, d.firmware, d.device_class)


@dataclass
class Change:
    field: str
    old: str | None
    new: str | None


@dataclass
class IdentityChange:
    """Same IP, different vendor/model/firmware/class: a firmware update, or a swapped device."""

    ip: str
    changes: list[Change]


@dataclass
class MacChange:
    """Same IP, another MAC: most likely another device now has this address."""

    ip: str
    old: str
    new: str


@dataclass
class DestinationRef:
    device_ip: str
    host: str | None
    ip: str | None
    port: int | None
    transport: str | None
    country: str | None
    company: str | None

    @classmethod
    def of(cls, d: Destination) -> DestinationRef:
        return cls(d.device_ip, d.host, d.ip, d.port, d.transport, d.country, d.company)

    def where(self) -> str:
        return (self.host or self.ip or "?") + (f":{self.port}" if self.port else "")


@dataclass
class CountryChange:
    device_ip: str
    new: list[str]
    gone: list[str]


@dataclass
class FindingRef:
    id: str
    rule: str
    severity: str
    title: str
    device_ip: str | None
    message: str
    waived: bool

    @classmethod
    def of(cls, f: Finding) -> FindingRef:
        return cls(f.id, f.rule, f.severity, f.title, f.device_ip, f.message, f.waived)


@dataclass
class FindingChange:
    """Same finding, other waiver state or severity (a waiver expired, a policy was tightened)."""

    id: str
    rule: str
    title: str
    device_ip: str | None
    old_severity: str
    new_severity: str
    old_waived: bool
    new_waived: bool


@dataclass
class ScanDiff:
    old: ScanRef
    new: ScanRef
    new_devices: list[DeviceRef] = field(default_factory=list)
    gone_devices: list[DeviceRef] = field(default_factory=list)
    mac_changes: list[MacChange] = field(default_factory=list)
    identity_changes: list[IdentityChange] = field(default_factory=list)
    new_destinations: list[DestinationRef] = field(default_factory=list)
    gone_destinations: list[DestinationRef] = field(default_factory=list)
    country_changes: list[CountryChange] = field(default_factory=list)
    new_findings: list[FindingRef] = field(default_factory=list)
    resolved_findings: list[FindingRef] = field(default_factory=list)
    changed_findings: list[FindingChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"new_devices": len(self.new_devices), "gone_devices": len(self.gone_devices),
                "mac_changes": len(self.mac_changes), "identity_changes": len(self.identity_changes),
                "new_destinations": len(self.new_destinations), "gone_destinations": len(self.gone_destinations),
                "new_countries": sum(len(c.new) for c in self.country_changes),
                "gone_countries": sum(len(c.gone) for c in self.country_changes),
                "new_findings": len(self.new_findings), "resolved_findings": len(self.resolved_findings),
                "changed_findings": len(self.changed_findings)}

    def empty(self) -> bool:
        return not any(self.counts().values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts()
        return data
