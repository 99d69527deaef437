"""Country lists, foreign laws and the legal references of rules, from ``scanner/knowledge/data``.

Which countries are in the EEA, which have an adequacy decision, and which laws reach data a
company holds abroad are facts with sources, kept in YAML beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.knowledge.yamlfile import load
from scanner.model import Reference


@dataclass
class Law:
    id: str
    country: str
    title: str
    url: str | None = None


@dataclass
class Jurisdiction:
    eea: frozenset[str]
    adequacy: dict[str, dict[str, Any]]
    names: dict[str, str]
    laws: dict[str, Law]
    references: dict[str, list[Reference]] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)

    def in_eea(self, country: str | None) -> bool:
        return country is not None and country.upper() in self.eea

    def adequate(self, country: str | None, full_only: bool = False) -> bool:
        """An adequacy decision covers ``country``. With ``full_only``, decisions that cover only
        certified recipients (US: Data Privacy Framework members, which a scan cannot see) do not count."""
        decision = self.adequacy.get((country or "").upper())
        return decision is not None and not (full_only and decision.get("requires_certification"))

    def name(self, country: str | None) -> str:
        if not country:
            return "an unknown country"
        return self.names.get(country.upper(), country.upper())

    def law(self, law_id: str) -> Law | None:
        return self.laws.get(law_id)


def _list(doc: Any, key: str, path: Path) -> list[Any]:
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, list):
        raise InputError(f"data file needs a list under {key!r}", str(path))
    return value


def read_jurisdiction(root: Path, countries_file: Path | None = None) -> Jurisdiction:
    """Read countries.yaml (or ``countries_file``: an updated copy), laws.yaml and references.yaml
    of ``root`` (use ``knowledge.loader``)."""
    countries_path = countries_file or root / "countries.yaml"
    countries = load(countries_path)
    eea_doc = countries.get("eea") if isinstance(countries, dict) else None
    eea_codes = eea_doc.get("codes") if isinstance(eea_doc, dict) else eea_doc
    if not isinstance(eea_codes, list):
        raise InputError("data file needs the EEA country list under 'eea'", str(countries_path))
    eea = frozenset(str(c).upper() for c in eea_codes)
    adequacy: dict[str, dict[str, Any]] = {}
    for item in _list(countries, "adequacy", countries_path):
        if isinstance(item, dict) and item.get("country"):
            adequacy[str(item["country"]).upper()] = dict(item)
    names = {str(k).upper(): str(v) for k, v in (countries.get("names") or {}).items()}
    laws_doc = load(root / "laws.yaml")
    raw_laws = laws_doc.get("laws") if isinstance(laws_doc, dict) else laws_doc
    laws: dict[str, Law] = {}
    for item in raw_laws or []:
        if isinstance(item, dict) and item.get("id") and item.get("country"):
            laws[str(item["id"])] = Law(str(item["id"]), str(item["country"]).upper(),
                                        str(item.get("title") or item["id"]), item.get("url"))
    refs_doc = load(root / "references.yaml")
    references: dict[str, list[Reference]] = {}
    summaries: dict[str, str] = {}
    for rule_id, value in ((refs_doc or {}).get("rules") or {}).items():
        items = value.get("references") if isinstance(value, dict) else value
        if isinstance(value, dict) and value.get("summary"):
            summaries[str(rule_id)] = str(value["summary"])
        references[str(rule_id)] = [Reference(str(r["title"]), str(r["url"])) for r in items or []
                                    if isinstance(r, dict) and r.get("title") and r.get("url")]
    return Jurisdiction(eea, adequacy, names, laws, references, summaries)
