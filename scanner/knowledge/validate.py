"""Small helpers that check YAML documents and point at the offending line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from scanner.errors import InputError
from scanner.knowledge.yamlfile import file_of, line_of

_KEYLIKE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}|\*")
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list", dict: "a mapping"}


def fail(container: Any, key: Any, message: str) -> InputError:
    """An error located at ``container[key]``."""
    return InputError(message, file_of(container), line_of(container, key))


def mapping(value: Any, where: Any, key: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(where, key, f"{what} must be a mapping, not {_kind(value)}")
    return value


def check_keys(node: dict[str, Any], allowed: Iterable[str], what: str,
               required: Iterable[str] = ()) -> None:
    """Refuse unknown keys (typos must not pass silently) and missing required ones."""
    allowed = set(allowed)
    for key in node:
        if key not in allowed:
            hint = ", ".join(sorted(allowed))
            raise fail(node, key, f"unknown key {_shown_key(key)} in {what} (allowed: {hint})")
    for key in required:
        if key not in node:
            raise fail(node, None, f"{what} needs the key {key!r}")


def _shown_key(key: Any) -> str:
    """A mistyped key is shown so the user can find it; text that does not look like a key at all
    (another kind of file given by mistake, e.g. ``--policy /etc/shadow``) is not echoed."""
    text = str(key)
    if _KEYLIKE.fullmatch(text):
        return repr(text)
    return "(not shown: it does not look like a setting; is this the right file?)"


def typed(node: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str,
          default: Any = None) -> Any:
    """``node[key]`` if it has the expected type (bools are not integers here)."""
    if key not in node or node[key] is None:
        return default
    value = node[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds) or (float in kinds and isinstance(value, int))
    if not ok:
        names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise fail(node, key, f"{what}.{key} must be {names}, not {_kind(value)}")
    return value


def string_list(node: dict[str, Any], key: str, what: str) -> list[str]:
    """A list of strings; a single string is accepted as a list of one."""
    value = node.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        if "," in value:  # 'a, b' is almost certainly meant as two items
            raise fail(node, key, f"{what}.{key} must be a YAML list, e.g. [{value}]")
        return [value]
    if not isinstance(value, list):
        raise fail(node, key, f"{what}.{key} must be a list of strings, not {_kind(value)}")
    out: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise InputError(f"{what}.{key}[{index}] must be a string, not {_kind(item)}",
                             file_of(value), line_of(value, index))
        out.append(str(item))
    return out


def choice(node: dict[str, Any], key: str, choices: Iterable[str], what: str,
           default: str | None = None) -> str | None:
    value = typed(node, key, str, what, default)
    choices = tuple(choices)
    if value is not None and value not in choices:
        raise fail(node, key, f"{what}.{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    for kind, name in _TYPE_NAMES.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__
