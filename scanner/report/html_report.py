"""One self-contained HTML file for auditors and a city council: it loads nothing, sends nothing.

Inline CSS and SVG, and one small script that sorts and filters the long tables
(:mod:`.html_script`); a Content-Security-Policy forbids every fetch and every script but that
one (by its hash), so even a missed escape could not load or run anything. Device strings go through
:func:`html_text.h`. Print CSS turns it into an A4 document with the legal links spelled out.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from scanner.model import ScanResult, severity_rank
from scanner.model.addresses import ip_sort_key
from scanner.report.common import (
    SEVERITIES_DESC,
    blind_spots,
    confidence_text,
    country_name,
    open_counts,
    outside_eea,
    policy_name,
    seen_text,
)
from scanner.report.html_findings import pill, plural, render_findings
from scanner.report.html_flow import KIND_STYLE, flow_note, kinds_used, render_flow
from scanner.report.html_script import SCRIPT, SCRIPT_HASH
from scanner.report.html_style import CSS
from scanner.report.html_text import h

CSP = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '{SCRIPT_HASH}'"
SOURCE_NAMES = {"fingerprint": "vendor endpoint", "flows": "traffic", "ownership": "ownership table",
                "asn-table": "ASN table", "rir-country": "RIR data", "rdap": "RDAP", "dns": "DNS"}


def _when(stamp: str | None) -> str:
    """``22 Nov 2026, 22:40 UTC`` for people; the exact ISO time stays in the scan details."""
    try:
        moment = dt.datetime.fromisoformat(stamp or "")
    except ValueError:
        return stamp or "an unrecorded time"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def _lower_first(text: str) -> str:
    """``Equipment from...`` -> ``equipment from...`` mid-sentence; ``EEA...`` stays."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _in_short(result: ScanResult) -> str:
    """Two or three plain sentences a council member reads before any table."""
    counts = open_counts(result)
    flagged = len({f.device_ip for f in result.findings if not f.waived and f.device_ip})
    n = len(result.devices)
    parts = [f"This scan found {n} {plural(n, 'device')}; {flagged} of them {plural(flagged, 'has', 'have')} "
             "open findings."]
    worst = next((s for s in SEVERITIES_DESC if counts[s]), None)
    if worst in ("critical", "high"):
        titles = sorted({_lower_first(f.title) for f in result.findings if not f.waived and f.severity == worst})
        parts.append(f"{counts[worst]} {worst}-severity {plural(counts[worst], 'finding')} need action first: "
                     f"{'; '.join(titles)}.")
    abroad = [d for d in result.destinations if any(outside_eea(result, c) for c in [d.country, *d.jurisdictions])]
    if abroad:
        codes = sorted({c for d in abroad for c in [d.country, *d.jurisdictions] if outside_eea(result, c)},
                       key=lambda c: country_name(result, c))
        devices = len({d.device_ip for d in abroad})
        parts.append(f"Data from {devices} {plural(devices, 'device')} goes to servers or companies under the law "
                     f"of countries outside the EEA: {', '.join(country_name(result, c) for c in codes)}.")
    return '<p class="lead">' + h(" ".join(parts)) + "</p>"


def _summary(result: ScanResult) -> str:
    counts = open_counts(result)
    n_open = sum(counts.values())
    waived = sum(1 for f in result.findings if f.waived)
    countries = len({c for d in result.destinations for c in [d.country, *d.jurisdictions] if c})
    n_dest = len(result.destinations)
    worst = max(counts, key=severity_rank) if counts else None
    cards = [(len(result.devices), plural(len(result.devices), "device") + " found", "neutral"),
             (n_open, "open " + plural(n_open, "finding"),
              "alert" if worst in ("critical", "high") else "calm" if not n_open else "neutral"),
             (waived, "waived " + plural(waived, "finding"), "neutral"),
             (n_dest, f"data {plural(n_dest, 'destination')} in {countries} "
                      f"{plural(countries, 'country', 'countries')}", "neutral"),
             (len(result.errors), "scan " + plural(len(result.errors), "error"), "alert" if result.errors else "calm")]
    out = [_in_short(result), '<div class="cards">']
    out += [f'<div class="card {cls}"><div class="num">{num}</div><div class="lbl">{h(lbl)}</div></div>'
            for num, lbl, cls in cards]
    out.append("</div>")
    out.append('<div class="sevbar">' + "".join(pill(s, counts[s]) for s in SEVERITIES_DESC)
               + (f'<span class="pill waived">{waived} waived</span>' if waived else "") + "</div>")
    return "".join(out)


def _inputs(inputs: list[dict[str, Any]]) -> str:
    """``nmap-live (targets 198.51.100.0/24); probes (devices 13, seconds 4.1)``."""
    out = []
    for item in inputs:
        rest = ", ".join(f"{k} {v}" for k, v in item.items() if k != "kind")
        out.append(f"{item.get('kind', 'input')}" + (f" ({rest})" if rest else ""))
    return "; ".join(out) or "none"


