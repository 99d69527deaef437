from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.identify.selftest import check_db, check_entry
from scanner.knowledge.fingerprints import load_db
from scanner.knowledge.loader import default_db

DB = default_db()


def test_database_has_the_promised_coverage() -> None:
    vendors = {e.conclude.get("vendor") for e in DB.entries} - {None}
    assert len(DB.entries) >= 40 and len(vendors) >= 20
    assert {"Hikvision", "Dahua", "Huawei", "ZTE", "Hytera"} <= vendors


@pytest.mark.parametrize("entry", DB.entries, ids=lambda e: e.id)
def test_every_example_matches_with_its_captures(entry) -> None:  # type: ignore[no-untyped-def]
    assert entry.examples
    assert all(ex.source.startswith(("http://", "https://", "/usr/share/nmap")) or ex.source for ex in entry.examples)
    assert check_entry(entry) == []


def test_no_collisions_or_shadowed_patterns() -> None:
    assert [str(p) for p in check_db(DB)] == []


def test_a_broken_example_is_caught(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(
        "vendor: {name: X}\nentries:\n  - id: x-server\n    match: {field: http.server, pattern: '^X-(?P<firmware>\\d+)'}\n"
        "    conclude: {vendor: X, firmware: '{firmware}'}\n    examples:\n"
        "      - {value: X-12, source: 'https://example.org', captures: {firmware: '13'}}\n")
    problems = check_db(load_db(tmp_path))
    assert len(problems) == 1 and "capture firmware is '12', expected '13'" in str(problems[0])
    assert str(problems[0]).startswith(f"{tmp_path / 'x.yaml'}:7:")


@pytest.mark.parametrize(("text", "line", "message"), [
    ("vendor: {name: X}\nentries:\n  - id: a\n    match: {field: http.sever, pattern: x}\n    conclude: {vendor: X}\n"
     "    examples: [{value: x, source: s}]\n", 4, "must be one of"),
    ("vendor: {name: X}\nentries:\n  - id: a\n    match: {field: http.server, pattern: '(unclosed'}\n"
     "    conclude: {vendor: X}\n    examples: [{value: x, source: s}]\n", 4, "pattern does not compile"),
    ("vendor: {name: X}\nentries:\n  - id: a\n    match: {field: http.server, pattern: x}\n    conclude: {vendor: Y}\n"
     "    examples: [{value: x, source: s}]\n", 3, "concludes vendor 'Y', which no fingerprint file defines"),
    ("vendor: {name: X}\nentries:\n  - id: a\n    match: {field: http.server, pattern: x}\n"
     "    conclude: {vendor: X, model: '{model}'}\n    examples: [{value: x, source: s}]\n", 5, "not a named capture"),
    ("vendor: {name: X}\nentries:\n  - id: a\n    match: {field: http.server, pattern: x}\n    conclude: {vendor: X}\n"
     "    examples: []\n", 6, "needs at least one real example"),
    ("vendor: {name: X, country: China}\n", 1, "ISO 3166 alpha-2"),
])
def test_database_mistakes_point_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    (tmp_path / "x.yaml").write_text(text)
    with pytest.raises(InputError) as err:
        load_db(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'x.yaml'}:{line}: "), str(err.value)
    assert message in str(err.value)


def test_fingerprints_test_command(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("fingerprints", "test")
    assert run.code == 0 and ": 0 problems" in run.out
