"""Emulated industrial control protocols of the lab: answers to the read-only identification requests
nmap's s7-info, modbus-discover, bacnet-info and enip-info send, built from a lab device's definition.

Each answer is laid out as the protocol specification and a real device's documented answer have it
(sources per function below and in the device files); the emulators answer identification reads only:
every other request (a write, a program download, a stop) gets the protocol's refusal or nothing, and
nothing in a lab device can be changed. Requests and connections are bounded like the other emulators.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

MAX_REQUESTS = 64        # per connection: nmap's scripts need at most five
IDLE = 10.0              # seconds a connection may stay silent
MAX_STRING = 200         # a device string in an answer (BACnet's one-byte length form holds 253)


def _text(value: Any, limit: int = MAX_STRING) -> bytes:
    """A device string as the bytes a device sends: Latin-1 (``\\xFA`` in YAML is the byte 0xFA)."""
    return str(value if value is not None else "").encode("latin-1", "replace")[:limit]


# --- Modbus/TCP (port 502) ----------------------------------------------------------------------
# MODBUS Application Protocol Specification V1.1b3: 6.17 Report Server ID (0x11), 6.21 Read Device
# Identification (0x2B / MEI 0x0E), 7 exception responses; MODBUS Messaging on TCP/IP V1.0b: the MBAP header.

MODBUS_ILLEGAL_FUNCTION = 0x01
MODBUS_ILLEGAL_DATA_ADDRESS = 0x02


def modbus_answer(request: bytes, svc: dict[str, Any]) -> bytes | None:
    """The answer to one Modbus/TCP ADU (MBAP header + PDU), or None for a malformed one."""
    if len(request) < 8:
        return None
    tid, pid, _length, unit = struct.unpack(">HHHB", request[:7])
    if pid != 0:
        return None
    function, data = request[7], request[8:]
    if function == 0x11:  # Report Server (Slave) ID: byte count, then the server's id, run indicator, data
        ident = _text(svc.get("slave_id"), 250)
        pdu = bytes([0x11, len(ident)]) + ident
    elif function == 0x2B and data[:1] == b"\x0e" and len(data) >= 3 and data[1] in (1, 4):
        objects = [_text(o, 80) for o in (svc.get("device_id") or [])][:3]  # basic: vendor, product code, revision
        code, first = data[1], data[2]
        if first >= len(objects):
            pdu = bytes([0x2B | 0x80, MODBUS_ILLEGAL_DATA_ADDRESS])
        else:
            chosen = list(enumerate(objects))[first:] if code == 1 else [(first, objects[first])]
            body = b"".join(bytes([oid, len(value)]) + value for oid, value in chosen)
            # conformity level 0x01 (basic identification, stream access only), no more follows
            pdu = bytes([0x2B, 0x0E, code, 0x01, 0x00, 0x00, len(chosen)]) + body
    else:  # a read of registers, any write, diagnostics: this lab device refuses them all
        pdu = bytes([(function | 0x80) & 0xFF, MODBUS_ILLEGAL_FUNCTION])
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


async def serve_modbus(svc: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for _ in range(MAX_REQUESTS):
        header = await asyncio.wait_for(reader.readexactly(7), timeout=IDLE)
        length = struct.unpack(">H", header[4:6])[0]
        if not 2 <= length <= 254:  # an ADU is at most 260 bytes
            return
        answer = modbus_answer(header + await asyncio.wait_for(reader.readexactly(length - 1), timeout=IDLE), svc)
        if answer is None:
            return
        writer.write(answer)
        await writer.drain()


# --- S7comm over ISO-on-TCP (port 102) ---------------------------------------------------------
# RFC 1006 (TPKT) and ISO 8073 (COTP) framing; S7comm as Wireshark's s7comm dissector decodes it;
# SZL (system status list) record layouts from Siemens' "System Software for S7-300/400 System and
# Standard Functions" manual (SZL-ID 0x0011 module identification, 0x001C component identification).

def _tpkt(payload: bytes) -> bytes:
    return struct.pack(">BBH", 3, 0, len(payload) + 4) + payload


def _s7_name(value: Any, size: int) -> bytes:
    """An order number (20 bytes, blank-padded) or a name (32 bytes, NUL-padded and -terminated)."""
    return _text(value, size).ljust(size, b" ") if size == 20 else _text(value, size - 1).ljust(size, b"\x00")


def _firmware_bytes(value: Any) -> bytes:
    parts = [int(p) for p in str(value or "0.0.0").split(".")[:3] if p.isdigit()] + [0, 0, 0]
    return bytes([0x56, parts[0] & 0xFF, parts[1] & 0xFF, parts[2] & 0xFF])  # 'V', then x.y.z


def szl_0011(svc: dict[str, Any]) -> bytes:
    """SZL-ID 0x0011 (identification of the module): records of 28 bytes, index + order number (20
    bytes, blank-padded) + BGTyp + Ausbg + Ausbe; index 1 the module, 6 the basic hardware, 7 the
    basic firmware (blank order number, 'V' and the version in Ausbg/Ausbe)."""
    records = [
        struct.pack(">H", 0x0001) + _s7_name(svc.get("module"), 20) + b"\x00\xc0\x00\x00\x00\x00",
        struct.pack(">H", 0x0006) + _s7_name(svc.get("basic_hardware"), 20) + b"\x00\xc0\x00\x00\x00\x00",
        struct.pack(">H", 0x0007) + b" " * 20 + b"\x00\xc0" + _firmware_bytes(svc.get("firmware")),
    ]
    return struct.pack(">HHHH", 0x0011, 0x0000, 28, len(records)) + b"".join(records)


def szl_001c(svc: dict[str, Any]) -> bytes:
    """SZL-ID 0x001C (component identification): records of 34 bytes, index + 32-byte name (NUL-padded):
    1 automation system name, 2 module name, 3 plant identification, 4 copyright, 5 serial number,
    7 module type name."""
    fields = [(1, "system_name"), (2, "module_type"), (3, "plant_id"), (4, "copyright"), (5, "serial"),
              (7, "module_type")]
    records = [struct.pack(">H", index) + _s7_name(svc.get(key), 32) for index, key in fields]
    return struct.pack(">HHHH", 0x001C, 0x0000, 34, len(records)) + b"".join(records)


def s7_answer(request: bytes, svc: dict[str, Any]) -> bytes | None:
    """The answer to one TPKT frame, or None (a request this read-only device does not serve: the
    connection is closed, as a CPU drops a peer that sends what it cannot parse)."""
    try:
        return _s7_answer(request, svc)
    except (ValueError, IndexError, struct.error):  # a lying length or a short frame: dropped like any other
        return None


def _s7_answer(request: bytes, svc: dict[str, Any]) -> bytes | None:
    if len(request) < 7 or request[0] != 3:
        return None
    if request[5] == 0xE0:  # COTP connection request -> connection confirm with the TSAPs asked for
        tsaps = request[11:]
        if len(tsaps) > 64:
            return None
        return _tpkt(bytes([6 + len(tsaps), 0xD0]) + request[8:10] + b"\x00\x01\x00" + tsaps)
    if request[4:7] != b"\x02\xf0\x80" or len(request) < 17 or request[7] != 0x32:
        return None
    rosctr, pdu_ref = request[8], request[11:13]
    param_len, data_len = struct.unpack(">HH", request[13:17])
    if rosctr == 0x01 and request[17:18] == b"\xf0":  # Job: setup communication -> Ack-Data, the same values
        params = b"\xf0\x00" + request[19:25]
        return _tpkt(b"\x02\xf0\x80\x32\x03\x00\x00" + pdu_ref + struct.pack(">HH", len(params), 0) + b"\x00\x00"
                     + params)
    if rosctr == 0x07 and param_len == 8 and request[17:23] == b"\x00\x01\x12\x04\x11\x44" and data_len >= 8:
        # Userdata, CPU functions, read SZL: the SZL-ID is in the data part after return code, size and length
        data = request[17 + param_len:17 + param_len + data_len]
        if len(data) < 6 or len(request) < 25:
            return None
        szl_id = struct.unpack(">H", data[4:6])[0]
        if szl_id == 0x0011:
            szl = szl_0011(svc)
        elif szl_id == 0x001C:
            szl = szl_001c(svc)
        else:
            return None
        params = b"\x00\x01\x12\x08\x12\x84\x01" + bytes([request[24]]) + b"\x00\x00\x00\x00"
        payload = b"\xff\x09" + struct.pack(">H", len(szl)) + szl
        return _tpkt(b"\x02\xf0\x80\x32\x07\x00\x00" + pdu_ref + struct.pack(">HH", len(params), len(payload))
                     + params + payload)
    return None  # any write, download, run/stop or other job: not served


async def serve_s7(svc: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for _ in range(MAX_REQUESTS):
        header = await asyncio.wait_for(reader.readexactly(4), timeout=IDLE)
        length = struct.unpack(">H", header[2:4])[0]
        if header[0] != 3 or not 7 <= length <= 1024:
            return
        answer = s7_answer(header + await asyncio.wait_for(reader.readexactly(length - 4), timeout=IDLE), svc)
        if answer is None:
            return
        writer.write(answer)
        await writer.drain()


# --- BACnet/IP (UDP 47808) ---------------------------------------------------------------------
# ANSI/ASHRAE 135: Annex J (BVLC), clause 6 (NPDU), 15.5 ReadProperty, 20.2 application tags;
# properties of the Device object: 75 object-identifier, 77 object-name, 120 vendor-identifier,
# 121 vendor-name, 70 model-name, 44 firmware-revision, 12 application-software-version,
# 28 description, 58 location.

BACNET_DEVICE = 8
BACNET_WILDCARD = 0x3FFFFF
_BACNET_STRINGS = {77: "object_name", 121: "vendor_name", 70: "model_name", 44: "firmware",
                   12: "application_software", 28: "description", 58: "location"}


def _bacnet_value(prop: int, svc: dict[str, Any]) -> bytes | None:
    """The property's value, application-tagged, or None when the device does not have it."""
    instance = int(svc.get("instance", 0)) & BACNET_WILDCARD
    if prop == 75:
        return b"\xc4" + struct.pack(">I", (BACNET_DEVICE << 22) | instance)
    if prop == 120:
        vendor = int(svc.get("vendor_id", 0))
        return b"\x21" + bytes([vendor]) if vendor < 256 else b"\x22" + struct.pack(">H", vendor & 0xFFFF)
    key = _BACNET_STRINGS.get(prop)
    if key is None or svc.get(key) is None:
        return None
    text = b"\x00" + str(svc[key]).encode("utf-8")[:MAX_STRING]  # character set 0: UTF-8 (ANSI X3.4 before)
    tag = bytes([0x70 | len(text)]) if len(text) <= 4 else b"\x75" + bytes([len(text)])  # tag 7, its length
    return tag + text


