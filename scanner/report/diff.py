"""The diff of two scans for people and machines: a terminal table, Markdown for tickets, JSON.

Every string here came from a device or a stored result, so it is escaped for the terminal
(:func:`terminal_safe`) and for Markdown (:func:`md`).
"""

from __future__ import annotations

import json

from tabulate import tabulate

from scanner.model.diff import (
    DestinationRef,
    DeviceRef,
    FindingChange,
    FindingRef,
    ScanDiff,
    ScanRef,
)
from scanner.model.text import terminal_safe as safe
from scanner.report.markdown_report import md, md_code

DIFF_FORMATS: tuple[str, ...] = ("table", "json", "markdown")
MAX_ROWS = 200  # per table section; json always has everything


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
    """``fmt`` is one of :data:`DIFF_FORMATS` (the CLI offers no other)."""
    renderers = {"table": render_table, "markdown": render_markdown, "json": render_json}
    if fmt not in renderers:
        raise ValueError(f"unknown diff format {fmt!r} (choose {', '.join(DIFF_FORMATS)})")
    return renderers[fmt](d)
