"""Small helpers the report formats share, so each format names devices and counts alike."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from scanner.model import SEVERITIES, Destination, Device, Finding, ScanResult

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
    """Rules the scan was judged by: every rule the judgement recorded, plus those with findings
    (a result from an older version recorded only its findings)."""
    return sorted({f.rule for f in result.findings} | {str(r.get("id")) for r in result.rules if r.get("id")})


def rule_info(result: ScanResult, rule_id: str) -> dict[str, Any]:
    """What the judgement recorded about a rule: title, severity, summary, references."""
    return next((r for r in result.rules if r.get("id") == rule_id), {})


def rule_title(result: ScanResult, rule_id: str) -> str:
    found = next((f.title for f in result.findings if f.rule == rule_id), None)
    return found or str(rule_info(result, rule_id).get("title") or rule_id)


def rule_summary(result: ScanResult, rule_id: str) -> str:
    """The one sentence a report prints for why a rule matters ('' when the result has none)."""
    return str(rule_info(result, rule_id).get("summary") or "")


def country_name(result: ScanResult, code: str | None) -> str:
    """The English short name the resolve stage recorded, else the code itself."""
    if not code:
        return "an unknown country"
    return str((result.countries.get(code.upper()) or {}).get("name") or code.upper())


def outside_eea(result: ScanResult, code: str | None) -> bool:
    """True only when the result records ``code`` as a country outside the EEA."""
    return bool(code) and (result.countries.get(str(code).upper()) or {}).get("eea") is False


def country_kind(result: ScanResult, code: str | None) -> str:
    """eea, adequate, partial (e.g. US: certified recipients only), outside or unknown: the GDPR
    question for data that goes to ``code``, as the result records it."""
    info = result.countries.get((code or "").upper())
    if not info:
        return "unknown"
    if info.get("eea"):
        return "eea"
    adequacy = info.get("adequacy")
    return "adequate" if adequacy == "full" else "partial" if adequacy else "outside"


def rule_status(result: ScanResult, rule_id: str) -> tuple[str, str]:
    """``(status, reason)`` the judgement recorded; an older result without one: from its findings."""
    info = rule_info(result, rule_id)
    if info.get("status"):
        return str(info["status"]), str(info.get("reason") or "")
    has = any(f.rule == rule_id for f in result.findings)
    return ("findings", "") if has else ("not-assessable", "this result does not record what was checked")


def seen_text(dest: Destination) -> str:
    """How a destination is known: traffic that was seen, or the vendor's endpoint (predicted)."""
    traffic = dest.traffic or {}
    if traffic:
        parts = [f"{traffic.get('connections', 0)} connection{'s' if traffic.get('connections') != 1 else ''}"]
        if traffic.get("bytes_out") is not None:
            parts.append(f"{human_bytes(int(traffic['bytes_out']))} out")
        if traffic.get("bytes") is not None:
            parts.append(f"{human_bytes(int(traffic['bytes']))} in all")
        return "observed: " + ", ".join(parts)
    if dest.observed:
        return "observed"
    return "predicted (vendor endpoint)"


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            return f"{count} bytes" if count < 1000 else f"{value:.1f} {unit}"
    return f"{count} bytes"


def confidence_text(value: float | None) -> str:
    return "-" if value is None else f"{round(value * 100)} %"


def blind_spots(result: ScanResult) -> list[str]:
    """What this scan could not see, in plain sentences: the other half of every verdict."""
    out: list[str] = []
    scan = result.scan
    if scan.partial:
        out.append("The scan was stopped before it finished: devices and findings may be missing.")
    unknown = [d.ip for d in result.devices if d.vendor is None]
    if unknown:
        shown = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        out.append(f"{len(unknown)} of {len(result.devices)} devices could not be identified ({shown}): "
                   "no rule about what a device is or does can clear them.")
    imported = [i for i in scan.inputs if i.get("kind") == "nmap-xml"]
    if imported and result.devices and not any(s.product or s.version or s.method == "probed"
                                                for d in result.devices for s in d.services):
        out.append("The imported nmap XML has no service detection (run without -sV): products and versions "
                   "are unknown, and identification rests on MAC addresses and what cityscan's probes read.")
    unprobed = sum(1 for d in result.devices for s in d.services
                   if not any(o.port == s.port for o in d.observations))
    if unprobed:
        out.append(f"{unprobed} open ports were not read by a probe (a protocol cityscan does not speak, UDP, or an "
                   "imported scan without probes): only their port number is known.")
    live = [i for i in scan.inputs if i.get("kind") == "nmap-live"]
    if live and not any(i.get("ot") for i in live):
        out.append("Control systems were not asked (no --ot): the OT ports (S7 102, Modbus 502, DNP3 20000, "
                   "EtherNet/IP 44818, BACnet 47808) were not scanned, so PLCs, meters and building controllers "
                   "are named at most by their MAC address.")
    elif live and all(i.get("ot") == "tcp" for i in live if i.get("ot")):
        out.append("BACnet (UDP 47808) was not scanned: --ot ran without raw-packet privileges, so building "
                   "controllers that speak only BACnet/IP are named at most by their MAC address.")
    if not any(d.observed for d in result.destinations) and not any(
            i.get("kind") in ("flows", "capture") for i in scan.inputs):
        out.append("No traffic was given (--flows, --capture): where devices really send data is unknown; the "
                   "destinations listed are only what their vendors build them to contact.")
    no_country = sum(1 for d in result.destinations if not d.country)
    if no_country:
        out.append(f"{no_country} destinations have no known location (private, documentation or unlisted addresses, "
                   "or a host name not resolved).")
    if scan.offline:
        out.append("Offline scan: no DNS, RDAP or geolocation look-ups were made (--online allows them).")
    for info in result.rules:
        if info.get("status") == "not-assessable":
            out.append(f"Rule {info.get('id')} could not be assessed: {info.get('reason')}.")
    dated = [f"{d.get('name')} {d.get('version') or ''} ({d.get('date')})".replace("  ", " ")
             for d in scan.data if d.get("date")]
    old = [str(d.get("name")) for d in scan.data if _age_days(d.get("date"), scan.started_at) > STALE_DAYS]
    if dated:
        out.append("Data sets used: " + "; ".join(dated) + "."
                   + (f" More than a year before the scan: {', '.join(old)} (cityscan data update)." if old else ""))
    return out


STALE_DAYS = 365


def _age_days(date: object, scan_start: str | None) -> int:
    """Days between a data set's date (YYYY-MM or YYYY-MM-DD) and the scan; -1 when unknown."""
    try:
        day = dt.date.fromisoformat(str(date) if len(str(date)) > 7 else f"{date}-01")
        start = dt.date.fromisoformat(str(scan_start or "")[:10])
    except ValueError:
        return -1
    return (start - day).days