def bacnet_answer(request: bytes, svc: dict[str, Any]) -> bytes | None:
    """The answer to one BACnet/IP datagram: a ReadProperty of this device's Device object gets a
    ComplexACK or, for a property it does not have, an Error (unknown-property); anything else none."""
    if len(request) < 17 or request[0] != 0x81 or request[1] not in (0x0A, 0x0B):
        return None
    npdu = request[4:]
    if npdu[0] != 0x01 or npdu[1] & 0x80:  # a network-layer message, not an APDU
        return None
    apdu = npdu[2:]
    if len(apdu) < 10 or apdu[0] & 0xF0 != 0x00 or apdu[3] != 0x0C or apdu[4] != 0x0C:
        return None  # not a confirmed ReadProperty with an object identifier
    invoke = apdu[2]
    object_id = struct.unpack(">I", apdu[5:9])[0]
    instance = int(svc.get("instance", 0)) & BACNET_WILDCARD
    if object_id >> 22 != BACNET_DEVICE or (object_id & BACNET_WILDCARD) not in (instance, BACNET_WILDCARD):
        return None
    if apdu[9] != 0x19 or len(apdu) < 11:  # property identifier, one byte (every property asked here)
        return None
    prop = apdu[10]
    tagged = _bacnet_value(prop, svc)
    if tagged is None:  # Error PDU: error class property (2), error code unknown-property (32)
        body = bytes([0x50, invoke, 0x0C, 0x91, 0x02, 0x91, 0x20])
    else:
        body = (bytes([0x30, invoke, 0x0C, 0x0C]) + struct.pack(">I", (BACNET_DEVICE << 22) | instance)
                + bytes([0x19, prop, 0x3E]) + tagged + b"\x3f")
    npdu_out = b"\x01\x00"  # version 1, no network layer information, no reply expected
    return b"\x81\x0a" + struct.pack(">H", 4 + len(npdu_out) + len(body)) + npdu_out + body


