"""CSV for auditors' spreadsheets: findings, devices or destinations, one row each.

Quoting follows RFC 4180 (the ``csv`` module, CRLF line ends). A cell that a spreadsheet would
run as a formula (it starts with ``= + - @``, tab or CR: OWASP "CSV Injection") gets a leading
apostrophe; nothing else in a device's strings is changed, so the file stays evidence.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from typing import Any

from scanner.model import ScanResult
from scanner.model.text import utf8_safe
from scanner.report.common import device_index, device_name

KINDS: tuple[str, ...] = ("findings", "devices", "destinations")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FINDING_COLUMNS = ["id", "severity", "rule", "title", "device_ip", "device", "message", "destination_host",
                   "destination_ip", "destination_port", "destination_country", "destination_company",
                   "waived", "waiver_justification", "waiver_approver", "waiver_expires", "waiver_ticket",
                   "evidence", "references"]
DEVICE_COLUMNS = ["ip", "mac", "hostname", "vendor", "model", "firmware", "device_class", "capabilities",
                  "services", "mac_vendor", "confidence", "open_findings"]
DESTINATION_COLUMNS = ["device_ip", "host", "ip", "port", "transport", "asn", "network_owner", "company",
                       "parent_company", "country", "jurisdictions", "sources"]


def cell(value: Any) -> str:
    """A value as spreadsheet-inert text: ``None`` empty, formulas defused by a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = utf8_safe(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _finding_rows(result: ScanResult) -> Iterable[list[Any]]:
    index = device_index(result)
    for f in result.findings:
        dest = f.destination or {}
        waiver = f.waiver or {}
        device = device_name(index.get(f.device_ip)) if f.device_ip else None
        yield [f.id, f.severity, f.rule, f.title, f.device_ip, device,
               f.message, dest.get("host"), dest.get("ip"), dest.get("port"), dest.get("country"),
               dest.get("company"), f.waived, waiver.get("justification"), waiver.get("approver"),
               waiver.get("expires"), waiver.get("ticket"),
               "\n".join(f"{e.source}: {e.detail}" for e in f.evidence),
               "\n".join(f"{r.title} <{r.url}>" for r in f.references)]


def _device_rows(result: ScanResult) -> Iterable[list[Any]]:
    open_by_ip = Counter(f.device_ip for f in result.findings if not f.waived)
    for d in result.devices:
        services = " ".join(f"{s.port}/{s.transport}" + (f"({s.name})" if s.name else "") for s in d.services)
        yield [d.ip, d.mac, d.hostname, d.vendor, d.model, d.firmware, d.device_class, " ".join(d.capabilities),
               services, d.mac_vendor, d.confidence, open_by_ip[d.ip]]


def _destination_rows(result: ScanResult) -> Iterable[list[Any]]:
    for d in result.destinations:
        yield [d.device_ip, d.host, d.ip, d.port, d.transport, d.asn, d.network_owner, d.company,
               d.parent_company, d.country, " ".join(d.jurisdictions), " ".join(d.sources)]


def render_kind(result: ScanResult, kind: str = "findings") -> str:
    """The CSV table ``kind`` (findings, devices or destinations) with a header row."""
    tables = {"findings": (FINDING_COLUMNS, _finding_rows), "devices": (DEVICE_COLUMNS, _device_rows),
              "destinations": (DESTINATION_COLUMNS, _destination_rows)}
    if kind not in tables:
        raise ValueError(f"unknown CSV kind {kind!r} (known: {', '.join(KINDS)})")
    columns, rows = tables[kind]
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows(result):
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def render(result: ScanResult) -> str:
    """The findings table, the one auditors ask for first."""
    return render_kind(result, "findings")
