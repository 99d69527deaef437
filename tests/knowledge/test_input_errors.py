"""Bad input in YAML files: one line per mistake, with file and line, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.knowledge.yamlfile import load


def test_an_impossible_date_or_number_is_a_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("waivers:\n  - expires: 2027-02-30\n")
    with pytest.raises(InputError, match=r"w.yaml:2: not a valid timestamp \(day is out of range for month\)") as err:
        load(path)
    assert "2027-02-30" not in str(err.value)  # a value is never echoed: it could be a password


def test_every_mistake_of_a_policy_is_reported(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nrules:\n  banned-vendor: {severity: hihg}\n  wifi-tracking: {sevrity: high}\n"
                    "  nosuch: {}\n")
    run = cli("policy", "validate", str(path))
    assert run.code == 2 and [line.split(": ")[2].rsplit(":", 1)[1] for line in run.err.splitlines()] == ["3", "4", "5"]
    assert all(line.startswith("cityscan: error: ") for line in run.err.splitlines())
