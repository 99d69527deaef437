"""One emulated device: serves the documented responses of its definition inside its namespace.

Run as ``python -m scanner.lab.emulator DEVICE.yaml`` inside the device's namespace (the lab
does this). It answers only what the definition says, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from scanner.collect.probes import snmp
from scanner.collect.probes.digest import verify
from scanner.lab import ot
from scanner.lab.accounts import LAB_PASSWORD, LAB_REALM, LAB_USERNAME
from scanner.lab.devices import DeviceSpec, load_device

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error", 501: "Not Implemented"}
MAX_HEAD = 16384
MAX_BODY = 65536


@contextlib.asynccontextmanager
async def closing(writer: asyncio.StreamWriter) -> AsyncIterator[None]:
    """A connection's handler ends quietly when the client goes away or is too slow; the socket closes."""
    try:
        yield
    except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode("utf-8")


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    except asyncio.LimitOverrunError:
        return b""
    except asyncio.IncompleteReadError as exc:
        return exc.partial


async def _misbehave(behaviour: str | None, writer: asyncio.StreamWriter, payload: bytes) -> None:
    """Send ``payload`` the way the device's ``behaviour`` says (hostile lab devices only).

    stall: accept and never answer; drip: one byte a second; endless: headers, then a body that
    never ends; huge-headers: a megabyte of headers before anything useful.
    """
    if behaviour == "stall":
        await asyncio.sleep(120)
    elif behaviour == "drip":
        for index in range(len(payload)):
            writer.write(payload[index:index + 1])
            await writer.drain()
            await asyncio.sleep(1)
    elif behaviour == "endless":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
        chunk = b"<p>" + b"A" * 65536 + b"</p>\n"
        for _ in range(100000):  # ~6 GB: ends only when the client gives up
            writer.write(chunk)
            await writer.drain()
    elif behaviour == "huge-headers":
        writer.write(b"HTTP/1.1 200 OK\r\n")
        line = b"X-Padding: " + b"B" * 1000 + b"\r\n"
        for _ in range(1024):
            writer.write(line)
            await writer.drain()
        writer.write(b"\r\n")
    else:
        writer.write(payload)
    await writer.drain()


def _http_handler(svc: dict[str, Any]):  # type: ignore[no-untyped-def]
    routes = svc.get("routes") or []
    default = svc.get("default") or {"status": 404, "body": ""}
    base_headers = dict(svc.get("headers") or {})
    behaviour = svc.get("behaviour")
    nonce = os.urandom(16).hex()  # one per emulator run, as a device picks its own

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with closing(writer):
            head = await _read_head(reader)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ") if lines and lines[0] else []
            method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("GET", "/")
            length = 0
            authorization = ""
            for line in lines[1:]:
                if line.lower().startswith("authorization:"):
                    authorization = line.split(":", 1)[1].strip()
                if line.lower().startswith("content-length:"):
                    try:
                        length = min(int(line.split(":", 1)[1].strip()), MAX_BODY)
                    except ValueError:
                        length = 0
            if length:
                await asyncio.wait_for(reader.readexactly(length), timeout=10)
            route = next((r for r in routes if r.get("path") == target
                          and str(r.get("method", "GET")).upper() == method.upper()), None)
            if route is None and method.upper() == "HEAD":
                route = next((r for r in routes if r.get("path") == target), None)
            answer = route or default
            if answer.get("auth") == "digest" and not verify(authorization, method, LAB_REALM, nonce, LAB_USERNAME,
                                                            LAB_PASSWORD):
                answer = {"status": 401, "body": "", "headers": {
                    "WWW-Authenticate": f'Digest realm="{LAB_REALM}", qop="auth", nonce="{nonce}", opaque="799d5"'}}
            status = int(answer.get("status", 200))
            body = _body_bytes(answer.get("body"))
            headers = {**base_headers, **(answer.get("headers") or {})}
            out = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
            out += [f"{k}: {v}" for k, v in headers.items()]
            out += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
            payload = "\r\n".join(out).encode("latin-1", "replace") + (b"" if method.upper() == "HEAD" else body)
            await _misbehave(behaviour, writer, payload)

    return handle


