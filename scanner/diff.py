"""What changed between two scans of the same network: the question a scheduled scan answers.

Devices are matched by IP, destinations by device + host (or IP when there is no host) + port,
findings by :attr:`Finding.id` (rule + device + destination, stable across runs). Every string
here came from a device or a stored result, so the renderers escape it for the terminal
(:func:`terminal_safe`) and for Markdown (:func:`md`).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from tabulate import tabulate

from .errors import InputError
from .model import Destination, Device, Finding, ScanResult, severity_rank
from .report.markdown_report import md, md_code
from .sanitize import terminal_safe as safe

IDENTITY_FIELDS: tuple[str, ...] = ("vendor", "model", "firmware", "device_class")
DIFF_FORMATS: tuple[str, ...] = ("table", "json", "markdown")
MAX_ROWS = 200  # per table section; json always has everything


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


def _ip_key(ip: str | None) -> tuple[int, int, str]:
    try:
        addr = ipaddress.ip_address(ip or "")
        return (addr.version, int(addr), "")
    except ValueError:
        return (9, 0, ip or "")


def _dest_key(d: Destination) -> tuple[str, str, int]:
    """Host wins over IP: a cloud name resolving to another address tomorrow is not a new destination."""
    return (d.device_ip, (d.host or d.ip or "").lower(), d.port or 0)


def _dest_order(key: tuple[str, str, int]) -> tuple[tuple[int, int, str], str, int]:
    return (_ip_key(key[0]), key[1], key[2])


def _finding_order(f: FindingRef) -> tuple[int, str, tuple[int, int, str]]:
    return (-severity_rank(f.severity), f.rule, _ip_key(f.device_ip))


def _countries(result: ScanResult) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for dest in result.destinations:
        if dest.country:
            out.setdefault(dest.device_ip, set()).add(dest.country)
    return out


def _notes(old: ScanResult, new: ScanResult) -> list[str]:
    notes = []
    if new.scan.partial:
        notes.append("the newer scan is partial: 'gone' and 'resolved' may only mean 'not reached'")
    if old.scan.partial:
        notes.append("the older scan is partial: 'new' may only mean 'not reached last time'")
    if sorted(old.scan.targets) != sorted(new.scan.targets):
        notes.append("the scans cover different targets")
    old_policy, new_policy = old.scan.policy or {}, new.scan.policy or {}
    if old_policy.get("sha256") != new_policy.get("sha256"):
        notes.append(f"the policy changed ({old_policy.get('name') or 'none'} -> {new_policy.get('name') or 'none'}): "
                     "new and resolved findings may come from the policy, not the network")
    return notes


def diff(old: ScanResult, new: ScanResult) -> ScanDiff:
    """Everything that changed from ``old`` to ``new``, each list sorted for stable output."""
    result = ScanDiff(old=ScanRef.of(old), new=ScanRef.of(new), notes=_notes(old, new))

    old_devs = {d.ip: d for d in reversed(old.devices)}  # reversed: the first of duplicates wins
    new_devs = {d.ip: d for d in reversed(new.devices)}
    result.new_devices = [DeviceRef.of(new_devs[ip]) for ip in sorted(new_devs.keys() - old_devs.keys(), key=_ip_key)]
    result.gone_devices = [DeviceRef.of(old_devs[ip]) for ip in sorted(old_devs.keys() - new_devs.keys(), key=_ip_key)]
    for ip in sorted(old_devs.keys() & new_devs.keys(), key=_ip_key):
        before, after = old_devs[ip], new_devs[ip]
        if before.mac and after.mac and before.mac.lower() != after.mac.lower():
            result.mac_changes.append(MacChange(ip, before.mac, after.mac))
        changes = [Change(name, getattr(before, name), getattr(after, name)) for name in IDENTITY_FIELDS
                   if getattr(before, name) != getattr(after, name)]
        if changes:
            result.identity_changes.append(IdentityChange(ip, changes))

    old_dests = {_dest_key(d): d for d in reversed(old.destinations)}
    new_dests = {_dest_key(d): d for d in reversed(new.destinations)}
    result.new_destinations = [DestinationRef.of(new_dests[k])
                               for k in sorted(new_dests.keys() - old_dests.keys(), key=_dest_order)]
    result.gone_destinations = [DestinationRef.of(old_dests[k])
                                for k in sorted(old_dests.keys() - new_dests.keys(), key=_dest_order)]

    old_countries, new_countries = _countries(old), _countries(new)
    present = new_devs.keys() | {d.device_ip for d in new.destinations}
    for ip in sorted(present, key=_ip_key):
        now, then = new_countries.get(ip, set()), old_countries.get(ip, set())
        if now != then:  # a device that is gone altogether is reported once, under gone devices
            result.country_changes.append(CountryChange(ip, sorted(now - then), sorted(then - now)))

    old_findings = {f.id: f for f in reversed(old.findings)}
    new_findings = {f.id: f for f in reversed(new.findings)}
    result.new_findings = sorted((FindingRef.of(new_findings[i]) for i in new_findings.keys() - old_findings.keys()),
                                 key=_finding_order)
    result.resolved_findings = sorted((FindingRef.of(old_findings[i]) for i in old_findings.keys() - new_findings.keys()),
                                      key=_finding_order)
    changed = []
    for fid in old_findings.keys() & new_findings.keys():
        before_f, after_f = old_findings[fid], new_findings[fid]
        if before_f.waived != after_f.waived or before_f.severity != after_f.severity:
            changed.append(FindingChange(fid, after_f.rule, after_f.title, after_f.device_ip, before_f.severity,
                                         after_f.severity, before_f.waived, after_f.waived))
    result.changed_findings = sorted(changed, key=lambda c: (-severity_rank(c.new_severity), c.rule, _ip_key(c.device_ip)))
    return result


def has_new_at_or_above(d: ScanDiff, severity: str) -> bool:
    """True when a finding is newly open at or above ``severity`` (the ``--fail-on-new`` exit-1 condition).

    Newly open: a new unwaived finding, or a known one whose waiver ended or whose severity rose
    to the threshold. ``none`` never fails.
    """
    if severity == "none":
        return False
    floor = severity_rank(severity)
    if any(not f.waived and severity_rank(f.severity) >= floor for f in d.new_findings):
        return True
    return any(not c.new_waived and severity_rank(c.new_severity) >= floor
               and (c.old_waived or severity_rank(c.old_severity) < floor) for c in d.changed_findings)


# --- renderers ---------------------------------------------------------------------------------


def _or(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _finding_change(c: FindingChange) -> str:
    parts = []
    if c.old_severity != c.new_severity:
        parts.append(f"severity {c.old_severity} -> {c.new_severity}")
    if c.old_waived != c.new_waived:
        parts.append("now waived" if c.new_waived else "waiver ended")
    return ", ".join(parts)


def _dev_row(x: DeviceRef) -> list[str]:
    return [x.ip, _or(x.mac), _or(x.vendor), _or(x.model), _or(x.firmware), x.device_class]


def _dest_row(x: DestinationRef) -> list[str]:
    return [x.device_ip, x.where(), _or(x.country), _or(x.company)]


def _find_row(x: FindingRef) -> list[str]:
    return [x.severity, x.rule, _or(x.device_ip), x.title, "yes" if x.waived else "no"]


def _sections(d: ScanDiff) -> list[tuple[str, list[str], list[list[str]]]]:
    """Title, headers and raw rows of every non-empty section (escaping is the renderer's job)."""
    dev_headers = ["IP", "MAC", "Vendor", "Model", "Firmware", "Class"]
    sections = [
        ("New devices", dev_headers, [_dev_row(x) for x in d.new_devices]),
        ("Gone devices", dev_headers, [_dev_row(x) for x in d.gone_devices]),
        ("MAC changes", ["IP", "Old MAC", "New MAC"], [[x.ip, x.old, x.new] for x in d.mac_changes]),
        ("Identity changes", ["IP", "Field", "Old", "New"],
         [[x.ip, c.field, _or(c.old), _or(c.new)] for x in d.identity_changes for c in x.changes]),
        ("New destinations", ["Device", "Destination", "Country", "Company"], [_dest_row(x) for x in d.new_destinations]),
        ("Gone destinations", ["Device", "Destination", "Country", "Company"], [_dest_row(x) for x in d.gone_destinations]),
        ("Destination countries", ["Device", "New countries", "Gone countries"],
         [[x.device_ip, ", ".join(x.new) or "-", ", ".join(x.gone) or "-"] for x in d.country_changes]),
        ("New findings", ["Severity", "Rule", "Device", "Title", "Waived"], [_find_row(x) for x in d.new_findings]),
        ("Resolved findings", ["Severity", "Rule", "Device", "Title", "Waived"], [_find_row(x) for x in d.resolved_findings]),
        ("Changed findings", ["Severity", "Rule", "Device", "Title", "Change"],
         [[x.new_severity, x.rule, _or(x.device_ip), x.title, _finding_change(x)] for x in d.changed_findings]),
    ]
    return [s for s in sections if s[2]]


def _header(d: ScanDiff) -> str:
    targets = ", ".join(d.new.targets) or "-"
    return (f"{d.old.started_at}{' (partial)' if d.old.partial else ''} -> "
            f"{d.new.started_at}{' (partial)' if d.new.partial else ''} | targets: {targets}")


def _summary_line(d: ScanDiff) -> str:
    counts = d.counts()
    shown = [f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n]
    return ", ".join(shown) if shown else "no changes"


def render_table(d: ScanDiff) -> str:
    out = [f"cityscan diff | {safe(_header(d), 400)}", f"Changes: {_summary_line(d)}"]
    out += [f"note: {safe(n, 400)}" for n in d.notes]
    for title, headers, rows in _sections(d):
        out += ["", f"{title} ({len(rows)})",
                tabulate([[safe(cell, 80) for cell in row] for row in rows[:MAX_ROWS]], headers=headers)]
        if len(rows) > MAX_ROWS:
            out.append(f"... and {len(rows) - MAX_ROWS} more (--format json lists all)")
    return "\n".join(out) + "\n"


def _markdown_header(d: ScanDiff) -> str:
    """Times and targets as code spans: readable raw, and nothing in them can become markup."""
    def when(ref: ScanRef) -> str:
        return f"`{md_code(ref.started_at or '?')}`" + (" (partial)" if ref.partial else "")
    return f"{when(d.old)} → {when(d.new)}, targets: `{md_code(', '.join(d.new.targets) or '-')}`"


def render_markdown(d: ScanDiff) -> str:
    out = ["## cityscan: changes since the previous scan", "", _markdown_header(d), "",
           f"**Changes:** {md(_summary_line(d))}"]
    out += ["", *[f"> **Note:** {md(n)}" for n in d.notes]] if d.notes else []
    for title, headers, rows in _sections(d):
        out += ["", f"### {title} ({len(rows)})", "", "| " + " | ".join(headers) + " |",
                "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(md(cell, 200) for cell in row) + " |" for row in rows[:MAX_ROWS]]
        if len(rows) > MAX_ROWS:
            out += ["", f"... and {len(rows) - MAX_ROWS} more (the json format lists all)."]
    return "\n".join(out) + "\n"


def render_json(d: ScanDiff) -> str:
    return json.dumps(d.to_dict(), indent=2, ensure_ascii=True) + "\n"


def render_diff(d: ScanDiff, fmt: str) -> str:
    """``fmt`` is one of :data:`DIFF_FORMATS`."""
    if fmt == "table":
        return render_table(d)
    if fmt == "markdown":
        return render_markdown(d)
    if fmt == "json":
        return render_json(d)
    raise InputError(f"unknown diff format {fmt!r} (choose {', '.join(DIFF_FORMATS)})")
