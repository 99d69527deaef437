"""Stored results as files: a JSON result read back, bounded and checked, for report, diff and explain.

A result cityscan wrote has one device, destination or finding per line (report/json_report.py),
so it is read line by line: each item becomes its model object at once and the whole document is
never held as one parsed tree (which took several times the file's size in memory). A result in
any other JSON layout (an older cityscan, a file someone re-indented) is read whole, within
:data:`MAX_RESULT_BYTES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, BinaryIO

from scanner.errors import InputError
from scanner.files import open_input
from scanner.model import SCHEMA_VERSION, Destination, Device, Finding, ScanError, ScanResult

MAX_RESULT_BYTES = 512 * 1024 * 1024          # a result read whole
MAX_STREAMED_BYTES = 1024 * 1024 * 1024       # a result read line by line (memory: its objects only)
MAX_ITEMS = 2_000_000                         # devices + destinations + findings + errors: bounds the objects
MAX_LINE_BYTES = 64 * 1024 * 1024             # one device or finding
_ITEMS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "devices": Device.from_dict, "destinations": Destination.from_dict, "findings": Finding.from_dict,
    "errors": ScanError.from_dict,
}


class _NotStreamable(Exception):
    """The file is not in the one-item-per-line layout: read it whole instead."""


def load_result(path: str) -> ScanResult:
    """A cityscan JSON result; anything else is an :class:`InputError` naming the file (and line)."""
    with open_input(path, "JSON result") as handle:
        seekable = handle.seekable()
        try:
            return _streamed(handle, path)
        except _NotStreamable:
            pass
        if not seekable:
            raise InputError("a JSON result in another layout than cityscan writes must be a regular file", path)
        handle.seek(0)
        data = handle.read(MAX_RESULT_BYTES + 1)
    if len(data) > MAX_RESULT_BYTES:
        raise InputError(f"JSON result larger than {MAX_RESULT_BYTES} bytes", path)
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"not a cityscan JSON result: {getattr(exc, 'msg', exc)}", path, line) from None
    _check_header(doc, path)
    try:
        return ScanResult.from_dict(doc)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed cityscan JSON result: {exc}", path) from None


def _check_header(doc: Any, path: str) -> None:
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION or "devices" not in doc:
        raise InputError("not a cityscan JSON result (schema_version 1)", path)


def _lines(handle: BinaryIO, path: str) -> Any:
    total = 0
    for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), start=1):
        total += len(raw)
        if len(raw) > MAX_LINE_BYTES or total > MAX_STREAMED_BYTES:
            raise _NotStreamable
        yield number, raw


def _streamed(handle: BinaryIO, path: str) -> ScanResult:
    """Read the one-item-per-line layout; :class:`_NotStreamable` as soon as the file is not in it."""
    doc: dict[str, Any] = {}
    section: str | None = None   # the member whose items are being read
    closer = ""
    items: list[Any] = []
    mapping: dict[str, Any] = {}
    lines = _lines(handle, path)
    count = 0
    number, raw = next(lines, (0, b""))
    if raw.rstrip(b"\r\n") != b"{":
        raise _NotStreamable
    done = False
    for number, raw in lines:
        if done:
            if raw.strip():
                raise _NotStreamable
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise _NotStreamable from None
        try:
            if section is not None:
                if text.rstrip(",") == closer:
                    doc[section] = items if closer == "  ]" else mapping
                    section, items, mapping = None, [], {}
                    continue
                if not text.startswith("    "):
                    raise _NotStreamable
                body = text[4:].rstrip(",")
                if closer == "  ]":
                    count += 1
                    if count > MAX_ITEMS:
                        raise InputError(f"a JSON result of more than {MAX_ITEMS:,} devices, destinations, "
                                         "findings and errors", path, number)
                    items.append(json.loads(body))
                else:
                    mapping.update(json.loads("{" + body + "}"))
                continue
            if text == "}":
                done = True
                continue
            if not text.startswith('  "'):
                raise _NotStreamable
            member = json.loads("{" + text[2:].rstrip(",") + "}") if not text.endswith(("[", "{")) else None
            if member is not None:
                if any(key in _ITEMS and value != [] for key, value in member.items()):
                    raise _NotStreamable  # items written inline (or not a list): the whole-file reader checks them
                doc.update(member)
                if len(doc) == 1 and doc.get("schema_version") != SCHEMA_VERSION:
                    raise InputError("not a cityscan JSON result (schema_version 1)", path, number)
                continue
            key = json.loads(text[2:text.rindex(":")])
            section, closer = key, ("  ]" if text.endswith("[") else "  }")
            if key in _ITEMS:  # build each item's object now: the parsed dicts never pile up
                items = _Converted(_ITEMS[key], path)
        except json.JSONDecodeError:
            raise _NotStreamable from None
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise InputError(f"malformed cityscan JSON result: {exc}", path, number) from None
    if not done or section is not None:
        raise InputError("not a cityscan JSON result: the file ends before its last '}'", path, number)
    _check_header(doc, path)
    lists = {key: doc.pop(key) for key in _ITEMS if key in doc}
    try:
        result = ScanResult.from_dict(doc)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed cityscan JSON result: {exc}", path) from None
    result.devices = list(lists.get("devices") or [])
    result.destinations = list(lists.get("destinations") or [])
    result.findings = list(lists.get("findings") or [])
    result.errors = list(lists.get("errors") or [])
    return result


class _Converted(list):  # type: ignore[type-arg]
    """A list that turns each appended item dict into its model object."""

    def __init__(self, convert: Callable[[dict[str, Any]], Any], path: str) -> None:
        super().__init__()
        self.convert = convert
        self.path = path

    def append(self, item: Any) -> None:
        if not isinstance(item, dict):
            raise ValueError(f"an item is {type(item).__name__}, not an object")
        super().append(self.convert(item))
