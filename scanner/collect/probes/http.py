"""Read-only HTTP(S) identification: GET of known vendor information endpoints, one ONVIF query.

Requests never follow redirects (a ``Location`` is recorded as an observation, so a redirect cannot
lead the scanner out of scope) and carry no credentials, except the opt-in authenticated checks'
``Authorization`` header (``headers``). Responses are bounded.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from scanner.collect.probes.net import Budget, ProbeFailed, connect, read_until, send
from scanner.model.text import decode_untrusted

MAX_RESPONSE = 256 * 1024
MAX_HEADERS = 100
USER_AGENT = "cityscan (read-only device identification)"
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)

ONVIF_PATH = "/onvif/device_service"
# ONVIF Device Management GetDeviceInformation (read-only; ONVIF Core Specification, 8.3.1).
ONVIF_GET_DEVICE_INFORMATION = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    b'<s:Body xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><tds:GetDeviceInformation/></s:Body>'
    b"</s:Envelope>"
)


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def title(self) -> str | None:
        match = _TITLE.search(self.body[:65536])
        if not match:
            return None
        text = html.unescape(decode_untrusted(match.group(1), 512))
        return " ".join(text.split()) or None


def request(ip: str, port: int, path: str, timeout: float, tls: bool = False, method: str = "GET",
            body: bytes | None = None, content_type: str | None = None, host: str | None = None,
            headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    if method not in ("GET", "HEAD", "OPTIONS", "POST"):
        raise ValueError(f"method {method} is not read-only")
    budget = Budget(timeout)
    sock = connect(ip, port, budget, tls=tls)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host or ip}", f"User-Agent: {USER_AGENT}",
                 "Accept: */*", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers or []]
        if body is not None:
            lines += [f"Content-Type: {content_type or 'application/octet-stream'}", f"Content-Length: {len(body)}"]
        send(sock, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""), budget)
        raw = read_until(sock, budget, MAX_RESPONSE, partial_ok=False)
    finally:
        sock.close()
    return parse_response(raw, truncated=len(raw) >= MAX_RESPONSE)


def parse_response(raw: bytes, truncated: bool = False) -> HttpResponse:
    """Parse an HTTP/1.x (or RTSP/1.0) response; malformed input raises :class:`ProbeFailed`."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = raw.partition(b"\n\n")
    if not sep and len(raw) >= MAX_RESPONSE:
        raise ProbeFailed(f"response headers larger than {MAX_RESPONSE} bytes")
    lines = head.split(b"\n")
    status_line = lines[0].strip().decode("latin-1")
    match = re.match(r"^(HTTP|RTSP)/\d(\.\d)?\s+(\d{3})\s*(.*)$", status_line)
    if not match:
        raise ProbeFailed(f"not an HTTP response: {status_line[:60]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:MAX_HEADERS + 1]:
        name, colon, value = line.decode("latin-1").partition(":")
        if colon and name.strip():
            headers.append((name.strip(), value.strip()))
    response = HttpResponse(int(match.group(3)), match.group(4), headers, rest, truncated)
    if (response.header("transfer-encoding") or "").lower() == "chunked":
        response.body = _dechunk(rest)
    else:
        length = response.header("content-length")
        if length and length.isdigit():
            response.body = rest[: int(length)]
    return response


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while pos < len(data) and len(out) < MAX_RESPONSE:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            break
        size_text = data[pos:line_end].split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            break
        if size == 0:
            break
        out.extend(data[line_end + 2: line_end + 2 + size])
        pos = line_end + 2 + size + 2
    return bytes(out)
