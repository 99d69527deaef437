"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

Code scanning is file-centric and a device is not a file, so every result points at the policy
file that makes it a finding (when it was given as a repository-relative path) or at the
placeholder ``cityscan-inventory``, names the device as a logical location, and carries the
finding's stable id as its fingerprint, so alerts follow devices across runs instead of lines.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from scanner.model import Finding, Reference, ScanResult, severity_rank
from scanner.model.text import terminal_safe
from scanner.report.common import (
    device_index,
    device_label,
    rule_summary,
    waiver_text,
    web_url,
    xml_legal,
)
from scanner.report.markdown_report import md, md_url

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/cityscan/cityscan"
INVENTORY_URI = "cityscan-inventory"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
MAX_DESCRIPTION = 1000  # GitHub rejects descriptions over 1024 characters
_LINK_CHARS = re.compile(r"([\\\[\]])")


def plain(text: object, limit: int = 4000) -> str:
    """Plain SARIF message text: visible control characters, and ``\\ [ ]`` escaped so that a
    device string cannot form one of SARIF's embedded links (spec 3.11.6)."""
    return _LINK_CHARS.sub(r"\\\1", xml_legal(terminal_safe(text, limit, keep_newlines=True)))


def artifact_uri(result: ScanResult) -> str:
    """The policy file when it is a relative path (inside the repository), else the placeholder."""
    files = (result.scan.policy or {}).get("files") or []
    first = str(files[0]) if files else ""
    if not first or PurePosixPath(first).is_absolute() or PureWindowsPath(first).is_absolute() or ".." in first:
        return INVENTORY_URI
    return quote(first.replace("\\", "/").removeprefix("./"), safe="/-._~")


def _references(findings: list[Finding]) -> list[Reference]:
    seen: dict[str, Reference] = {}
    for f in findings:
        for ref in f.references:
            seen.setdefault(ref.url, ref)
    return list(seen.values())


def _rule(result: ScanResult, rule_id: str, findings: list[Finding]) -> dict[str, Any]:
    worst = max((f.severity for f in findings), key=severity_rank)
    refs = _references(findings)
    summary = rule_summary(result, rule_id) or findings[0].title
    text = plain(summary) + ("\n\nLegal references:\n" + "\n".join(f"- {plain(r.title)}: {plain(r.url)}" for r in refs)
                             if refs else "")
    markdown = md(summary, 4000) + ("\n\n**Legal references**\n\n" + "\n".join(
        f"- [{md(r.title)}]({md_url(r.url)})" if md_url(r.url) else f"- {md(r.title)}" for r in refs) if refs else "")
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": plain(findings[0].title, MAX_DESCRIPTION)},
        "fullDescription": {"text": plain(summary, MAX_DESCRIPTION)},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL.get(worst, "warning")},
        "properties": {"tags": ["security", "compliance", "cityscan"],
                       "security-severity": SECURITY_SEVERITY.get(worst, "5.5")},
    }
    first_url = next((web_url(r.url) for r in refs if web_url(r.url)), None)
    if first_url:
        rule["helpUri"] = first_url
    return rule


def _result(f: Finding, rule_index: int, uri: str, label: str, occurrence: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": LEVEL.get(f.severity, "warning"),
        "message": {"text": plain(f.message)},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": 1}},
            "logicalLocations": [{"name": plain(f.device_ip or "network", 200),
                                  "fullyQualifiedName": plain(label, 300), "kind": "resource"}],
        }],
        # cityscan/v1 is ours; primaryLocationLineHash is the one GitHub de-duplicates alerts by, and
        # every result shares one line, so it carries the finding id plus, as GitHub's own ":n" does,
        # the occurrence number (two findings can share an id, e.g. Telnet and HTTP on one device).
        "partialFingerprints": {"cityscan/v1": f.id, "primaryLocationLineHash": f"{f.id}:{occurrence}"},
        "properties": {"severity": f.severity, "device": plain(label, 300),
                       "evidence": [plain(f"{e.source}: {e.detail}", 1000) for e in f.evidence]},
    }
    if f.destination:
        out["properties"]["destination"] = {k: plain(v, 300) for k, v in f.destination.items()
                                            if v is not None and not isinstance(v, list)}
    if f.waived:
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": plain(waiver_text(f))}]
    return out


def _occurrences(findings: list[Finding]) -> list[int]:
    """1 for the first finding with an id, 2 for the second... (findings come sorted, so this is stable)."""
    seen: dict[str, int] = {}
    out = []
    for f in findings:
        seen[f.id] = seen.get(f.id, 0) + 1
        out.append(seen[f.id])
    return out


def build(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as a dict (tests validate it against the official schema)."""
    by_rule: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule, []).append(f)
    rule_ids = sorted(by_rule)
    rules = [_rule(result, rule_id, by_rule[rule_id]) for rule_id in rule_ids]
    uri = artifact_uri(result)
    index = device_index(result)
    version = result.tool.get("version") or "unknown"
    invocation: dict[str, Any] = {
        "executionSuccessful": not result.scan.partial,
        "toolExecutionNotifications": [
            {"level": "error", "message": {"text": plain(f"[{e.stage}] {e.target or '-'}: {e.message}")}}
            for e in result.errors],
    }
    if result.scan.started_at:
        invocation["startTimeUtc"] = result.scan.started_at
    if result.scan.finished_at:
        invocation["endTimeUtc"] = result.scan.finished_at
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "cityscan", "version": version, "semanticVersion": version,
                                "informationUri": INFORMATION_URI, "rules": rules}},
            "invocations": [invocation],
            "results": [_result(f, rule_ids.index(f.rule), uri, device_label(index, f.device_ip), occurrence)
                        for f, occurrence in zip(result.findings, _occurrences(result.findings))],
            "properties": {"policy": {k: (result.scan.policy or {}).get(k) for k in ("name", "sha256")},
                           "targets": result.scan.targets, "offline": result.scan.offline},
        }],
    }


def render(result: ScanResult) -> str:
    return json.dumps(build(result), indent=2, ensure_ascii=True) + "\n"
