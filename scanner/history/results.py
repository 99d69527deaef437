"""Stored results as files: a JSON result read back, bounded and checked, for report, diff and explain."""

from __future__ import annotations

import json

from scanner.errors import InputError
from scanner.files import read_bounded
from scanner.model import SCHEMA_VERSION, ScanResult

MAX_RESULT_BYTES = 512 * 1024 * 1024


def load_result(path: str) -> ScanResult:
    """A cityscan JSON result; anything else is an :class:`InputError` naming the file (and line)."""
    data = read_bounded(path, MAX_RESULT_BYTES, "JSON result")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"not a cityscan JSON result: {getattr(exc, 'msg', exc)}", path, line) from None
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION or "devices" not in doc:
        raise InputError("not a cityscan JSON result (schema_version 1)", path)
    try:
        return ScanResult.from_dict(doc)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed cityscan JSON result: {exc}", path) from None
