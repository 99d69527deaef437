"""The terminal summary: devices, destinations per country, findings by severity.

Every string a device supplied passes through :func:`terminal_safe` so that a banner cannot
move the cursor, retitle the window or hide a line of the report.
"""

from __future__ import annotations

from collections import Counter

from tabulate import tabulate

from scanner.model import SEVERITIES, ScanResult
from scanner.model.addresses import ip_sort_key
from scanner.model.text import terminal_safe as safe
from scanner.report.common import blind_spots, confidence_text, seen_text

MAX_DEST_ROWS = 60
MAX_ROWS = 200  # devices and findings a terminal shows; the rest are counted, and in the JSON


def _services(ports: list[str], limit: int = 6) -> str:
    return ", ".join(ports[:limit]) + (f" +{len(ports) - limit}" if len(ports) > limit else "")


def _fit(width: int | None, fixed: int) -> int:
    """How wide the one free-text column may be so that a table fits a terminal of ``width``."""
    return 110 if width is None else max(30, width - fixed)


def render(result: ScanResult, width: int | None = None) -> str:
    out: list[str] = []
    scan = result.scan
    policy = (scan.policy or {}).get("name") or "none"
    out.append(f"cityscan {result.tool.get('version', '')} | policy: {safe(policy)} | "
               f"targets: {safe(', '.join(scan.targets) or '-')} | "
               f"{'offline' if scan.offline else 'online'}{' | PARTIAL' if scan.partial else ''}")
    out.append("")
    rows = []
    for d in sorted(result.devices, key=lambda x: ip_sort_key(x.ip))[:MAX_ROWS]:
        ports = [f"{s.port}/{s.transport}" + (f" {s.name}" if s.name else "") for s in d.services]
        rows.append([safe(d.ip), safe(d.mac or "-"), safe(d.vendor or "unknown", 40),
                     safe(d.model or "-", 40), safe(d.firmware or "-", 40), safe(d.device_class),
                     confidence_text(d.confidence), safe(_services(ports), 80)])
    out.append(f"Devices ({len(result.devices)})")
    out.append(tabulate(rows, headers=["IP", "MAC", "Vendor", "Model", "Firmware", "Class", "Conf.", "Services"])
               if rows else "  none found")
    if len(result.devices) > MAX_ROWS:
        out.append(f"  ... {len(result.devices) - MAX_ROWS} more in the JSON output")
    if result.destinations:
        out.append("")
        out.append(f"Destinations ({len(result.destinations)})")
        drows = []
        for dest in result.destinations[:MAX_DEST_ROWS]:
            where = (dest.host or dest.ip or "?") + (f":{dest.port}" if dest.port else "")
            owner = dest.company or "unknown"
            if dest.parent_company and dest.parent_company != dest.company:
                owner += f" (parent: {dest.parent_company})"
            drows.append([safe(dest.device_ip), safe(where, 50), safe(owner, 70), safe(dest.country or "-"),
                          safe(", ".join(dest.jurisdictions) or "-"), safe(seen_text(dest), 40)])
        out.append(tabulate(drows, headers=["Device", "Destination", "Company", "Location", "Law reaches from",
                                            "Seen"]))
        if len(result.destinations) > MAX_DEST_ROWS:
            out.append(f"  ... {len(result.destinations) - MAX_DEST_ROWS} more in the JSON output")
        by_country: Counter[str] = Counter(c for dest in result.destinations for c in (dest.jurisdictions or ["unknown"]))
        out.append("Jurisdictions: " + ", ".join(f"{safe(c)} {n}" for c, n in by_country.most_common()))
    out.append("")
    frows = []
    message_width = _fit(width, 60)
    for f in result.findings[:MAX_ROWS]:
        sev = f.severity.upper() + (" (waived)" if f.waived else "")
        frows.append([sev, f.rule, safe(f.device_ip or "-"), safe(f.message, message_width)])
    out.append(f"Findings ({len(result.findings)})")
    out.append(tabulate(frows, headers=["Severity", "Rule", "Device", "Finding"]) if frows else "  none")
    if len(result.findings) > MAX_ROWS:
        out.append(f"  ... {len(result.findings) - MAX_ROWS} more in the JSON output (they are ordered worst first)")
    if result.rules:
        out.append("")
        out.append("Rules")
        out.append(tabulate([[safe(r.get("id")), safe(r.get("status")), safe(r.get("reason"), _fit(width, 44))]
                             for r in result.rules],
                            headers=["Rule", "Verdict", "Why"]))
    spots = blind_spots(result)
    if spots:
        out.append("")
        out.append("What this scan could not see")
        out.extend(f"  - {safe(s, 300)}" for s in spots)
    if result.waivers:
        problems = [w for w in result.waivers if w["status"] != "active"]
        if problems:
            out.append("")
            out.append("Waivers needing attention")
            out.append(tabulate([[w["status"], safe(w["rule"]), safe(w["device"]), w["expires"], safe(w["source"])]
                                 for w in problems], headers=["Status", "Rule", "Device", "Expires", "Where"]))
    if result.errors:
        out.append("")
        out.append(f"Errors ({len(result.errors)})")
        for e in result.errors[:50]:
            out.append(f"  [{safe(e.stage)}] {safe(e.target or '-')}: {safe(e.message, 160)}")
        if len(result.errors) > 50:
            out.append(f"  ... {len(result.errors) - 50} more in the JSON output")
    counts = Counter(f.severity for f in result.findings if not f.waived)
    summary = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]) or "no findings"
    waived = sum(1 for f in result.findings if f.waived)
    out.append("")
    devices = len(result.devices)
    out.append(f"Summary: {devices} device{'s' if devices != 1 else ''}, {summary}"
               + (f", {waived} waived" if waived else ""))
    return "\n".join(out) + "\n"
