"""What changed between two scans of the same network: the question a scheduled scan answers.

Devices are matched by IP, destinations by device + host (or IP when there is no host) + port,
findings by :attr:`Finding.id` (rule + device + destination, stable across runs). The renderers
are in :mod:`scanner.report.diff`.
"""

from __future__ import annotations

from scanner.model import Destination, ScanResult, at_or_above, severity_rank
from scanner.model.addresses import ip_sort_key
from scanner.model.diff import (
    IDENTITY_FIELDS,
    Change,
    CountryChange,
    DestinationRef,
    DeviceRef,
    FindingChange,
    FindingRef,
    IdentityChange,
    MacChange,
    ScanDiff,
    ScanRef,
)


def _dest_key(d: Destination) -> tuple[str, str, int]:
    """Host wins over IP: a cloud name resolving to another address tomorrow is not a new destination."""
    return (d.device_ip, (d.host or d.ip or "").lower(), d.port or 0)


def _dest_order(key: tuple[str, str, int]) -> tuple[tuple[int, int, str], str, int]:
    return (ip_sort_key(key[0]), key[1], key[2])


def _finding_order(f: FindingRef) -> tuple[int, str, tuple[int, int, str]]:
    return (-severity_rank(f.severity), f.rule, ip_sort_key(f.device_ip))


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
    result.new_devices = [DeviceRef.of(new_devs[ip]) for ip in sorted(new_devs.keys() - old_devs.keys(), key=ip_sort_key)]
    result.gone_devices = [DeviceRef.of(old_devs[ip]) for ip in sorted(old_devs.keys() - new_devs.keys(), key=ip_sort_key)]
    for ip in sorted(old_devs.keys() & new_devs.keys(), key=ip_sort_key):
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
    for ip in sorted(present, key=ip_sort_key):
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
    result.changed_findings = sorted(changed, key=lambda c: (-severity_rank(c.new_severity), c.rule, ip_sort_key(c.device_ip)))
    return result


def has_new_at_or_above(d: ScanDiff, severity: str) -> bool:
    """True when a finding is newly open at or above ``severity`` (the ``--fail-on-new`` exit-1 condition).

    Newly open: a new unwaived finding, or a known one whose waiver ended or whose severity rose
    to the threshold. ``none`` never fails.
    """
    if any(not f.waived and at_or_above(f.severity, severity) for f in d.new_findings):
        return True
    return any(not c.new_waived and at_or_above(c.new_severity, severity)
               and (c.old_waived or not at_or_above(c.old_severity, severity)) for c in d.changed_findings)
