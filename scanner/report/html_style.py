"""The HTML report's stylesheet, inline so the file needs nothing from the network."""

from __future__ import annotations

SEVERITY_COLOURS = {"critical": "#7a0019", "high": "#c62828", "medium": "#b45309", "low": "#1d63a8",
                    "info": "#5f6b7a"}

_SEVERITY_RULES = "\n".join(
    [*(f".sev-{name} {{ --sev: {colour}; }}" for name, colour in SEVERITY_COLOURS.items()),
     ".sev-none { --sev: transparent; }"])

CSS = """
:root { --ink: #1b2430; --muted: #5a6574; --line: #d8dde4; --panel: #f5f7fa; --accent: #1f4e79;
  --sev: #5f6b7a; --ok: #1b7f4b; --warn: #b45309; --bad: #c62828; }
""" + _SEVERITY_RULES + """
* { box-sizing: border-box; }
html { background: #e9edf2; }
body { margin: 0; color: var(--ink); font: 15px/1.5 "Segoe UI", "Helvetica Neue", Arial, "Liberation Sans",
  sans-serif; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
main { max-width: 1120px; margin: 24px auto; background: #fff; padding: 44px 56px 36px;
  box-shadow: 0 1px 3px rgba(20, 30, 45, .12); }
h1 { font-size: 30px; line-height: 1.2; margin: 4px 0 6px; letter-spacing: -.01em; }
h2 { font-size: 21px; margin: 40px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--ink);
  break-after: avoid; }
h3 { font-size: 17px; margin: 26px 0 8px; break-after: avoid; }
h4 { font-size: 15.5px; margin: 0; }
p { margin: 6px 0 10px; }
a { color: var(--accent); }
.kicker { text-transform: uppercase; letter-spacing: .12em; font-size: 12px; color: var(--muted);
  font-weight: 600; }
.subtitle { color: var(--muted); margin: 0 0 22px; font-size: 15.5px; }
.lead { font-size: 16.5px; line-height: 1.55; margin: 4px 0 14px; max-width: 62em; }
.banner { border-left: 5px solid var(--bad); background: #fdecea; padding: 10px 14px; margin: 14px 0; }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin: 18px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; background: var(--panel);
  break-inside: avoid; }
.card .num { font-size: 30px; font-weight: 700; line-height: 1.1; }
.card .lbl { color: var(--muted); font-size: 13px; }
.card.alert { border-top: 4px solid var(--bad); }
.card.calm { border-top: 4px solid var(--ok); }
.card.neutral { border-top: 4px solid var(--accent); }
.sevbar { display: flex; gap: 8px; flex-wrap: wrap; margin: 12px 0 4px; }
.pill { display: inline-block; margin: 1px 0; border-radius: 999px; padding: 2px 11px; font-size: 12.5px;
  font-weight: 700; color: #fff; background: var(--sev); letter-spacing: .02em; white-space: nowrap; }
.pill.zero { background: #fff; color: var(--muted); border: 1px solid var(--line); font-weight: 600; }
.pill.waived { background: #fff; color: var(--muted); border: 1px dashed var(--muted); }
.pill.passed { background: var(--ok); }
input.filter { display: block; margin: 6px 0; padding: 4px 8px; width: 22em; font: inherit; }
th[aria-sort] { text-decoration: underline; }
@media print { input.filter { display: none; } }
.pill.unassessed { background: #fff; color: #8a5a00; border: 1px dashed #b07800; }
.pill.status-active { background: var(--ok); }
.pill.status-expired { background: var(--bad); }
.pill.status-unused { background: var(--warn); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 13.5px; }
th { text-align: left; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
  border-bottom: 2px solid var(--line); padding: 6px 8px; }
td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; overflow-wrap: anywhere; }
tr { break-inside: avoid; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono, code { font-family: "DejaVu Sans Mono", Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
.muted { color: var(--muted); }
td.sevcell { border-left: 4px solid var(--sev); }
table.inventory td:first-child { border-left: 4px solid var(--sev); }
table.inventory td:first-child, table.inventory td:nth-child(4), table.inventory td:nth-child(7),
table.destinations td:nth-child(-n+2) { font-family: "DejaVu Sans Mono", Consolas, "Liberation Mono", monospace;
  font-size: 12.5px; }
table.inventory td:first-child, table.inventory td:nth-child(7), table.destinations td:first-child {
  white-space: nowrap; overflow-wrap: normal; }
table.inventory td:nth-child(6) { text-align: right; font-variant-numeric: tabular-nums; }
dl.meta { display: grid; grid-template-columns: 190px 1fr; gap: 4px 16px; margin: 8px 0; font-size: 14px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.rule { border: 1px solid var(--line); border-left: 6px solid var(--sev); border-radius: 4px;
  padding: 14px 18px 8px; margin: 14px 0 18px; }
.rule-head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; }
.rule-head .count { color: var(--muted); font-size: 13.5px; }
.why { color: #2c3644; margin: 8px 0; }
.legal { font-size: 13.5px; margin: 6px 0 10px; }
.legal ol { margin: 4px 0 0; padding-left: 22px; }
.evidence { margin: 0; padding-left: 16px; font-size: 12px; color: #374151; }
.evidence li { margin: 1px 0; overflow-wrap: anywhere; }
.fid { color: var(--muted); font-size: 11.5px; }
.flow { border: 1px solid var(--line); border-radius: 6px; padding: 12px 8px 4px; background: #fcfcfd;
  break-inside: avoid; }
.flow > svg { width: 100%; height: auto; display: block; }
.legend { display: flex; gap: 6px 22px; flex-wrap: wrap; font-size: 13px; color: var(--muted); margin: 6px 8px; }
.legend span { white-space: nowrap; }
.legend svg { vertical-align: middle; margin-right: 6px; }
.toc { font-size: 13.5px; margin: 10px 0 0; color: var(--muted); }
.nowrap { white-space: nowrap; overflow-wrap: normal; }
footer { margin-top: 40px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted);
  font-size: 12.5px; }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  html { background: #fff; }
  main { margin: 0; padding: 0; box-shadow: none; max-width: none; }
  body { font-size: 10.5pt; }
  .cards { grid-template-columns: repeat(5, 1fr); }
  .legal a::after { content: " (" attr(href) ")"; color: var(--muted); font-size: 9pt; overflow-wrap: anywhere; }
  .toc { display: none; }
  .rule, .flow, .card { break-inside: avoid; }
}
"""
