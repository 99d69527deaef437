from __future__ import annotations

from scanner.sanitize import decode_untrusted, terminal_safe


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