def _rtsp_handler(svc: dict[str, Any]):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with closing(writer):
            while True:
                head = await _read_head(reader)
                if not head:
                    break
                lines = head.decode("latin-1").split("\r\n")
                method = lines[0].split(" ")[0].upper() if lines[0] else ""
                cseq = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("cseq:")), "0")
                headers = [f"CSeq: {cseq}"]
                if svc.get("server"):
                    headers.append(f"Server: {svc['server']}")
                if method == "OPTIONS":
                    status = 200
                    headers.append(f"Public: {svc.get('public') or 'OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN'}")
                elif method == "DESCRIBE":
                    status = int(svc.get("describe_status", 401))
                    if status == 401 and svc.get("www_authenticate"):
                        headers.append(f"WWW-Authenticate: {svc['www_authenticate']}")
                else:
                    status = 405
                reason = REASONS.get(status, "Status")
                answer = f"RTSP/1.0 {status} {reason}\r\n" + "\r\n".join(headers) + "\r\n\r\n"
                await _misbehave(svc.get("behaviour"), writer, answer.encode("latin-1"))

    return handle


def _banner_handler(svc: dict[str, Any]):  # type: ignore[no-untyped-def]
    banner = _body_bytes(svc.get("banner"))
    behaviour = svc.get("behaviour")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with closing(writer):
            await _misbehave(behaviour, writer, banner)
            await asyncio.wait_for(reader.read(1024), timeout=10)

    return handle


def _silent_handler(svc: dict[str, Any]):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with closing(writer):
            await asyncio.wait_for(reader.read(1024), timeout=30)

    return handle


def _ot_handler(serve: Callable[..., Awaitable[None]], svc: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A TCP handler for an industrial protocol of ``scanner.lab.ot``: its requests, bounded, then close."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with closing(writer):
            await serve(svc, reader=reader, writer=writer)

    return handle


class _SnmpProtocol(asyncio.DatagramProtocol):
    def __init__(self, svc: dict[str, Any]) -> None:
        self.svc = svc
        self.values = {snmp.SYS_DESCR: svc.get("sysdescr"), snmp.SYS_OBJECT_ID: (
            f"oid:{svc['sysobjectid']}" if svc.get("sysobjectid") else None), snmp.SYS_NAME: svc.get("sysname")}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = snmp.decode(data)
        except snmp.SnmpError:
            return
        if msg.pdu_type != snmp.GET_REQUEST or msg.community != str(self.svc.get("community", "public")).encode():
            return  # real agents stay silent on a wrong community
        if self.svc.get("behaviour") == "malformed":  # hostile: a length field that lies
            self.transport.sendto(b"\x30\x84\x7f\xff\xff\xff\x02\x01\x01\x04\x06public\xa2", addr)  # type: ignore[attr-defined]
            return
        binds = [(oid, self.values.get(oid)) for oid, _ in msg.varbinds]
        reply = snmp.Message(msg.version, msg.community, snmp.GET_RESPONSE, msg.request_id, 0, binds)
        self.transport.sendto(snmp.encode(reply), addr)  # type: ignore[attr-defined]


class _SsdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, svc: dict[str, Any], ip: str) -> None:
        self.svc, self.ip = svc, ip

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.startswith(b"M-SEARCH"):
            return
        port = self.svc.get("location_port", 80)
        lines = ["HTTP/1.1 200 OK", "CACHE-CONTROL: max-age=1800", "EXT:",
                 f"LOCATION: http://{self.ip}:{port}{self.svc.get('location_path', '/')}",
                 f"SERVER: {self.svc.get('server', '')}", f"ST: {self.svc.get('st', 'upnp:rootdevice')}",
                 f"USN: {self.svc.get('usn', 'uuid:00000000-0000-0000-0000-000000000000::upnp:rootdevice')}", "", ""]
        self.transport.sendto("\r\n".join(lines).encode("latin-1", "replace"), addr)  # type: ignore[attr-defined]


