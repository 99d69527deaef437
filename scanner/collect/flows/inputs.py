"""Bounded, validated reading shared by every traffic reader.

Flow files come from outside (a city's network team, a vendor, a captured segment) and may be
huge, truncated or hostile. Everything here is streaming and bounded: total bytes, line length,
single reads; every address, port and timestamp is checked before it becomes a record; every
problem is an :class:`InputError` that names the file and, for text, the line.
"""

from __future__ import annotations

import gzip
import ipaddress
import math
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import BinaryIO

from scanner.errors import InputError
from scanner.files import open_input as open_file

MAX_BYTES = 4 * 1024 ** 3          # whole input (after decompression); streaming keeps memory flat
MAX_LINE = 64 * 1024               # one line of a text format
MAX_FIELDS = 512                   # columns of a CSV header or a Zeek #fields line
MAX_NAME = 1024                    # a DNS name as logged (Zeek's \xNN escapes make it longer)
CHUNK = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


class BoundedReader:
    """A read-only binary stream that stops at ``max_bytes`` and refuses oversized single reads.

    The size cap protects against endless inputs (a FIFO, a gzip bomb); ``max_read`` protects the
    packet readers, which trust a length field from the file when they call ``read(n)``.
    """

    def __init__(self, raw: BinaryIO, source: str, max_bytes: int = MAX_BYTES, max_read: int | None = None) -> None:
        self.raw = raw
        self.name = source
        self.source = source
        self.max_bytes = max_bytes
        self.max_read = max_read
        self.offset = 0

    def read(self, n: int | None = -1) -> bytes:
        if self.max_read is not None and (n is None or n < 0 or n > self.max_read):
            raise InputError(f"a record at byte {self.offset} claims {n} bytes "
                             f"(limit {self.max_read}): corrupt or not a capture", self.source)
        try:
            data = self.raw.read(n if n is not None else -1)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"cannot read: {_reason(exc)}", self.source) from None
        self.offset += len(data)
        if self.offset > self.max_bytes:
            raise InputError(f"larger than {self.max_bytes} bytes (the limit for one flows file)", self.source)
        return data


def _reason(exc: BaseException) -> str:
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return f"corrupt gzip data ({exc})"
    if isinstance(exc, EOFError):
        return "gzip data cut off"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


@contextmanager
def open_input(path: str, max_bytes: int = MAX_BYTES, max_read: int | None = None) -> Iterator[BoundedReader]:
    """The file as a bounded binary stream; gzip (rotated Zeek logs are ``.log.gz``) is undone."""
    raw = open_file(path, "flows file")
    try:
        stream: BinaryIO = raw
        try:
            magic = raw.peek(2)[:2]  # type: ignore[attr-defined]
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", path) from None
        if magic == GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        yield BoundedReader(stream, path, max_bytes, max_read)
    finally:
        raw.close()


def iter_lines(stream: BoundedReader, max_line: int = MAX_LINE) -> Iterator[tuple[int, bytes, bool]]:
    """``(line number, line without newline, ended by a newline)``, never holding more than a chunk.

    The flag lets a reader tell a log cut off mid-line (writer killed) from a complete one.
    """
    lineno = 0
    rest = b""
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        if rest:
            chunk = rest + chunk
        lines = chunk.split(b"\n")
        rest = lines.pop()
        for line in lines:
            lineno += 1
            if len(line) > max_line:
                raise InputError(f"line longer than {max_line} bytes", stream.source, lineno)
            yield lineno, line, True
        if len(rest) > max_line:
            raise InputError(f"line longer than {max_line} bytes", stream.source, lineno + 1)
    if rest:
        yield lineno + 1, rest, False


