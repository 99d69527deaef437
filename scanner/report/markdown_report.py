"""Markdown for tickets and merge-request comments (GitHub, GitLab: CommonMark + GFM).

Every string that came from a device or a stored result passes through :func:`md`, which makes
it literal text: a device named ``[x](https://evil)``, ``![](...)``, ``<img onerror=...>`` or
``www.evil.example`` renders as those characters, never as a link, image, HTML or autolink.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import quote

from scanner.model import Finding, ScanResult, severity_rank
from scanner.model.text import terminal_safe
from scanner.report.common import (
    SEVERITIES_DESC,
    blind_spots,
    device_index,
    device_label,
    open_counts,
    policy_name,
    waiver_text,
    web_url,
    xml_legal,
)

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that start markup
# mid-line: emphasis, code, links, images, table cells, math, autolinks (``:`` ``@``), and GitLab
# or GitHub references (``#12``, ``!3``, ``@user``, ``%milestone``, ``~label``).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~:@$%])")
_WWW = re.compile(r"(?i)(www)\.")
MAX_ROWS = 500


def md(text: object, limit: int = 500) -> str:
    """``text`` as literal Markdown: controls visible, HTML as entities, markup characters escaped."""
    value = xml_legal(terminal_safe(text, limit))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return _WWW.sub(r"\1\\.", value)


def md_url(url: str | None) -> str | None:
    """An http(s) link target that cannot end the link early: ``( ) < >`` spaces etc. percent-encoded."""
    safe = web_url(url)
    return quote(safe, safe=";/?:@&=+$,-_.!~*'#%") if safe else None


def md_code(text: str) -> str:
    """Text for inside a code span, where backslash escapes do not work: backticks and pipes removed."""
    return xml_legal(terminal_safe(text, 200)).replace("`", "'").replace("|", "/")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _summary(result: ScanResult) -> list[str]:
    counts = open_counts(result)
    waived = sum(1 for f in result.findings if f.waived)
    scan = result.scan
    lines = ["| | |", "|---|---|",
             _row(["Devices", str(len(result.devices))]),
             _row(["Open findings", ", ".join(f"{counts[s]} {s}" for s in SEVERITIES_DESC if counts[s]) or "none"]),
             _row(["Waived findings", str(waived)]),
             _row(["Destinations", str(len(result.destinations))]),
             _row(["Scan errors", str(len(result.errors))]),
             _row(["Policy", md(policy_name(result))]),
             _row(["Targets", md(", ".join(scan.targets) or "-")]),
             _row(["Scanned", md(f"{scan.started_at} to {scan.finished_at or '?'}"
                                 + (" (partial)" if scan.partial else ""))])]
    return lines


def render(result: ScanResult) -> str:
    index = device_index(result)
    out = [f"## cityscan report: {md(policy_name(result))}", "", *_summary(result), ""]
    grouped: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in result.findings:
        grouped[f.severity][f.rule].append(f)
    out.append(f"### Findings ({len(result.findings)})")
    if not result.findings:
        out += ["", "No findings."]
    for severity in sorted(grouped, key=severity_rank, reverse=True):
        total = sum(len(items) for items in grouped[severity].values())
        out += ["", f"#### {md(severity.capitalize())} ({total})"]
        for rule_id, items in sorted(grouped[severity].items()):
            refs = list({r.url: r for f in items for r in f.references}.values())
            links = ", ".join(f"[{md(r.title, 120)}]({md_url(r.url)})" for r in refs if md_url(r.url))
            head = f"**{md(items[0].title)}** (`{md_code(rule_id)}`)"
            out += ["", head + (f" — legal basis: {links}" if links else ""), ""]
            for f in items[:MAX_ROWS]:
                state = f" — *waived: {md(waiver_text(f))}*" if f.waived else ""
                out.append(f"- {md(device_label(index, f.device_ip))}: {md(f.message)}{state} `{f.id}`")
            if len(items) > MAX_ROWS:
                out.append(f"- … {len(items) - MAX_ROWS} more in the JSON result")
    if result.rules:
        out += ["", "### Rules", "", _row(["Rule", "Verdict", "What was checked, or why not"]), "|---|---|---|"]
        out += [_row([f"`{md_code(str(r.get('id')))}`", md(r.get("status")), md(r.get("reason"), 400)])
                for r in result.rules]
    spots = blind_spots(result)
    if spots:
        out += ["", "### What this scan could not see", ""] + [f"- {md(s, 1000)}" for s in spots]
    out += ["", f"### Devices ({len(result.devices)})", ""]
    if result.devices:
        out += [_row(["IP", "Vendor", "Model", "Firmware", "Class", "Open findings"]), "|---|---|---|---|---|---:|"]
        open_by_ip: dict[str | None, int] = defaultdict(int)
        for f in result.findings:
            if not f.waived:
                open_by_ip[f.device_ip] += 1
        for d in result.devices[:MAX_ROWS]:
            out.append(_row([md(d.ip), md(d.vendor or "unknown"), md(d.model or "-"), md(d.firmware or "-"),
                             md(d.device_class), str(open_by_ip[d.ip])]))
    else:
        out.append("No devices found.")
    if result.errors:
        out += ["", f"### Scan errors ({len(result.errors)})", ""]
        out += [f"- {md(e.stage)} {md(e.target or '-')}: {md(e.message)}" for e in result.errors[:MAX_ROWS]]
    return "\n".join(out) + "\n"
