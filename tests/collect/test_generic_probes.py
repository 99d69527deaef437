"""Generic signals read by the real probes from services on loopback answering with real device strings.

Each server is a few lines of socket code on 127.0.0.1 speaking what the device speaks (SSDP, HTTP,
TLS, SNMP, telnet); the probes and the identification run unchanged.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scanner.collect.probes import protocols, snmp
from scanner.collect.probes.net import ProbeFailed
from scanner.identify import identify_device
from scanner.knowledge.loader import enterprise
from scanner.model import Device, Observation

IP = "127.0.0.1"

# FantasticFiasco/axis-discovery-ssdp-js test/ObjectMother.ts (182e3c64): an AXIS M1014's answer to
# an M-SEARCH, its description on a high port (45895 there; a free port here).
AXIS_MSEARCH = ("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: Sun, 02 Oct 2016 21:11:25 GMT\r\nEXT:\r\n"
                "LOCATION: http://{host}:{port}/rootdesc1.xml\r\nOPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n"
                "01-NLS: 8fb2638a-1dd2-11b2-a915-c89968cce2ca\r\n"
                "SERVER: Linux/2.6.35, UPnP/1.0, Portable SDK for UPnP devices/1.6.18\r\nX-User-Agent: redsonic\r\n"
                "ST: urn:axis-com:service:BasicService:1\r\n"
                "USN: uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8::urn:axis-com:service:BasicService:1\r\n\r\n")
AXIS_DESCRIPTION = (
    '<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">    <specVersion>        <major>1</major>'
    '        <minor>0</minor>    </specVersion>    <device>'
    '        <deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>'
    '        <friendlyName>AXIS M1014 - ACCC8E270AD8</friendlyName>        <manufacturer>AXIS</manufacturer>'
    '        <manufacturerURL>http://www.axis.com/</manufacturerURL>'
    '        <modelDescription>AXIS M1014 Fixed Network Camera</modelDescription>'
    '        <modelName>AXIS M1014</modelName>        <modelNumber>M1014</modelNumber>'
    '        <modelURL>http://www.axis.com/</modelURL>        <serialNumber>ACCC8E270AD8</serialNumber>'
    '        <UDN>uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8</UDN>        <serviceList>            <service>'
    '                <serviceType>urn:axis-com:service:BasicService:1</serviceType>'
    '                <serviceId>urn:axis-com:serviceId:BasicServiceId</serviceId>'
    '                <controlURL>/upnp/control/BasicServiceId</controlURL>'
    '                <eventSubURL>/upnp/event/BasicServiceId</eventSubURL>'
    '                <SCPDURL>/scpd_basic.xml</SCPDURL>            </service>        </serviceList>'
    '        <presentationURL>http://192.168.1.102:80/</presentationURL>    </device>'
    '    <URLBase>http://192.168.1.102:51578/</URLBase></root>')
# Hanwha Vision, SUNAPI Application Programmer's Guide v2.6.3 (2023-09-20), 5.2: a camera's JSON answer
# (held out: not an entry example) and the text answer of the guide's NVR.
HANWHA_NVR_TEXT = ("Model=PRN-4011\r\nFirmwareVersion=v2.10_180329015157\r\nBuildDate=2018.03.29\r\n"
                   "WebURL=http://www.hanwhasecurity.com\r\nDeviceType=NVR\r\nConnectedMACAddress=00:09:18:30:97:01\r\n"
                   "RequestedClientIPAddress=192.168.71.43\r\nCGIVersion=2.5.6\r\nMicomVersion=36\r\n"
                   "DeviceName=PRN-4011\r\nLanguage=English\r\n")
HANWHA_CAMERA_JSON = ('{\n "Model": "PNM-C7083RVD",\n "SerialNumber": "SEP70GRC0000SY",\n'
                      ' "FirmwareVersion": "2.21.01_20220517_R276",\n "BuildDate": "2022.05.17",\n'
                      ' "WebURL": "http://www.hanwhavision.com/",\n "DeviceType": "NWC",\n'
                      ' "ConnectedMACAddress": "00:09:18:6E:12:B0",\n "ISPVersion": "1.00_220504",\n'
                      ' "BootloaderVersion": "    ",\n "CGIVersion": "2.6.1",\n "ONVIFVersion": "20.12",\n'
                      ' "DeviceName": "Camera"\n}')
SUNAPI = "/stw-cgi/system.cgi?msubmenu=deviceinfo&action=view"


def identify(observations: list[Observation]) -> tuple[str | None, str | None, str | None, str]:
    identity = identify_device(Device(ip=IP, observations=observations))
    return identity.vendor, identity.model, identity.firmware, identity.device_class


@pytest.fixture
def tcp_server() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """Start a one-thread TCP server on loopback; ``handler(conn)`` answers each connection."""
    sockets: list[socket.socket] = []

    def start(handler: Callable[[socket.socket], None]) -> int:
        srv = socket.create_server((IP, 0))
        srv.settimeout(10)
        sockets.append(srv)

        def loop() -> None:
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                with conn:
                    try:
                        handler(conn)
                    except OSError:
                        pass

        threading.Thread(target=loop, daemon=True).start()
        return int(srv.getsockname()[1])

    yield start
    for srv in sockets:
        srv.close()


def http_handler(routes: dict[str, tuple[str, list[str], bytes]]) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        path = request.split(b" ")[1].decode()
        status, headers, body = routes.get(path, ("404 Not Found", [], b""))
        head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return handle


def udp_server(answer: Callable[[bytes], bytes | None]) -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((IP, 0))
    sock.settimeout(10)

    def loop() -> None:
        try:
            data, addr = sock.recvfrom(65535)
        except OSError:
            return
        reply = answer(data)
        if reply is not None:
            sock.sendto(reply, addr)

    threading.Thread(target=loop, daemon=True).start()
    return sock, int(sock.getsockname()[1])


def test_ssdp_location_on_a_high_port_gives_the_axis_model(tcp_server) -> None:  # type: ignore[no-untyped-def]
    http_port = tcp_server(http_handler({"/rootdesc1.xml": ("200 OK", ["Content-Type: text/xml"],
                                                            AXIS_DESCRIPTION.encode())}))
    sock, ssdp_port = udp_server(lambda _: AXIS_MSEARCH.format(host=IP, port=http_port).encode())
    with sock:
        found, location = protocols.ssdp_search(IP, 3.0, port=ssdp_port)
    assert location == f"http://{IP}:{http_port}/rootdesc1.xml"
    described = protocols.upnp_description(IP, location, 3.0)
    assert {o.field: o.value for o in described}["upnp.model_number"] == "M1014"
    assert all(o.port == http_port for o in described)
    assert identify(found + described) == ("Axis", "M1014", None, "camera")


def test_ssdp_location_on_another_host_is_never_followed() -> None:
    location = AXIS_MSEARCH.format(host="192.168.1.102", port=45895).split("LOCATION: ")[1].split("\r\n")[0]
    with pytest.raises(ProbeFailed, match="not the device; not followed"):
        protocols.upnp_description(IP, location, 1.0)
    with pytest.raises(ProbeFailed, match="unsupported UPnP LOCATION"):
        protocols.upnp_description(IP, "ftp://127.0.0.1/desc.xml", 1.0)


def test_hanwha_sunapi_text_and_json_answers(tcp_server) -> None:  # type: ignore[no-untyped-def]
    port = tcp_server(http_handler({SUNAPI: ("200 OK", ["Content-Type: text/plain"], HANWHA_NVR_TEXT.encode())}))
    assert identify(protocols.http_get(IP, port, SUNAPI, 3.0, False)) == (
        "Hanwha Vision", "PRN-4011", "v2.10_180329015157", "nvr")
    port = tcp_server(http_handler({SUNAPI: ("200 OK", ["Content-Type: application/json"],
                                             HANWHA_CAMERA_JSON.encode())}))
    assert identify(protocols.http_get(IP, port, SUNAPI, 3.0, False)) == (
        "Hanwha Vision", "PNM-C7083RVD", "2.21.01_20220517_R276", "camera")
    # the same answer under another path is not SUNAPI's device information: no vendor
    port = tcp_server(http_handler({"/": ("200 OK", [], HANWHA_NVR_TEXT.encode())}))
    assert identify(protocols.http_get(IP, port, "/", 3.0, False))[0] is None


def test_realm_and_favicon(tcp_server) -> None:  # type: ignore[no-untyped-def]
    # recog http_wwwauth.xml: 'Basic realm="NETGEAR DGN2200"'; the icon bytes are hashed as they come
    icon = Path(__file__).read_bytes()[:700]
    port = tcp_server(http_handler({
        "/": ("401 Unauthorized", ['WWW-Authenticate: Basic realm="NETGEAR DGN2200"'], b""),
        "/favicon.ico": ("200 OK", ["Content-Type: image/x-icon"], icon)}))
    got = {o.field: o.value for o in protocols.http_get(IP, port, "/", 3.0, False)}
    assert got["http.realm"] == "NETGEAR DGN2200" and got["http.www_authenticate"].startswith("Basic")
    import hashlib

    [fav] = protocols.favicon(IP, port, 3.0, False)
    assert (fav.field, fav.value, fav.path) == ("http.favicon_md5", hashlib.md5(icon).hexdigest(), "/favicon.ico")
    missing = tcp_server(http_handler({}))
    with pytest.raises(ProbeFailed) as err:
        protocols.favicon(IP, missing, 3.0, False)
    assert err.value.absent


def test_realm_parsing() -> None:
    assert protocols.realm('Digest realm="Login to 7J0123", qop="auth", nonce="x"') == "Login to 7J0123"
    assert protocols.realm("Basic realm=RouterOS") == "RouterOS"
    assert protocols.realm('Basic realm=""') is None and protocols.realm("Negotiate") is None


def _certificate(cn: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"), x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
                      x509.NameAttribute(NameOID.LOCALITY_NAME, "San Jose"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ubiquiti Networks Inc."),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Technical Support"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("ubnt.local"),
                                                        x509.IPAddress(__import__("ipaddress").ip_address("192.0.2.20"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_tls_subject_with_cn_ubnt_gives_a_class_and_the_sans(tcp_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the subject of recog x509_subjects.xml "Ubiquiti" CN=UBNT, in the DER order a device writes it
    cert, key = _certificate("UBNT")
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")

    def handle(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(2)
            try:
                tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    port = tcp_server(handle)
    found = protocols.tls_certificate(IP, port, 3.0)
    got = {(o.field, o.value) for o in found}
    assert ("tls.subject", "CN=UBNT,OU=Technical Support,O=Ubiquiti Networks Inc.,L=San Jose,ST=CA,C=US") in got
    assert {("tls.san", "DNS:ubnt.local"), ("tls.san", "IP:192.0.2.20")} <= got
    assert identify(found)[0::3] == ("Ubiquiti", "access-point")
    near = [Observation("tls.subject", "CN=UBNTX,OU=Technical Support,O=Ubiquiti Networks Inc.,C=US", "tls", 443)]
    assert identify(near)[0] is None


def test_snmp_sysname_and_enterprise() -> None:
    # librenms tests/snmpsim/routeros.snmprec (1509359): sysDescr "router", sysObjectID 1.3.6.1.4.1.14988.1,
    # sysName as the donor redacted it
    def answer(data: bytes) -> bytes:
        msg = snmp.decode(data)
        values = {snmp.SYS_DESCR: "router", snmp.SYS_OBJECT_ID: "oid:1.3.6.1.4.1.14988.1",
                  snmp.SYS_NAME: "<private>"}
        binds = [(oid, values.get(oid)) for oid, _ in msg.varbinds]
        return snmp.encode(snmp.Message(msg.version, msg.community, snmp.GET_RESPONSE, msg.request_id, 0, binds))

    sock, port = udp_server(answer)
    with sock:
        found = protocols.snmp_get(IP, 3.0, "public", port=port)
    got = {o.field: o.value for o in found}
    assert got["snmp.sysname"] == "<private>" and got["snmp.enterprise"] == "MikroTik"
    assert identify(found)[0] == "MikroTik"  # the sysObjectID entry, as before
    assert enterprise("1.3.6.1.4.1.29671.2.17") == "Meraki Networks, Inc."
    assert enterprise("1.3.6.1.4.1.41112.1.4") == "Ubiquiti Networks, Inc."
    assert enterprise("1.3.6.1.2.1.1.1.0") is None  # not under enterprises
    assert enterprise("1.3.6.1.4.1.4294967295.1") is None  # not assigned


@pytest.mark.parametrize("greeting, firmware", [
    (b"\r\n\r\nMikroTik v6.40.8 (bugfix)\r\nLogin: ", "6.40.8"),   # recog telnet_banners.xml, held out
    (b"\xff\xfd\x18\xff\xfd\x20MikroTik v6.36rc12 (testing)\r\nLogin: ", "6.36rc12"),
])
def test_mikrotik_telnet_greeting_gives_the_firmware(tcp_server, greeting: bytes, firmware: str) -> None:  # type: ignore[no-untyped-def]
    def handle(conn: socket.socket) -> None:
        for part in (greeting[:4], greeting[4:]):  # in two writes: the version comes after the empty lines
            conn.sendall(part)
            threading.Event().wait(0.2)
        threading.Event().wait(1.5)

    port = tcp_server(handle)
    found = protocols.banner(IP, port, 3.0, "telnet.banner")
    assert identify(found) == ("MikroTik", None, firmware, "router")


def test_a_near_miss_telnet_greeting_names_no_vendor() -> None:
    assert identify([Observation("telnet.banner", "Welcome to MikroTik hotspot\r\nLogin:", "banner", 23)])[0] is None
