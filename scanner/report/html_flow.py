"""Inline SVG of where device data goes: devices -> companies -> countries.

A solid line from a company to a country means its server is located there; a dashed red line
means the law of that country reaches the company (through its seat or its parent), which is
the point an auditor has to explain: an EU data centre of a foreign-owned company is not only
under EU law.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from scanner.model import Destination, Device, ScanResult
from scanner.report.common import country_kind, country_name, device_name
from scanner.report.html_text import h

WIDTH = 1000
ROW = 56
NODE_H = 42
TOP = 34
COLUMNS = {"device": (10, 215), "company": (320, 380), "country": (795, 195)}
MAX_DEVICES = 40     # more devices than this are drawn as groups (vendor and class)
MAX_COMPANIES = 30   # more operators than this: the rest are one node, with their count
UNKNOWN = "?"
# kind -> fill, stroke, legend text, text inside the node
KIND_STYLE = {"eea": ("#e7f4ec", "#1b7f4b", "EU / EEA", "EU / EEA"),
              "adequate": ("#e8f0fb", "#1d63a8", "EU adequacy decision", "adequacy decision"),
              "partial": ("#fff4e0", "#b45309", "adequacy for certified recipients only", "certified recipients only"),
              "outside": ("#fdecea", "#c62828", "outside the EEA, no adequacy decision", "no adequacy decision"),
              "unknown": ("#f1f3f5", "#6b7280", "location unknown", "")}


@dataclass
class Node:
    key: str
    title: str
    subtitle: str
    fill: str = "#f4f6f9"
    stroke: str = "#8a96a8"
    links: set[str] = field(default_factory=set)
    y: float = 0.0


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _group_of(device: Device | None) -> str:
    if device is None:
        return "Not in the inventory"
    return f"{device.vendor or 'Unidentified'} {device.device_class}"


def _plan(result: ScanResult) -> tuple[bool, dict[str, int], set[str]]:
    """Whether devices are grouped, the group sizes, and the operators drawn one by one."""
    devices = {d.ip: d for d in result.devices}
    sending = list(dict.fromkeys(d.device_ip for d in result.destinations))
    grouped = len(sending) > MAX_DEVICES
    sizes: dict[str, int] = defaultdict(int)
    for ip in sending:
        sizes[_group_of(devices.get(ip))] += 1
    weight: dict[str, int] = defaultdict(int)
    for d in result.destinations:
        weight[_company(d)] += 1
    keep = set(sorted(weight, key=lambda c: (-weight[c], c))[:MAX_COMPANIES - 1]) if len(weight) > MAX_COMPANIES \
        else set(weight)
    return grouped, dict(sizes), keep


def _company(d: Destination) -> str:
    return d.company or d.network_owner or "Unknown operator"


def flow_note(result: ScanResult) -> str:
    """What the picture leaves out or folds together, said in words (empty when it shows everything)."""
    grouped, sizes, keep = _plan(result)
    operators = {_company(d) for d in result.destinations}
    notes = []
    if grouped:
        notes.append(f"The {sum(sizes.values())} devices that send data are drawn as {len(sizes)} groups of the same "
                     "vendor and class; the table below lists every device.")
    if len(operators) > len(keep):
        notes.append(f"The {len(operators) - len(keep)} operators with the fewest connections are drawn as one node; "
                     "the table lists them all.")
    return " ".join(notes)


def _build(result: ScanResult, dests: list[Destination], devices: dict[str, Device]) -> tuple[list[Node], list[Node], list[Node], dict[tuple[str, str], int], dict[tuple[str, str], str]]:
    grouped, sizes, keep = _plan(result)
    others = len({_company(d) for d in dests} - keep)
    dev_nodes: dict[str, Node] = {}
    comp_nodes: dict[str, Node] = {}
    country_nodes: dict[str, Node] = {}
    dev_edges: dict[tuple[str, str], int] = defaultdict(int)
    law_edges: dict[tuple[str, str], str] = {}
    for d in dests:
        device = devices.get(d.device_ip)
        if grouped:
            key = _group_of(device)
            count = sizes.get(key, 0)
            dev_nodes.setdefault(key, Node(key, key, f"{count} device{'s' if count != 1 else ''}"))
        else:
            key = d.device_ip
            dev_nodes.setdefault(key, Node(key, key, device_name(device)))
        company = _company(d)
        if company not in keep:
            company = f"{others} more operators"
            comp_nodes.setdefault(company, Node(company, company, "see the table"))
        parent = d.parent_company if d.parent_company and d.parent_company != company else ""
        comp_nodes.setdefault(company, Node(company, company, f"part of {parent}" if parent else (
            "operator not identified" if company == "Unknown operator" else "")))
        dev_edges[(key, company)] += 1
        located = d.country.upper() if d.country else UNKNOWN
        targets = {located: "located"}
        for code in d.jurisdictions:
            targets.setdefault(code.upper(), "law")
        if located == UNKNOWN and len(targets) > 1:
            del targets[UNKNOWN]
        for code, how in targets.items():
            if law_edges.get((company, code)) != "located":
                law_edges[(company, code)] = how
            if code not in country_nodes:
                kind = country_kind(result, code)
                fill, stroke, _, note = KIND_STYLE[kind]
                name = "Unknown location" if code == UNKNOWN else f"{country_name(result, code)} ({code})"
                country_nodes[code] = Node(code, name, note, fill, stroke)
    return list(dev_nodes.values()), list(comp_nodes.values()), list(country_nodes.values()), dev_edges, law_edges


def _place(nodes: list[Node], height: float) -> None:
    offset = TOP + (height - TOP - len(nodes) * ROW) / 2
    for i, node in enumerate(nodes):
        node.y = offset + i * ROW + (ROW - NODE_H) / 2


def _order(nodes: list[Node], left: dict[str, float], edges: list[tuple[str, str]]) -> list[Node]:
    """Barycentre order: each node near the mean height of what links to it, so lines cross less."""
    seen: dict[str, list[float]] = defaultdict(list)
    for a, b in edges:
        if a in left:
            seen[b].append(left[a])
    return sorted(nodes, key=lambda n: (sum(seen[n.key]) / len(seen[n.key]) if seen[n.key] else 1e9, n.title))


def _node_svg(node: Node, column: str, limit: int) -> str:
    x, width = COLUMNS[column]
    sub = (f'<text x="{x + 12}" y="{node.y + 33:.1f}" class="ns">{h(_short(node.subtitle, limit + 4))}</text>'
           if node.subtitle else "")
    title_y = node.y + (19 if node.subtitle else 26)
    return (f'<g><title>{h(node.title)}{" — " + h(node.subtitle) if node.subtitle else ""}</title>'
            f'<rect x="{x}" y="{node.y:.1f}" width="{width}" height="{NODE_H}" rx="6" fill="{node.fill}" '
            f'stroke="{node.stroke}" stroke-width="1.2"/>'
            f'<text x="{x + 12}" y="{title_y:.1f}" class="nt">{h(_short(node.title, limit))}</text>'
            f"{sub}</g>")


def _curve(x1: float, y1: float, x2: float, y2: float, style: str) -> str:
    mid = (x1 + x2) / 2
    return f'<path d="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" {style}/>'


def kinds_used(result: ScanResult) -> list[str]:
    """The country kinds the picture shows, for its legend."""
    codes = {c.upper() for d in result.destinations for c in d.jurisdictions}
    codes |= {(d.country or UNKNOWN).upper() for d in result.destinations if d.country or not d.jurisdictions}
    return [k for k in KIND_STYLE if k in {country_kind(result, c) for c in codes}]


def render_flow(result: ScanResult) -> str:
    """The SVG (empty string when the result has no destinations)."""
    devices = {d.ip: d for d in result.devices}
    dests = list(result.destinations)
    if not dests:
        return ""
    dev_nodes, comp_nodes, country_nodes, dev_edges, law_edges = _build(result, dests, devices)
    rows = max(len(dev_nodes), len(comp_nodes), len(country_nodes))
    height = TOP + rows * ROW + 8
    _place(dev_nodes, height)
    comp_nodes = _order(comp_nodes, {n.key: n.y for n in dev_nodes}, list(dev_edges))
    _place(comp_nodes, height)
    country_nodes = _order(country_nodes, {n.key: n.y for n in comp_nodes}, list(law_edges))
    _place(country_nodes, height)
    ys = {("device", n.key): n.y + NODE_H / 2 for n in dev_nodes}
    ys.update({("company", n.key): n.y + NODE_H / 2 for n in comp_nodes})
    ys.update({("country", n.key): n.y + NODE_H / 2 for n in country_nodes})
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
             f'aria-label="Where device data goes: devices, companies, countries">',
             "<style>.nt{font:600 13px 'Segoe UI',Arial,'Liberation Sans',sans-serif;fill:#1b2430}"
             ".ns{font:11.5px 'Segoe UI',Arial,'Liberation Sans',sans-serif;fill:#5a6574}"
             ".hd{font:600 11.5px 'Segoe UI',Arial,'Liberation Sans',sans-serif;fill:#5a6574;letter-spacing:.08em}"
             "</style>"]
    for column, label in (("device", "DEVICE"), ("company", "COMPANY OPERATING THE SERVER"),
                          ("country", "COUNTRY")):
        parts.append(f'<text x="{COLUMNS[column][0] + 2}" y="16" class="hd">{label}</text>')
    dx, dw = COLUMNS["device"]
    cx, cw = COLUMNS["company"]
    kx, _ = COLUMNS["country"]
    for (ip, company), count in dev_edges.items():
        width = 1.4 + min(count, 4) * 0.6  # thicker for more connections
        parts.append(_curve(dx + dw, ys[("device", ip)], cx, ys[("company", company)],
                            f'fill="none" stroke="#7b8aa0" stroke-opacity=".75" stroke-width="{width:.1f}"'))
    for (company, code), how in law_edges.items():
        style = ('fill="none" stroke="#556274" stroke-width="1.8"' if how == "located" else
                 'fill="none" stroke="#c62828" stroke-width="1.8" stroke-dasharray="6 4"')
        parts.append(_curve(cx + cw, ys[("company", company)], kx, ys[("country", code)], style))
    parts += [_node_svg(n, "device", 30) for n in dev_nodes]
    parts += [_node_svg(n, "company", 52) for n in comp_nodes]
    parts += [_node_svg(n, "country", 26) for n in country_nodes]
    parts.append("</svg>")
    return "".join(parts)