def _tls_context(svc: dict[str, Any], workdir: Path) -> ssl.SSLContext:
    """A self-signed certificate with the device's documented subject (or a hostile one)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    oids = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "C": NameOID.COUNTRY_NAME, "L": NameOID.LOCALITY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME}
    subject = svc.get("cert_subject") or {"CN": "device"}
    name = x509.Name([x509.NameAttribute(oids[k], str(v)) for k, v in subject.items() if k in oids])
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    days = int(svc.get("cert_days", 3650))
    start, end = (now - dt.timedelta(days=400), now + dt.timedelta(days=days)) if days > 0 else \
        (now - dt.timedelta(days=800), now + dt.timedelta(days=days))
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end))
    extra = int(svc.get("cert_extra_sans", 0))
    if extra:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(f"padding-{i:06d}.example.invalid") for i in range(extra)]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


async def _lookup(name: str, dns_ip: str) -> str | None:
    """An A query to the lab's DNS server, as the device's firmware would send it."""
    import dns.message
    import dns.rdatatype

    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    class _Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not answer.done():
                answer.set_result(data)

    query = dns.message.make_query(name, dns.rdatatype.A)
    transport, _ = await loop.create_datagram_endpoint(_Client, remote_addr=(dns_ip, 53))
    try:
        transport.sendto(query.to_wire())
        reply = dns.message.from_wire(await asyncio.wait_for(answer, timeout=3))
    finally:
        transport.close()
    for rrset in reply.answer:
        for item in rrset:
            if item.rdtype == dns.rdatatype.A:
                return item.to_text()
    return None


async def talk(endpoints: list[tuple[str, int]], dns_ip: str, every: float = 10.0) -> None:
    """Look up and connect to the vendor cloud endpoints, periodically (what real devices do)."""
    await asyncio.sleep(1)
    while True:
        for host, port in endpoints:
            try:
                ip = await _lookup(host, dns_ip)
                if ip:
                    _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout=3)
                    writer.close()
            except (OSError, asyncio.TimeoutError, ValueError):
                pass
        await asyncio.sleep(every)


async def serve(spec: DeviceSpec, endpoints: list[tuple[str, int]] | None = None, dns_ip: str | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix=f"cityscan-{spec.name}-") as work:  # removed on SIGTERM too
        await _serve(spec, Path(work), endpoints, dns_ip)


async def _serve(spec: DeviceSpec, workdir: Path, endpoints: list[tuple[str, int]] | None, dns_ip: str | None) -> None:
    loop = asyncio.get_running_loop()
    for svc in spec.services:
        kind, port = svc["kind"], svc["port"]
        if kind in ("http", "https"):
            ctx = _tls_context(svc, workdir) if kind == "https" else None
            await asyncio.start_server(_http_handler(svc), spec.ip, port, ssl=ctx, limit=MAX_HEAD)
        elif kind == "rtsp":
            await asyncio.start_server(_rtsp_handler(svc), spec.ip, port, limit=MAX_HEAD)
        elif kind == "banner":
            await asyncio.start_server(_banner_handler(svc), spec.ip, port)
        elif kind == "silent":
            await asyncio.start_server(_silent_handler(svc), spec.ip, port)
        elif kind == "snmp":
            await loop.create_datagram_endpoint(functools.partial(_SnmpProtocol, svc), local_addr=(spec.ip, port))
        elif kind == "modbus":
            await asyncio.start_server(_ot_handler(ot.serve_modbus, svc), spec.ip, port)
        elif kind == "s7":
            await asyncio.start_server(_ot_handler(ot.serve_s7, svc), spec.ip, port)
        elif kind == "enip":
            await asyncio.start_server(_ot_handler(functools.partial(ot.serve_enip, ip=spec.ip), svc), spec.ip, port)
        elif kind == "bacnet":
            await loop.create_datagram_endpoint(functools.partial(ot.BacnetProtocol, svc), local_addr=(spec.ip, port))
        elif kind == "ssdp":
            await loop.create_datagram_endpoint(functools.partial(_SsdpProtocol, svc, spec.ip), local_addr=("0.0.0.0", port))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if endpoints and dns_ip:
        talker = asyncio.create_task(talk(endpoints, dns_ip))  # noqa: F841 - runs until stop
    print(f"ready {spec.name}", flush=True)
    await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """``DEVICE.yaml [--dns IP --talk HOST:PORT ...]``."""
    args = list(argv if argv is not None else sys.argv[1:])
    if not args:
        print("usage: python -m scanner.lab.emulator DEVICE.yaml [--dns IP] [--talk HOST:PORT ...]", file=sys.stderr)
        sys.exit(2)
    spec = load_device(Path(args.pop(0)))
    dns_ip, endpoints = None, []
    while args:
        flag = args.pop(0)
        if flag == "--dns" and args:
            dns_ip = args.pop(0)
        elif flag == "--talk" and args:
            host, _, port = args.pop(0).rpartition(":")
            endpoints.append((host, int(port)))
    asyncio.run(serve(spec, endpoints, dns_ip))


if __name__ == "__main__":
    main()