def _nmap_used(result: ScanResult) -> str:
    """Which nmap ran, or whose XML was imported: an import is not "not used"."""
    if result.scan.nmap_version:
        return f"nmap {result.scan.nmap_version} (live scan)"
    imported = [i for i in result.scan.inputs if i.get("kind") == "nmap-xml"]
    if imported:
        versions = sorted({str(i.get("nmap_version") or "?") for i in imported})
        return f"imported XML of nmap {', '.join(versions)}"
    return "not used"


def _meta(result: ScanResult) -> str:
    scan = result.scan
    policy = scan.policy or {}
    items = [("Scan started", scan.started_at), ("Scan finished", scan.finished_at or "not recorded"),
             ("Targets", ", ".join(scan.targets) or "none"),
             ("Scope (networks allowed)", ", ".join(scan.scope) or "none"),
             ("Policy", policy_name(result)), ("Policy SHA-256", policy.get("sha256") or "none"),
             ("Tool", f"cityscan {result.tool.get('version', '')}".strip()),
             ("Network look-ups",
              "offline: no DNS, RDAP or web look-ups" if scan.offline else "online look-ups allowed"),
             ("nmap", _nmap_used(result)), ("Inputs", _inputs(scan.inputs)),
             ("Completeness", "PARTIAL: the scan did not finish" if scan.partial else "complete")]
    rows = "".join(f"<dt>{h(k)}</dt><dd{' class=mono' if 'SHA' in k else ''}>{h(v)}</dd>" for k, v in items)
    return f'<dl class="meta">{rows}</dl>'


def _inventory(result: ScanResult) -> str:
    if not result.devices:
        return "<p>No devices were found.</p>"
    per_device: dict[str, Counter[str]] = defaultdict(Counter)
    for f in result.findings:
        if not f.waived and f.device_ip:
            per_device[f.device_ip][f.severity] += 1
    rows = []
    for d in sorted(result.devices, key=lambda x: ip_sort_key(x.ip)):
        services = ", ".join(f"{s.port}/{s.transport}" + (f" {s.name}" if s.name else "") for s in d.services)
        mine = per_device.get(d.ip, Counter())
        sev = max(mine, key=severity_rank) if mine else "none"
        findings = " ".join(pill(s, mine[s]) for s in SEVERITIES_DESC if mine[s]) or "–"
        # one row per device of a city: the columns' styles come from the table's class (html_style), and
        # the optional </td> and </tr> are left out (HTML5), which keeps 10,000 devices a third smaller
        rows.append(f'<tr><td class="sev-{h(sev)}">{h(d.ip)}<td>{h(d.vendor or "unidentified")}'
                    f'<td>{h(d.model or "–")}<td>{h(d.firmware or "–")}<td>{h(d.device_class)}'
                    f'<td>{h(confidence_text(d.confidence))}<td>{h(d.mac or "–")}<td>{h(services or "none")}'
                    f"<td>{findings}")
    return ('<table class="sortable inventory"><thead><tr><th>IP address</th><th>Vendor</th><th>Model</th><th>Firmware</th>'
            '<th>Class</th><th class="num">Confidence</th><th>MAC</th><th>Open services</th><th>Findings</th></tr></thead>'
            "<tbody>" + "".join(rows) + "</tbody></table>")


def _legend(result: ScanResult) -> str:
    swatches = "".join(
        f'<span><svg width="18" height="12" aria-hidden="true"><rect x="1" y="1" width="16" height="10" rx="2" '
        f'fill="{fill}" stroke="{stroke}"/></svg>{h(note)}</span>'
        for fill, stroke, note, _ in (KIND_STYLE[k] for k in kinds_used(result)))
    line = '<svg width="30" height="10" aria-hidden="true"><line x1="0" y1="5" x2="30" y2="5" stroke-width="2" '
    return (f'<div class="legend">{swatches}</div><div class="legend">'
            f'<span>{line}stroke="#556274"/></svg>server located in</span>'
            f'<span>{line}stroke="#c62828" stroke-dasharray="6 4"/></svg>'
            "law of that country reaches the company (seat or parent)</span></div>")


