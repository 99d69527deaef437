"""Just enough SNMP (v1/v2c GET) to read sysDescr and sysObjectID, in both directions.

The probe sends GET requests only (never SET); the lab emulator answers them. The decoder
treats every byte as hostile: lengths are checked against the buffer, depth is bounded, and
anything malformed raises :class:`SnmpError`.
"""

from __future__ import annotations

from dataclasses import dataclass

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

INTEGER, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
GET_REQUEST, GET_RESPONSE = 0xA0, 0xA2
NO_SUCH = (0x80, 0x81, 0x82)  # noSuchObject, noSuchInstance, endOfMibView
MAX_PACKET = 65507


class SnmpError(ValueError):
    pass


@dataclass
class Message:
    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    varbinds: list[tuple[str, object]]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _int(n: int) -> bytes:
    return _tlv(INTEGER, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    if len(parts) < 2:
        raise SnmpError(f"bad OID {dotted!r}")
    out = bytearray([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        out.extend(reversed(chunk))
    return _tlv(OID, bytes(out))


def _value(value: object) -> bytes:
    if value is None:
        return _tlv(NULL, b"")
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, str) and value.startswith("oid:"):
        return _oid(value[4:])
    if isinstance(value, str):
        return _tlv(OCTET_STRING, value.encode("utf-8"))
    if isinstance(value, bytes):
        return _tlv(OCTET_STRING, value)
    raise SnmpError(f"cannot encode {type(value).__name__}")


def encode(msg: Message) -> bytes:
    binds = b"".join(_tlv(SEQUENCE, _oid(oid) + _value(val)) for oid, val in msg.varbinds)
    pdu = _tlv(msg.pdu_type, _int(msg.request_id) + _int(msg.error_status) + _int(0) + _tlv(SEQUENCE, binds))
    return _tlv(SEQUENCE, _int(msg.version) + _tlv(OCTET_STRING, msg.community) + pdu)


def get_request(community: str, oids: list[str], request_id: int, version: int = 1) -> bytes:
    """An SNMP GET (version 0 = v1, 1 = v2c) for ``oids``."""
    return encode(Message(version, community.encode(), GET_REQUEST, request_id, 0, [(o, None) for o in oids]))


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    if pos + 2 > len(data):
        raise SnmpError("truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise SnmpError("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise SnmpError("length beyond packet")
    return tag, data[pos:pos + length], pos + length


def _decode_oid(raw: bytes) -> str:
    if not raw or len(raw) > 128:
        raise SnmpError("bad OID")
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _expect(data: bytes, pos: int, tag: int, what: str) -> tuple[bytes, int]:
    found, value, pos = _read(data, pos)
    if found != tag:
        raise SnmpError(f"expected {what}")
    return value, pos


def decode(data: bytes) -> Message:
    if len(data) > MAX_PACKET:
        raise SnmpError("packet too large")
    body, _ = _expect(data, 0, SEQUENCE, "message sequence")
    version_raw, pos = _expect(body, 0, INTEGER, "version")
    community, pos = _expect(body, pos, OCTET_STRING, "community")
    pdu_type, pdu, _ = _read(body, pos)
    if pdu_type not in (GET_REQUEST, GET_RESPONSE):
        raise SnmpError(f"unsupported PDU 0x{pdu_type:02x}")
    rid, p = _expect(pdu, 0, INTEGER, "request id")
    status, p = _expect(pdu, p, INTEGER, "error status")
    _, p = _expect(pdu, p, INTEGER, "error index")
    binds_raw, _ = _expect(pdu, p, SEQUENCE, "varbind list")
    varbinds: list[tuple[str, object]] = []
    p = 0
    while p < len(binds_raw) and len(varbinds) < 64:
        bind, p = _expect(binds_raw, p, SEQUENCE, "varbind")
        oid_raw, q = _expect(bind, 0, OID, "OID")
        tag, value, _ = _read(bind, q)
        decoded: object
        if tag == OCTET_STRING:
            decoded = value
        elif tag == OID:
            decoded = "oid:" + _decode_oid(value)
        elif tag == INTEGER:
            decoded = int.from_bytes(value, "big", signed=True) if value else 0
        elif tag == NULL or tag in NO_SUCH:
            decoded = None
        else:
            decoded = value
        varbinds.append((_decode_oid(oid_raw), decoded))
    return Message(int.from_bytes(version_raw, "big", signed=True) if version_raw else 0, community, pdu_type,
                   int.from_bytes(rid, "big", signed=True) if rid else 0,
                   int.from_bytes(status, "big", signed=True) if status else 0, varbinds)
