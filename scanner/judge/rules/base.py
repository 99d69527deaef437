"""What every rule shares: how it is registered, configured by a policy and turned into findings.

A rule's parameters, severity and legal references come from the policy file; the knowledge
it needs (vendor families, EEA and adequacy lists, foreign laws) comes from data files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scanner.knowledge import validate as v
from scanner.knowledge.fingerprints import FingerprintDB
from scanner.knowledge.firmware import FirmwareFacts
from scanner.judge.inventory import Expected
from scanner.knowledge.jurisdiction import Jurisdiction
from scanner.knowledge.services import TrackingService
from scanner.model import Destination, Device, Evidence, Finding, Reference, ScanResult


@dataclass
class Param:
    """One parameter a policy may set for a rule, read and checked with ``file:line`` errors."""

    kind: str  # strings | bool | int | string | custom
    default: Any
    choices: tuple[str, ...] = ()
    reader: Callable[[dict[str, Any], str, str], Any] | None = None  # for kind "custom"

    def read(self, node: dict[str, Any], name: str, what: str) -> Any:
        if self.kind == "strings":
            values = v.string_list(node, name, what)
            for value in values:
                if self.choices and value not in self.choices:
                    raise v.fail(node, name, f"{what}.{name}: {value!r} is not one of {', '.join(self.choices)}")
            return values
        if self.kind == "bool":
            return v.typed(node, name, bool, what, self.default)
        if self.kind == "int":
            return v.typed(node, name, int, what, self.default)
        if self.kind == "custom" and self.reader is not None:
            return self.reader(node, name, what)
        if self.choices:
            return v.choice(node, name, self.choices, what, self.default)
        return v.typed(node, name, str, what, self.default)


@dataclass
class Context:
    """The knowledge a rule may consult (never the network, never a file of its own)."""

    db: FingerprintDB
    law: Jurisdiction
    services: tuple[TrackingService, ...] = ()
    inventory: tuple[Expected, ...] | None = None   # the expected devices, when the scan was given some
    firmware: FirmwareFacts | None = None   # known-exploited flaws, end of support, the KEV catalogue


@dataclass(frozen=True)
class Verdict:
    """A rule's status when it found nothing: ``passed`` (with what was checked) or
    ``not-assessable`` (with why the scan could not see it)."""

    status: str
    reason: str


Evaluate = Callable[[ScanResult, "RuleConfig", Context], Iterable[Finding]]
Assess = Callable[[ScanResult, "RuleConfig", Context], Verdict]


@dataclass
class RuleSpec:
    """A rule as the code defines it: id, default title and severity, its parameters."""

    id: str
    title: str
    severity: str
    evaluate: Evaluate
    params: dict[str, Param] = field(default_factory=dict)
    assess: Assess | None = None  # what a rule without findings could and could not check


@dataclass
class RuleConfig:
    """A rule as a policy configures it: enabled or not, severity, parameters, legal references."""

    id: str
    spec: RuleSpec
    enabled: bool
    severity: str
    params: dict[str, Any]
    references: list[Reference]
    title: str


RULES: dict[str, RuleSpec] = {}


def rule(rule_id: str, title: str, severity: str, **params: Param) -> Callable[[Evaluate], Evaluate]:
    def register(func: Evaluate) -> Evaluate:
        RULES[rule_id] = RuleSpec(rule_id, title, severity, func, params)
        return func
    return register


def assessor(rule_id: str) -> Callable[[Assess], Assess]:
    """Register how ``rule_id`` judges a scan in which it found nothing."""
    def register(func: Assess) -> Assess:
        RULES[rule_id].assess = func
        return func
    return register


def finding(cfg: RuleConfig, device: Device | None, message: str, evidence: list[Evidence],
            destination: Destination | None = None, port: int | None = None, severity: str | None = None,
            confidence: float | None = None) -> Finding:
    return Finding(
        rule=cfg.id, severity=severity or cfg.severity, title=cfg.title,
        device_ip=device.ip if device else (destination.device_ip if destination else None),
        message=message, evidence=evidence, references=list(cfg.references),
        destination=_dest_summary(destination) if destination else None, port=port, confidence=confidence,
    )


def unidentified(result: ScanResult) -> list[Device]:
    """Devices the scan could not name a vendor for: no rule about what a device is can clear them."""
    return [d for d in result.devices if d.vendor is None]


def ips(devices: list[Device], limit: int = 5) -> str:
    shown = ", ".join(d.ip for d in devices[:limit])
    return shown + (f" and {len(devices) - limit} more" if len(devices) > limit else "")


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def traffic_seen(result: ScanResult) -> bool:
    """The scan had traffic to look at: records read from flow logs, packets of a capture, or a
    destination seen in traffic. A flows file with no records, or an empty capture, is no traffic."""
    if any(d.observed for d in result.destinations):
        return True
    for item in result.scan.inputs:
        count = item.get("records") if item.get("kind") == "traffic" else (
            item.get("packets") if item.get("kind") == "capture" else None)
        if str(count or "0").isdigit() and int(count or 0) > 0:
            return True
    return False


def _dest_summary(dest: Destination) -> dict[str, Any]:
    return {k: getattr(dest, k) for k in ("host", "ip", "port", "transport", "country", "registry_country",
                                          "location_source", "anycast", "company", "parent_company",
                                          "jurisdictions")}


def identity_evidence(device: Device) -> list[Evidence]:
    """Why the device is what the finding says: its fingerprint matches, or its stored identity."""
    found = [e for e in device.evidence if e.detail.startswith("fingerprint ")][:6]
    return found or [Evidence("identity", f"vendor {device.vendor or 'unknown'}, model {device.model or 'unknown'}, "
                                          f"firmware {device.firmware or 'unknown'}, class {device.device_class}, "
                                          f"capabilities {', '.join(device.capabilities) or 'none'}")]


def label(device: Device) -> str:
    parts = [p for p in (device.vendor, device.model) if p]
    return " ".join(parts) if parts else "device"