def _flow(result: ScanResult) -> str:
    if not result.destinations:
        return ("<p>No data destinations were found in this scan: no traffic was recorded and no identified "
                "device has a known vendor cloud endpoint. Where the devices send data cannot be judged from "
                "this scan alone.</p>")
    rows = []
    for d in sorted(result.destinations, key=lambda x: (ip_sort_key(x.device_ip), x.host or '', ip_sort_key(x.ip))):
        where = (d.host or d.ip or "?") + (f" ({d.ip})" if d.host and d.ip else "") + (f":{d.port}" if d.port else "")
        owner = (d.company or d.network_owner or "unknown") + (
            f" (part of {d.parent_company})" if d.parent_company and d.parent_company != d.company else "")
        located = f"{country_name(result, d.country)} ({d.country})" if d.country else "unknown"
        reach = ", ".join(f"{country_name(result, c)} ({c})" for c in d.jurisdictions) or "–"
        found_by = ", ".join(SOURCE_NAMES.get(s, s) for s in d.sources) or "–"
        rows.append(f'<tr><td>{h(d.device_ip)}<td{" class=nowrap" if len(where) <= 34 else ""}>{h(where)}'
                    f"<td>{h(owner)}<td>{h(located)}<td>{h(reach)}<td>{h(seen_text(d))}<td>{h(found_by)}")
    intro = ("<p>Each line is a connection a device makes, or is built to make by its vendor. A solid line "
             "ends where the server is; a dashed red line ends at a country whose law can compel the company, "
             "through its seat or its parent, to hand over the data.</p>")
    note = flow_note(result)
    intro += f'<p class="muted">{h(note)}</p>' if note else ""
    return (f'{intro}<div class="flow">{render_flow(result)}{_legend(result)}</div>'
            '<table class="sortable destinations"><thead><tr><th>Device</th><th>Destination</th><th>Company</th><th>Server location</th>'
            "<th>Law reaches from</th><th>Seen</th><th>Found by</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _waivers(result: ScanResult) -> str:
    if not result.waivers:
        return "<p>No waivers were applied to this scan.</p>"
    rows = "".join(
        f'<tr><td><span class="pill status-{h(w.get("status", ""))}">{h(w.get("status", "?"))}</span></td>'
        f'<td class="mono">{h(w.get("rule", ""))}</td><td class="mono nowrap">{h(w.get("device", ""))}</td>'
        f'<td>{h(w.get("justification", ""))}</td><td>{h(w.get("approver", ""))}</td>'
        f'<td class="mono nowrap">{h(w.get("expires", ""))}</td><td class="nowrap">{h(w.get("ticket") or "–")}</td>'
        f'<td class="num">{h(w.get("matched", 0))}</td><td class="mono">{h(w.get("source", ""))}</td></tr>'
        for w in result.waivers)
    return ("<p>A waiver accepts a finding for a stated reason until a date; waived findings stay in this report. "
            "An expired waiver no longer waives anything; an unused one matched no finding.</p>"
            "<table><thead><tr><th>Status</th><th>Rule</th><th>Device</th><th>Justification</th><th>Approver</th>"
            '<th>Expires</th><th>Ticket</th><th class="num">Matched</th><th>Where</th></tr></thead><tbody>'
            + rows + "</tbody></table>")


def _errors(result: ScanResult) -> str:
    if not result.errors:
        return "<p>None: every target and input was processed.</p>"
    rows = "".join(f'<tr><td>{h(e.stage)}</td><td class="mono nowrap">{h(e.target or "–")}</td>'
                   f"<td>{h(e.message)}</td></tr>" for e in result.errors)
    return ("<p>These parts of the scan could not be completed; their devices may be judged on less evidence.</p>"
            "<table><thead><tr><th>Stage</th><th>Target</th><th>What went wrong</th></tr></thead><tbody>"
            + rows + "</tbody></table>")


def _blind_spots(result: ScanResult) -> str:
    spots = blind_spots(result)
    if not spots:
        return "<p>Nothing that this report knows of: every device was identified and every rule assessed.</p>"
    return ("<p>Every verdict in this report rests on what the scan could see. These are the limits:</p><ul>"
            + "".join(f"<li>{h(s, 2000)}</li>" for s in spots) + "</ul>")


SECTIONS = (("summary", "Summary", _summary), ("limits", "What this scan could not see", _blind_spots),
            ("scan", "About this scan", _meta),
            ("data", "Where the data goes", _flow), ("findings", "Findings", render_findings),
            ("inventory", "Device inventory", _inventory), ("waivers", "Waivers", _waivers),
            ("errors", "Scan errors", _errors))


def render(result: ScanResult) -> str:
    scan = result.scan
    title = f"Network compliance report: {', '.join(scan.targets) or 'imported data'}"
    toc = " · ".join(f'<a href="#{key}">{h(name)}</a>' for key, name, _ in SECTIONS)
    partial = ('<div class="banner"><strong>Partial scan.</strong> The scan did not finish; devices and '
               "findings may be missing.</div>") if scan.partial else ""
    sections = "".join(f'<section id="{key}"><h2>{h(name)}</h2>{body(result)}</section>'
                       for key, name, body in SECTIONS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{h(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<div class="kicker">cityscan · network compliance report</div>
<h1>{h(title)}</h1>
<p class="subtitle">Judged by policy <strong>{h(policy_name(result))}</strong> · scanned {h(_when(scan.started_at))}
· {"offline scan" if scan.offline else "online look-ups"}</p>
{partial}
<nav class="toc">{toc}</nav>
</header>
{sections}
<footer>Generated by cityscan {h(result.tool.get("version", ""))}. This file is self-contained: it loads nothing
from the network; its one script only sorts and filters tables. Finding IDs stay the same across scans of the same device, rule and
destination.</footer>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""
