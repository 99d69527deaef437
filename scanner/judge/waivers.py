"""Waivers: accepted findings with a justification, an approver and an expiry date.

A waived finding stays in every report, marked waived. An expired waiver stops waiving and is
reported, and so is a waiver that matches nothing (it is stale and hides nothing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.judge.rules import RULES
from scanner.knowledge import validate as v
from scanner.knowledge.yamlfile import line_of, load
from scanner.model import Finding

WAIVER_KEYS = ("rule", "device", "justification", "approver", "expires", "ticket")


@dataclass
class Waiver:
    rule: str
    device: str
    justification: str
    approver: str
    expires: dt.date
    ticket: str | None
    file: str
    line: int | None

    def matches(self, finding: Finding, mac: str | None) -> bool:
        if self.rule not in ("*", finding.rule):
            return False
        who = self.device.lower()
        return who in {(finding.device_ip or "").lower(), (mac or "").lower(), finding.id}

    def to_dict(self, status: str, matched: int) -> dict[str, Any]:
        return {"rule": self.rule, "device": self.device, "justification": self.justification,
                "approver": self.approver, "expires": self.expires.isoformat(), "ticket": self.ticket,
                "source": f"{self.file}:{self.line}" if self.line else self.file,
                "status": status, "matched": matched}


def load_waivers(path: str | Path) -> list[Waiver]:
    name = str(path)
    doc = load(path)
    items = doc.get("waivers") if isinstance(doc, dict) else doc
    if isinstance(doc, dict):
        v.check_keys(doc, ("waivers",), "waivers file")
    if items is None:
        return []
    if not isinstance(items, list):
        raise InputError("a waivers file must hold a list under 'waivers:'", name, line_of(doc) or 1)
    out = []
    for index, raw in enumerate(items):
        item = v.mapping(raw, items, index, "waiver")
        v.check_keys(item, WAIVER_KEYS, "waiver", required=("rule", "device", "justification", "approver", "expires"))
        rule_id = v.typed(item, "rule", str, "waiver")
        if rule_id != "*" and rule_id not in RULES:
            raise v.fail(item, "rule", f"waiver for unknown rule {rule_id!r}")
        expires = item["expires"]
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise v.fail(item, "expires", f"waiver.expires {expires!r} is not a date (YYYY-MM-DD)") from None
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        if not isinstance(expires, dt.date):
            raise v.fail(item, "expires", "waiver.expires must be a date (YYYY-MM-DD)")
        for key in ("justification", "approver"):
            if not str(item.get(key) or "").strip():
                raise v.fail(item, key, f"waiver.{key} must not be empty")
        out.append(Waiver(rule=rule_id, device=str(v.typed(item, "device", (str, int), "waiver")),
                          justification=str(item["justification"]).strip(),
                          approver=str(item["approver"]).strip(), expires=expires,
                          ticket=v.typed(item, "ticket", str, "waiver"), file=name, line=line_of(items, index)))
    return out


def apply_waivers(findings: list[Finding], macs: dict[str, str | None], waivers: list[Waiver],
                  today: dt.date | None = None) -> list[dict[str, Any]]:
    """Mark the judge's new findings waived; return every waiver with its status (active, expired,
    unused). ``macs`` maps device IPs to MACs, since a waiver may name a device by its MAC."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    report = []
    for waiver in waivers:
        matched = [f for f in findings if waiver.matches(f, macs.get(f.device_ip or ""))]
        expired = waiver.expires < today
        if not expired:
            for found in matched:
                if not found.waived:
                    found.waived = True
                    found.waiver = waiver.to_dict("active", len(matched))
        status = "expired" if expired else ("active" if matched else "unused")
        report.append(waiver.to_dict(status, len(matched)))
    return report
