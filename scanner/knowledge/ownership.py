"""Who operates a network or host, who owns that company, and where the owner is at home.

IP geolocation is not jurisdiction: an EU data centre of a US- or China-parented company is
still reachable by the parent's home law. ``scanner/knowledge/data/ownership.yaml`` holds the curated
company -> ultimate parent -> home country table (with sources); this module queries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.knowledge.yamlfile import load
from scanner.model.text import fold_name


@dataclass(frozen=True)
class Owner:
    company: str
    country: str | None
    parent: str | None
    parent_country: str | None

    def jurisdictions(self) -> list[str]:
        """The company's own country and its ultimate parent's, without duplicates."""
        out: list[str] = []
        for code in (self.country, self.parent_country):
            if code and code not in out:
                out.append(code)
        return out


@dataclass
class Ownership:
    companies: dict[str, dict[str, Any]]
    asns: dict[int, str]
    patterns: list[tuple[re.Pattern[str], str]]
    domains: list[tuple[str, str]]
    aliases: dict[str, str] = field(default_factory=dict)
    _by_name: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    def canonical(self, name: str | None) -> str | None:
        if not name:
            return None
        if name in self.companies:
            return name
        return self.aliases.get(fold_name(name))

    def owner(self, company: str | None, country_hint: str | None = None) -> Owner | None:
        """Company -> ultimate parent -> the parent's home country (following the chain)."""
        name = self.canonical(company)
        if name is None:
            return Owner(company, country_hint, None, None) if company else None
        info = self.companies[name]
        top, seen = name, {name}
        while (parent := self.companies.get(top, {}).get("parent")) and parent in self.companies and parent not in seen:
            seen.add(parent)
            top = parent
        parent_name = top if top != name else None
        parent_country = self.companies[top].get("country") if parent_name else None
        return Owner(name, info.get("country") or country_hint, parent_name, parent_country)

    def by_asn(self, asn: int | None, as_name: str | None = None) -> str | None:
        if asn is not None and asn in self.asns:
            return self.asns[asn]
        return self.by_org_name(as_name)

    def by_org_name(self, name: str | None) -> str | None:
        """The company an AS or network name belongs to (remembered: flows repeat the same few names)."""
        if not name:
            return None
        if name not in self._by_name:
            found = next((company for pattern, company in self.patterns if pattern.search(name)), None)
            self._by_name[name] = found or self.canonical(name)
        return self._by_name[name]

    def by_host(self, host: str | None) -> str | None:
        if not host:
            return None
        host = host.lower().rstrip(".")
        for suffix, company in self.domains:
            if host == suffix or host.endswith("." + suffix):
                return company
        return None


def read_ownership(path: Path) -> Ownership:
    """Read and check ownership.yaml (use ``knowledge.loader.ownership()``)."""
    doc = load(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("companies"), dict):
        raise InputError("ownership data needs a 'companies' mapping", str(path))
    companies = {str(k): dict(v or {}) for k, v in doc["companies"].items()}
    aliases: dict[str, str] = {}
    for name, info in companies.items():
        for alias in [name, *(info.get("aliases") or [])]:
            aliases.setdefault(fold_name(str(alias)), name)
    asns = {int(k): str(v["company"]) for k, v in (doc.get("asns") or {}).items() if isinstance(v, dict)}
    patterns = []
    for item in doc.get("org_patterns") or []:
        try:
            patterns.append((re.compile(item["pattern"], re.IGNORECASE), str(item["company"])))
        except (re.error, KeyError, TypeError) as exc:
            raise InputError(f"bad org_patterns entry {item!r}: {exc}", str(path)) from None
    domains = sorted(((str(d["suffix"]).lower(), str(d["company"])) for d in doc.get("domains") or []),
                     key=lambda pair: -len(pair[0]))
    for _, company in [*domains, *((None, c) for c in asns.values())]:
        if company not in companies:
            raise InputError(f"ownership data refers to unknown company {company!r}", str(path))
    return Ownership(companies, asns, patterns, domains, aliases)
