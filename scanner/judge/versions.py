"""Firmware version comparison that copes with vendor spellings (V5.7.3 build 230815, 9.80.3.8)."""

from __future__ import annotations

import re

_NUMBERS = re.compile(r"\d+")


def version_key(text: str | None) -> tuple[int, ...] | None:
    """Numeric parts of the first dotted version in ``text``; ``None`` if it has none.

    ``V5.7.3 build 230815`` -> (5, 7, 3); build numbers after the dotted part are ignored so that
    a date-like build never outweighs the release number.
    """
    if not text:
        return None
    match = re.search(r"\d+(?:[._]\d+)+|\d+", text)
    if not match:
        return None
    parts = tuple(int(n) for n in _NUMBERS.findall(match.group(0)))
    while len(parts) > 1 and parts[-1] == 0:
        parts = parts[:-1]
    return parts
