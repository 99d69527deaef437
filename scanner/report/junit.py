"""JUnit XML for CI test widgets (GitLab, Jenkins): one test case per rule x device.

GitLab keys a test by classname + name, so each (rule, device) pair is one test case holding all
its findings: ``<failure>`` when an unwaived one is at or above ``--fail-on``, ``<skipped>`` when
all are waived, a pass otherwise (findings below the threshold described in ``<system-out>``).
Scan errors are ``<error>`` cases. Device text is made XML-legal: xml.etree escapes markup but
would write control characters that no XML parser accepts.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import defaultdict

from scanner.model import Finding, ScanError, ScanResult, at_or_above
from scanner.model.text import terminal_safe
from scanner.report.common import (
    device_index,
    device_label,
    evaluated_rules,
    policy_name,
    rule_status,
    waiver_text,
    xml_legal,
)

ERRORS_CLASS = "cityscan.scan-errors"


def text(value: object, limit: int = 20000, newlines: bool = True) -> str:
    """Device-supplied text fit for XML and for the terminal a CI log is read in."""
    return xml_legal(terminal_safe(value, limit, keep_newlines=newlines))


def attr(value: object, limit: int = 500) -> str:
    return text(value, limit, newlines=False)


def _describe(f: Finding) -> str:
    lines = [f"[{f.severity.upper()}] {f.message}" + (f" (waived: {waiver_text(f)})" if f.waived else "")]
    lines += [f"  evidence: {e.source}: {e.detail}" for e in f.evidence]
    lines += [f"  legal basis: {r.title} <{r.url}>" for r in f.references]
    lines.append(f"  finding id: {f.id}")
    return text("\n".join(lines))


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", {"classname": attr(classname), "name": attr(name), "time": "0"})


def _judge(case: ET.Element, findings: list[Finding], fail_on: str, unassessed: str | None = None) -> str:
    """Fill one test case; return its outcome (passed, failure or skipped). A rule the scan could not
    assess skips its cases without findings: a CI system must not count them as passed."""
    failing = [f for f in findings if not f.waived and at_or_above(f.severity, fail_on)]
    if failing:
        head = f"{len(failing)} finding(s) at or above {fail_on}: {failing[0].message}"
        node = ET.SubElement(case, "failure", {"type": failing[0].severity, "message": attr(head)})
        node.text = "\n\n".join(_describe(f) for f in findings)
        return "failure"
    if findings and all(f.waived for f in findings):
        ET.SubElement(case, "skipped", {"message": attr("waived: " + "; ".join(waiver_text(f) for f in findings))})
        return "skipped"
    if not findings and unassessed is not None:
        ET.SubElement(case, "skipped", {"message": attr(f"not assessable: {unassessed}")})
        return "skipped"
    if findings:
        out = ET.SubElement(case, "system-out")
        out.text = (f"Below the --fail-on {fail_on} threshold or waived:\n\n"
                    + "\n\n".join(_describe(f) for f in findings))
    return "passed"


def _errors_suite(parent: ET.Element, errors: list[ScanError], stamp: str) -> None:
    grouped: dict[tuple[str, str], list[ScanError]] = defaultdict(list)
    for e in errors:
        grouped[(e.target or "scan", e.stage)].append(e)
    suite = ET.SubElement(parent, "testsuite", {"name": ERRORS_CLASS, "tests": str(len(grouped)), "failures": "0",
                                                "errors": str(len(grouped)), "skipped": "0", "time": "0",
                                                "timestamp": stamp})
    for (target, stage), items in grouped.items():
        case = _case(suite, ERRORS_CLASS, f"{target} ({stage})")
        node = ET.SubElement(case, "error", {"type": attr(stage), "message": attr(items[0].message)})
        node.text = text("\n".join(e.message for e in items))


def _duration(result: ScanResult) -> str:
    try:
        start = dt.datetime.fromisoformat(result.scan.started_at)
        end = dt.datetime.fromisoformat(result.scan.finished_at or "")
    except ValueError:
        return "0"
    return f"{max((end - start).total_seconds(), 0.0):.3f}"


def render_junit(result: ScanResult, fail_on: str = "high") -> str:
    """The JUnit report; ``fail_on`` is the CLI's --fail-on (a severity, or ``none``)."""
    index = device_index(result)
    by_pair: dict[tuple[str, str | None], list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_pair[(f.rule, f.device_ip)].append(f)
    ips: list[str | None] = list(index)
    ips += sorted({f.device_ip for f in result.findings if f.device_ip not in index}, key=lambda ip: ip or "")
    stamp = attr(result.scan.started_at or "")
    root = ET.Element("testsuites", {"name": attr(f"cityscan: {policy_name(result)}"), "time": _duration(result)})
    totals = {"tests": 0, "failure": 0, "skipped": 0}
    for rule_id in evaluated_rules(result):
        suite = ET.SubElement(root, "testsuite", {"name": attr(f"cityscan.{rule_id}"), "timestamp": stamp})
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "fail_on", "value": attr(fail_on)})
        ET.SubElement(props, "property", {"name": "policy", "value": attr(policy_name(result))})
        verdict, reason = rule_status(result, rule_id)
        ET.SubElement(props, "property", {"name": "verdict", "value": attr(verdict)})
        ET.SubElement(props, "property", {"name": "reason", "value": attr(reason)})
        unassessed = reason if verdict == "not-assessable" else None
        counts = {"tests": 0, "failure": 0, "skipped": 0}
        for ip in ips:
            findings = by_pair.get((rule_id, ip), [])
            if ip is None and not findings:
                continue
            outcome = _judge(_case(suite, f"cityscan.{rule_id}", device_label(index, ip)), findings, fail_on,
                             unassessed)
            counts["tests"] += 1
            counts[outcome] = counts.get(outcome, 0) + 1
        suite.attrib.update({"tests": str(counts["tests"]), "failures": str(counts["failure"]), "errors": "0",
                             "skipped": str(counts["skipped"]), "time": "0"})
        for key in totals:
            totals[key] += counts[key]
    if result.errors:
        _errors_suite(root, result.errors, stamp)
    errors = len({(e.target or "scan", e.stage) for e in result.errors})
    root.attrib.update({"tests": str(totals["tests"] + errors), "failures": str(totals["failure"]),
                        "errors": str(errors), "skipped": str(totals["skipped"])})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(result: ScanResult) -> str:
    return render_junit(result)
