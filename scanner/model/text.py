"""Text from outside: decoded without loss, shown without escapes, compared without spelling noise.

Device-supplied strings are data; every report shows them through these helpers.
"""

from __future__ import annotations

import re

# ESC-introduced sequences (CSI, OSC incl. title codes, others), then any remaining C0/C1 control.
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape_control(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group(0)):02x}"


def utf8_safe(text: str) -> str:
    """``text`` writable as UTF-8: a lone surrogate (possible in a hand-edited JSON result) would
    make a whole report or a terminal write fail, so it is shown as ``\\udXXX``; nothing else changes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def terminal_safe(text: object, limit: int = 200, keep_newlines: bool = False) -> str:
    """Text with escape sequences and control characters shown as ``\\xNN``, cut to ``limit``."""
    if text is None:
        return ""
    value = utf8_safe(str(text))
    value = _ESCAPES.sub(lambda m: "".join(f"\\x{ord(c):02x}" if ord(c) < 32 else c for c in m.group(0)), value)
    if not keep_newlines:
        value = value.replace("\n", "\\n").replace("\t", " ")
    value = _CONTROL.sub(_escape_control, value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def decode_untrusted(data: bytes, limit: int = 65536) -> str:
    """Bytes from a device as text: UTF-8 where valid, ``\\xNN`` where not, bounded."""
    return data[:limit].decode("utf-8", "backslashreplace")


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def fold_name(name: str) -> str:
    """A name for comparison only: ``Hangzhou Hikvision Digital Technology Co., Ltd.`` and
    ``hangzhouhikvisiondigitaltechnologycoltd`` are the same company in vendor and owner tables."""
    return _NOT_ALNUM.sub("", name.lower())
