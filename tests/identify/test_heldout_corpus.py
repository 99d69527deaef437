"""Identification measured on real strings the fingerprints were not written from.

tests/data/identify_corpus.yaml and tests/data/corpus/*.yaml hold real responses (recog, nmap's
probes and MAC list, the IEEE registry, client libraries' fixtures, manuals), each with its source
and never a fingerprint entry's own example. A wrong vendor is never acceptable; unknown is.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import DATA

from scanner.identify import identify_device
from scanner.knowledge.loader import default_db
from scanner.model import Device, Observation

CORPORA = [DATA / "identify_corpus.yaml", *sorted((DATA / "corpus").glob("*.yaml"))]
CASES: list[dict[str, Any]] = [c for path in CORPORA for c in yaml.safe_load(path.read_text()) or []]


def _vendor(case: dict[str, Any]) -> str | None:
    return identify_device(Device("192.0.2.1", observations=[Observation(case["field"], str(case["value"]), "corpus")]),
                           default_db()).vendor


def test_every_case_names_its_source() -> None:
    assert len(CASES) >= 200
    assert all(c.get("source") and "expect" in c for c in CASES)
    examples = {e.value for entry in default_db().entries for e in entry.examples}
    reused = [c["value"] for c in CASES if str(c["value"]) in examples and c["field"] not in ("mac.oui_org",
                                                                                               "nmap.mac_vendor")]
    assert len(reused) <= 25, reused  # closed lists (registry names) aside, held-out means not an example


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['field']}:{str(c['value'])[:40]}")
def test_never_a_wrong_vendor(case: dict[str, Any]) -> None:
    got = _vendor(case)
    assert got is None or got == case["expect"].get("vendor")


def test_vendor_recall_is_at_least_95_percent() -> None:
    positives = [c for c in CASES if c["expect"].get("vendor")]
    hits = sum(1 for c in positives if _vendor(c) == c["expect"]["vendor"])
    assert hits / len(positives) >= 0.95, f"{hits}/{len(positives)}"
