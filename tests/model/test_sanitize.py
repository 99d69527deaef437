from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.knowledge.paths import recorded_scan_path
from scanner.model.text import decode_untrusted, terminal_safe
from scanner.report import FORMATS


def test_ansi_and_title_sequences_are_neutralised() -> None:
    hostile = "Cam\x1b[2J\x1b]0;pwned\x07\x1b[31mRED\x9b1m"
    safe = terminal_safe(hostile)
    assert "\x1b" not in safe and "\x07" not in safe and "\x9b" not in safe
    assert safe.startswith("Cam\\x1b[2J")


def test_newlines_cannot_forge_report_lines() -> None:
    assert terminal_safe("a\nHIGH fake finding") == "a\\nHIGH fake finding"


def test_long_values_are_cut() -> None:
    assert len(terminal_safe("x" * 1000, limit=50)) == 50


def test_invalid_utf8_is_kept_visible() -> None:
    assert decode_untrusted(b"model\xff\xfe") == "model\\xff\\xfe"


def test_lone_surrogates_are_shown_not_crashed_on() -> None:
    assert terminal_safe("cam\ud800era") == "cam\\ud800era"
    assert terminal_safe("\udcff\x1b[2J") == "\\udcff\\x1b[2J"
    terminal_safe("\ud83d").encode("utf-8")  # writable


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_report_format_survives_lone_surrogates_in_a_stored_result(cli, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """A JSON result may carry "\\ud800" escapes (valid JSON, not valid UTF-8 once decoded)."""
    doc = json.loads(recorded_scan_path().read_text())
    device = doc["devices"][0]
    device["model"] = "DS-\ud800"
    device["observations"][0]["value"] = "banner \udfff end"
    path = tmp_path / "scan.json"
    path.write_text(json.dumps(doc))  # ensure_ascii: the surrogates are stored as \\u escapes
    out = tmp_path / f"report.{fmt}"
    run = cli("report", str(path), "--policy", "eu-gdpr-baseline", "--format", fmt, "--output", str(out),
              "--fail-on", "none")
    assert run.code == 0, run.err
    text = out.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    assert "ud800" in text or fmt == "csv"  # csv lists findings; the model is in the device inventory
    stdout = cli("report", str(path), "--format", "table", "--fail-on", "none")
    assert stdout.code == 0 and "DS-\\ud800" in stdout.out
