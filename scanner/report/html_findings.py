"""The findings part of the HTML report: which rules were checked, then each broken rule with the
law it rests on and, per device, the finding and the evidence behind it."""

from __future__ import annotations

from collections import defaultdict

from scanner.model import Device, Finding, ScanResult, severity_rank
from scanner.report.common import (
    device_index,
    device_name,
    evaluated_rules,
    rule_status,
    rule_summary,
    rule_title,
    waiver_text,
)
from scanner.report.html_text import h, link

MAX_EVIDENCE = 6
FULL_ROWS = 50  # per rule: findings shown with their evidence; the rest as one compact line each


def plural(count: int, one: str, many: str | None = None) -> str:
    return one if count == 1 else (many or one + "s")


def pill(severity: str, count: int | None = None) -> str:
    """A severity badge in its colour; ``count`` 0 draws it hollow so the row of badges stays complete."""
    label = severity.upper() if count is None else f"{count}\u00a0{severity}"
    zero = " zero" if count == 0 else ""
    return f'<span class="pill sev-{h(severity)}{zero}">{h(label)}</span>'


def _rules_table(result: ScanResult) -> str:
    """Every rule the scan was judged by, passed ones too: an auditor asks what was checked."""
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_rule[f.rule].append(f)

    def order(rule_id: str) -> tuple[int, str]:
        return (-max((severity_rank(f.severity) for f in by_rule[rule_id]), default=-2), rule_id)

    rows = []
    for rule_id in sorted(evaluated_rules(result), key=order):
        items = by_rule[rule_id]
        sev = max((f.severity for f in items), key=severity_rank) if items else ""
        title = rule_title(result, rule_id)
        opened = sum(1 for f in items if not f.waived)
        verdict, reason = rule_status(result, rule_id)
        status = (pill(sev) if opened else '<span class="muted">all waived</span>' if items
                  else '<span class="pill passed">passed</span>' if verdict == "passed"
                  else '<span class="pill unassessed">not assessable</span>')
        rows.append(f'<tr><td class="sevcell sev-{h(sev or "none")}">{h(title)}<br>'
                    f'<span class="mono muted">{h(rule_id)}</span></td><td>{status}</td>'
                    f'<td class="num">{opened}</td><td class="num">{len(items) - opened}</td>'
                    f'<td>{h(reason)}</td></tr>')
    return ('<h3>Rules checked</h3><p>A rule that found nothing says <em>passed</em> only when the scan could '
            'have shown a finding; otherwise it is <em>not assessable</em>, with the reason.</p>'
            '<table class="rules"><thead><tr><th>Rule</th><th>Verdict</th>'
            '<th class="num">Open</th><th class="num">Waived</th><th>What was checked, or why not</th></tr></thead>'
            '<tbody>' + "".join(rows) + "</tbody></table>")


def _finding_row(f: Finding, index: dict[str, Device]) -> str:
    evidence = "".join(f'<li><span class="mono">{h(e.source, 200)}</span>: {h(e.detail, 600)}</li>'
                       for e in f.evidence[:MAX_EVIDENCE])
    if len(f.evidence) > MAX_EVIDENCE:
        evidence += f"<li>… {len(f.evidence) - MAX_EVIDENCE} more in the JSON result</li>"
    status = (f'<span class="pill waived">waived</span><br><span class="muted">{h(waiver_text(f))}</span>'
              if f.waived else "<strong>open</strong>")
    who = (f'<span class="mono nowrap">{h(f.device_ip)}</span><br>'
           f'<span class="muted">{h(device_name(index.get(f.device_ip or "")))}</span>'
           if f.device_ip else '<span class="muted">network</span>')
    return (f'<tr><td>{who}</td><td>{h(f.message)}<ul class="evidence">{evidence}</ul>'
            f'<div class="fid">Finding ID {h(f.id)}</div></td><td>{status}</td></tr>')


def _rule_block(rule_id: str, items: list[Finding], index: dict[str, Device], why: str) -> str:
    """One broken rule: why it matters, the legal texts (once), then each device's finding."""
    sev = items[0].severity
    refs = list({r.url: r for f in items for r in f.references}.values())
    opened = sum(1 for f in items if not f.waived)
    legal = ('<div class="legal"><strong>Legal basis</strong><ol>'
             + "".join(f"<li>{link(r.title, r.url)}</li>" for r in refs) + "</ol></div>") if refs else ""
    return (f'<section class="rule sev-{h(sev)}"><div class="rule-head">{pill(sev)}<h4>{h(items[0].title)}</h4>'
            f'<span class="count">{opened} open, {len(items) - opened} waived · rule '
            f'<span class="mono">{h(rule_id)}</span></span></div>'
            + (f'<p class="why">{h(why)}</p>' if why else "") + legal
            + '<table><thead><tr><th style="width:22%">Device</th><th>Finding and evidence</th>'
            '<th style="width:16%">Status</th></tr></thead><tbody>'
            + "".join(_finding_row(f, index) for f in items[:FULL_ROWS]) + "</tbody></table>"
            + _compact(items[FULL_ROWS:]) + "</section>")


def _compact(items: list[Finding]) -> str:
    """A city has thousands of findings of one rule: past the first ones, one line each (device,
    what, status, id), in a table that can be sorted and filtered; the evidence is in the JSON."""
    if not items:
        return ""
    rows = "".join(f"<tr><td>{h(f.device_ip or 'network')}<td>{h(f.message, 200)}<td>{'waived' if f.waived else 'open'}"
                   for f in items)  # optional end tags left out (HTML5): thousands of rows
    return (f'<p class="muted">{len(items)} more findings of this rule, without their evidence and IDs (both are in '
            'the JSON result):</p><table class="sortable compact"><thead><tr><th>Device</th><th>Finding</th>'
            f"<th>Status</th></tr></thead><tbody>{rows}</tbody></table>")


def render_findings(result: ScanResult) -> str:
    """Rules checked, then findings by severity (worst first), grouped by rule."""
    rules = _rules_table(result)
    if not result.findings:
        return rules + "<p>No findings: no device broke a rule of this policy.</p>"
    index = device_index(result)
    grouped: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in result.findings:
        grouped[f.severity][f.rule].append(f)
    out = [rules]
    for sev in sorted(grouped, key=severity_rank, reverse=True):
        total = sum(len(v) for v in grouped[sev].values())
        out.append(f'<h3>{h(sev.capitalize())} <span class="muted">({total})</span></h3>')
        out += [_rule_block(rule_id, items, index, rule_summary(result, rule_id))
                for rule_id, items in sorted(grouped[sev].items())]
    return "".join(out)
