"""Small helpers the report formats share, so each format names devices and counts alike."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from ..errors import CityscanError
from ..model import SEVERITIES, Device, Finding, ScanResult, severity_rank
from ..policy import load_policy

SEVERITIES_DESC: tuple[str, ...] = tuple(reversed(SEVERITIES))

# Characters XML 1.0 forbids outright (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_legal(text: str) -> str:
    """``text`` without the characters an XML 1.0 parser rejects (shown as ``\\xNN``, not lost)."""
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100
                            else f"\\u{ord(m.group(0)):04x}", text)


def device_name(device: Device | None) -> str:
    """Vendor and model, or what is known instead: the words a reader recognises a device by."""
    if device is None:
        return "not in the inventory"
    parts = [p for p in (device.vendor, device.model) if p]
    return " ".join(parts) if parts else "unidentified"


def device_index(result: ScanResult) -> dict[str, Device]:
    """Devices by IP, built once: large networks have thousands of devices and findings."""
    return {d.ip: d for d in result.devices}


def device_label(index: dict[str, Device], ip: str | None) -> str:
    """``IP (vendor model)``: unique per device and still readable in a CI test list."""
    if not ip:
        return "network (no single device)"
    return f"{ip} ({device_name(index.get(ip))})"


def open_counts(result: ScanResult) -> Counter[str]:
    """Unwaived findings per severity: what the summary of every format shows."""
    return Counter(f.severity for f in result.findings if not f.waived)


def at_or_above(finding: Finding, fail_on: str) -> bool:
    """True when ``finding`` meets the CI threshold (``none`` never does), like ``evaluate.gate``."""
    return fail_on != "none" and severity_rank(finding.severity) >= severity_rank(fail_on)


def web_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) link, else None: a tampered result cannot smuggle javascript: links."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def waiver_text(finding: Finding) -> str:
    """One line saying who accepted a waived finding, why and until when."""
    w = finding.waiver or {}
    parts = [str(w.get("justification") or "no justification recorded")]
    if w.get("approver"):
        parts.append(f"approved by {w['approver']}")
    if w.get("expires"):
        parts.append(f"until {w['expires']}")
    if w.get("ticket"):
        parts.append(f"ticket {w['ticket']}")
    return "; ".join(parts)


def policy_name(result: ScanResult) -> str:
    return str((result.scan.policy or {}).get("name") or "none")


def evaluated_rules(result: ScanResult) -> list[str]:
    """Rules the scan was judged by: those with findings, plus the policy's enabled rules when the
    policy file named in the result is still there unchanged (same sha256), so that a rule that
    passed everywhere still shows as checked. A result from elsewhere falls back to the first set."""
    rules = {f.rule for f in result.findings}
    policy = result.scan.policy or {}
    files = policy.get("files") or []
    if files and policy.get("sha256"):
        try:
            loaded = load_policy(str(files[0]))
        except (CityscanError, OSError, ValueError):
            loaded = None
        if loaded is not None and loaded.sha256 == policy["sha256"]:
            rules.update(r.id for r in loaded.enabled_rules())
    return sorted(rules)