class BacnetProtocol(asyncio.DatagramProtocol):
    def __init__(self, svc: dict[str, Any]) -> None:
        self.svc = svc

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = bacnet_answer(data[:1500], self.svc)
        if answer is not None:
            self.transport.sendto(answer, addr)  # type: ignore[attr-defined]


# --- EtherNet/IP (TCP 44818) -------------------------------------------------------------------
# ODVA, The CIP Networks Library Vol. 2 (EtherNet/IP), 2-4 encapsulation, 2-4.2 ListIdentity (0x63)
# and its CIP Identity item (type 0x0C): protocol version, socket address (big-endian), then the
# Identity object's attributes little-endian: vendor, device type, product code, revision, status,
# serial number, product name (SHORT_STRING), state.

def enip_answer(request: bytes, svc: dict[str, Any], ip: str) -> bytes | None:
    """The answer to one encapsulation message: ListIdentity gets the identity item; anything else none."""
    if len(request) < 24:
        return None
    command, length = struct.unpack("<HH", request[:4])
    if command != 0x63 or length != 0:
        return None
    major, _, minor = str(svc.get("revision", "1.1")).partition(".")
    name = _text(svc.get("product_name"), 32)
    address = bytes(int(p) for p in ip.split("."))
    item = (struct.pack("<H", 1) + struct.pack(">HH", 2, 44818) + address + b"\x00" * 8
            + struct.pack("<HHHBBHI", int(svc.get("vendor_id", 0)), int(svc.get("device_type", 0)),
                          int(svc.get("product_code", 0)), int(major or 0) & 0xFF, int(minor or 0) & 0xFF,
                          int(svc.get("status", 0)), int(svc.get("serial", 0)))
            + bytes([len(name)]) + name + bytes([int(svc.get("state", 0)) & 0xFF]))
    data = struct.pack("<HHH", 1, 0x0C, len(item)) + item
    # the reply's header: same command, its length, session 0, status 0, the request's sender context, options 0
    return struct.pack("<HHII", 0x63, len(data), 0, 0) + request[12:20] + b"\x00" * 4 + data


async def serve_enip(svc: dict[str, Any], ip: str, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
    for _ in range(MAX_REQUESTS):
        header = await asyncio.wait_for(reader.readexactly(24), timeout=IDLE)
        length = struct.unpack("<H", header[2:4])[0]
        if length > 512:
            return
        body = await asyncio.wait_for(reader.readexactly(length), timeout=IDLE) if length else b""
        answer = enip_answer(header + body, svc, ip)
        if answer is None:
            return
        writer.write(answer)
        await writer.drain()