def decode(line: bytes, source: str, lineno: int) -> str:
    """A line as text; invalid UTF-8 is an error, with the line and the byte where it starts."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"invalid UTF-8 (byte {exc.start + 1} of the line)", source, lineno) from None


# Validated values are cached: flow data repeats the same few addresses millions of times, and
# ipaddress is the slowest part of a record. The caches are cleared when full (bounded memory).
_IP_CACHE: dict[str, str] = {}
_IP_CACHE_MAX = 65536


def canonical_ip(text: str) -> str | None:
    """The address in canonical form (IPv6 compressed, lower case), or None if it is not one."""
    hit = _IP_CACHE.get(text)
    if hit is not None:
        return hit
    if not text or len(text) > 64:
        return None
    value = _fast_canonical(text)
    if value is None:
        try:
            value = str(ipaddress.ip_address(text))
        except ValueError:
            return None
    if len(_IP_CACHE) >= _IP_CACHE_MAX:
        _IP_CACHE.clear()
    _IP_CACHE[text] = value
    return value


def _fast_canonical(text: str) -> str | None:
    """``canonical_ip`` through the C socket functions where they give what ``ipaddress`` gives
    (a city's IPv6 traffic brings millions of distinct addresses); None: ask ``ipaddress``.

    A dotted quad that ``inet_pton`` takes is its own canonical form (both refuse leading zeros
    and short forms). A plain IPv6 text round-trips through ``inet_pton``/``inet_ntop`` (RFC 5952
    compression, lower case, as ``ipaddress`` writes it); embedded IPv4, zone ids and anything
    ``inet_ntop`` writes with a dot (IPv4-mapped) are left to ``ipaddress``.
    """
    try:
        if ":" not in text:
            socket.inet_pton(socket.AF_INET, text)
            return text
        if "." in text or "%" in text:
            return None
        value = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
    except (OSError, ValueError):
        return None
    return None if "." in value else value


def parse_ip(text: str, what: str, source: str, lineno: int | None) -> str:
    value = canonical_ip(text)
    if value is None:
        raise InputError(f"{what} {_show(text)} is not an IP address", source, lineno)
    return value


def parse_port(text: str, what: str, source: str, lineno: int | None) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5):
        raise InputError(f"{what} {_show(text)} is not a port number (0-65535)", source, lineno)
    value = int(text)
    if value > 65535:
        raise InputError(f"{what} {value} is not a port number (0-65535)", source, lineno)
    return value


def parse_count(text: str, what: str, source: str, lineno: int | None) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        raise InputError(f"{what} {_show(text)} is not a non-negative integer", source, lineno)
    return int(text)


def check_port(value: object, what: str, source: str, lineno: int | None) -> int:
    """A port from JSON: an integer (not a boolean) in 0..65535."""
    if type(value) is not int or not 0 <= value <= 65535:
        raise InputError(f"{what} {_show(value)} is not a port number (0-65535)", source, lineno)
    return value


def check_count(value: object, what: str, source: str, lineno: int | None) -> int:
    if type(value) is not int or not 0 <= value < 2 ** 63:
        raise InputError(f"{what} {_show(value)} is not a non-negative integer", source, lineno)
    return value


def parse_ts(text: str, what: str, source: str, lineno: int | None) -> float:
    """Unix epoch seconds, or ISO 8601 (a time without a zone is taken as UTC)."""
    try:
        value = float(text)
    except ValueError:
        iso = _iso(text)
        if iso is None:
            raise InputError(f"{what} {_show(text)} is neither Unix seconds nor an ISO 8601 time",
                             source, lineno) from None
        return iso
    else:
        if "_" in text or not math.isfinite(value):
            raise InputError(f"{what} {_show(text)} is not a time", source, lineno)
    return value


def check_ts(value: object, what: str, source: str, lineno: int | None) -> float:
    """A time from JSON: epoch seconds, or an ISO 8601 string (Zeek's ``json_timestamps`` option)."""
    if type(value) in (int, float):
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:   # an integer of 309 digits or more
            number = math.inf
        if math.isfinite(number):
            return number
    elif isinstance(value, str):
        return parse_ts(value, what, source, lineno)
    raise InputError(f"{what} {_show(value)} is not a time", source, lineno)


def _iso(text: str) -> float | None:
    if not 10 <= len(text) <= 40:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def clean_name(text: str, what: str, source: str, lineno: int | None) -> str | None:
    """A DNS name as logged, lower case without the final dot; None when empty.

    Kept as text (Zeek's ``\\xNN`` escapes stay escapes) but never with control characters, so
    that a report can show it; longer than any DNS name could be, even escaped, is an error.
    """
    name = text.strip().rstrip(".").lower()
    if not name:
        return None
    if len(name) > MAX_NAME or not name.isprintable():
        raise InputError(f"{what} {_show(text)} is not a DNS name", source, lineno)
    return name


def _show(value: object) -> str:
    """A bad value for an error message: quoted, escaped, short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
