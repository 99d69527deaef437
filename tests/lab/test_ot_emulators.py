"""The lab's industrial-protocol emulators (scanner/lab/ot.py): they answer the exact requests nmap's
read-only identification scripts send, as the scripts parse them, and refuse everything else.

The request bytes below are copied from the scripts' sources (nmap 7.93, /usr/share/nmap/scripts/).
The last tests start the emulators on loopback addresses and run the real nmap scripts through
``cityscan scan --ot`` (root: ports below 1024 and nmap's raw UDP scan); nothing leaves loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.lab import ot
from scanner.lab.devices import load_devices

SPECS = {s.name: s for s in load_devices()}
OT_DEVICES = ("siemens-s7-300", "schneider-pm710", "tridium-jace", "rockwell-compactlogix")


def _svc(name: str) -> dict:  # type: ignore[type-arg]
    return SPECS[name].services[0]


def _z(data: bytes, one_based: int) -> str:
    """Lua's ``string.unpack("z", data, offset)``: a NUL-terminated string at a 1-based offset."""
    return data[one_based - 1:].split(b"\0", 1)[0].decode("latin-1")


# --- S7comm: s7-info's five packets ------------------------------------------------------------

COTP = bytes.fromhex("0300001611e00000001400c1020100c2020102c0010a")
ROSCTR_SETUP = bytes.fromhex("0300001902f08032010000000000080000f0000001000101e0")
SZL_0011 = bytes.fromhex("0300002102f080320700000000000800080001120411440100ff09000400110001")
SZL_001C = bytes.fromhex("0300002102f080320700000000000800080001120411440100ff090004001c0001")


def test_s7_answers_as_s7_info_parses_them() -> None:
    svc = _svc("siemens-s7-300")
    confirm = ot.s7_answer(COTP, svc)
    assert confirm is not None and confirm[5] == 0xD0  # byte 6: connection confirm
    assert struct.unpack(">H", confirm[2:4])[0] == len(confirm)
    setup = ot.s7_answer(ROSCTR_SETUP, svc)
    assert setup is not None and setup[7] == 0x32 and setup[8] == 0x03  # ack-data
    first = ot.s7_answer(SZL_0011, svc)
    assert first is not None and first[7] == 0x32 and len(first) >= 125
    assert _z(first, 44).strip() == "6ES7 315-2AG10-0AB0" and _z(first, 72).strip() == "6ES7 315-2AG10-0AB0"
    assert ".".join(str(b) for b in first[122:125]) == "2.6.9"  # bytes 123-125
    second = ot.s7_answer(SZL_001C, svc)
    assert second is not None and second[30] != 0x1C  # byte 31 is not 0x1c: s7-info adds 4 to its offsets
    assert len(second) > 180
    assert (_z(second, 44), _z(second, 78), _z(second, 180), _z(second, 146), _z(second, 112)) == (
        "SIMATIC 300(1)", "CPU 315-2 DP", "S C-X4U421302009", "Original Siemens Equipment", "")


def test_s7_refuses_anything_but_identification() -> None:
    svc = _svc("siemens-s7-300")
    write_var = bytes.fromhex("0300002402f08032010000000000" "0e0005" "0501120a10020001000083000000" "000401" "00")
    plc_stop = bytes.fromhex("0300002102f0803201000000000010000029000000000009505f50524f4752414d")
    other_szl = SZL_0011.replace(bytes.fromhex("00110001"), bytes.fromhex("01310001"))
    for request in (write_var, plc_stop, other_szl, b"", b"\x03\x00\x00\x07\x02\xf0", b"GET / HTTP/1.0\r\n\r\n"):
        assert ot.s7_answer(request, svc) is None


# --- Modbus: modbus-discover's Report Slave ID and Read Device Identification --------------------

def _mbap(unit: int, pdu: bytes) -> bytes:
    return b"\0\0\0\0\0" + bytes([len(pdu) + 1, unit]) + pdu


def test_modbus_answers_as_modbus_discover_parses_them() -> None:
    svc = _svc("schneider-pm710")
    slave = ot.modbus_answer(_mbap(1, b"\x11"), svc)
    assert slave is not None and slave[7] == 0x11
    assert slave[9:9 + slave[8]] == b"\xfa\xffPM710PowerMeter"
    ident = ot.modbus_answer(_mbap(1, b"\x2b\x0e\x01\x00"), svc)
    assert ident is not None and ident[7] == 0x2B and len(ident) >= 15
    assert ident[11] == 0x00 and ident[13] == 3  # no more follows; three objects
    objects, offset = [], 14
    for _ in range(ident[13]):
        size = ident[offset + 1]
        objects.append(ident[offset + 2:offset + 2 + size].decode())
        offset += 2 + size
    assert " ".join(objects) == "Schneider Electric PM710 v03.110"


def test_modbus_is_read_only() -> None:
    svc = _svc("schneider-pm710")
    for function in (0x05, 0x06, 0x0F, 0x10, 0x16, 0x17, 0x03, 0x08):  # writes, a register read, diagnostics
        answer = ot.modbus_answer(_mbap(1, bytes([function, 0, 1, 0, 1])), svc)
        assert answer is not None and answer[7] == function | 0x80 and answer[8] == 0x01
    assert ot.modbus_answer(_mbap(1, b"\x2b\x0e\x01\x09"), svc)[7:9] == b"\xab\x02"  # type: ignore[index]
    assert ot.modbus_answer(b"\x00\x01\x00\x05\x00\x02\x01\x11", svc) is None  # not protocol 0
    assert ot.modbus_answer(b"\x00", svc) is None


# --- BACnet/IP: bacnet-info's ReadProperty requests ---------------------------------------------

def _read_property(prop: int, instance: int = 0x3FFFFF) -> bytes:
    """bacnet-info's send_query(): BVLC, NPDU expecting a reply, confirmed ReadProperty of the device object."""
    return struct.pack(">BBHBBBBBBBIBB", 0x81, 0x0A, 0x11, 0x01, 0x04, 0x00, 0x05, 0x01, 0x0C, 0x0C,
                       (8 << 22) | instance, 0x19, prop)


def _field_size(packet: bytes) -> str:
    """bacnet-info's field_size(), in Python."""
    value = packet[17]
    if value % 0x10 < 5:
        size, offset = value % 0x10 - 1, 18
    else:
        size, offset = packet[18] - 1, 19
    return packet[offset + 1:offset + 1 + size].decode()


def test_bacnet_answers_as_bacnet_info_parses_them() -> None:
    svc = _svc("tridium-jace")
    first = ot.bacnet_answer(_read_property(0x4B), svc)
    assert first is not None and first[0] == 0x81 and first[6] != 0x50
    assert int.from_bytes(first[19:22], "big") == 1  # Object-identifier: instance at bytes 20-22
    vendor = ot.bacnet_answer(_read_property(0x78), svc)
    assert vendor is not None and vendor[17] == 0x21 and vendor[18] == 36
    got = {prop: _field_size(ot.bacnet_answer(_read_property(prop), svc) or b"") for prop in (0x79, 0x2C, 0x0C, 0x4D, 0x46)}
    assert got == {0x79: "Tridium", 0x2C: "3.8.111", 0x0C: "Tridium 3.8.111", 0x4D: "Station_1",
                   0x46: "NiagaraAX Station"}


def test_bacnet_answers_only_reads_of_its_own_device() -> None:
    svc = _svc("tridium-jace")
    error = ot.bacnet_answer(_read_property(0x1F), svc)  # a property it does not have: Error PDU
    assert error is not None and error[6] == 0x50
    assert ot.bacnet_answer(_read_property(0x4B, instance=77000), svc) is None  # another device
    write = bytearray(_read_property(0x4D))
    write[9] = 0x0F  # WriteProperty
    assert ot.bacnet_answer(bytes(write), svc) is None
    assert ot.bacnet_answer(b"\x81\x0b\x00\x0c\x01\x20\xff\xff\x00\xff\x10\x08", svc) is None  # a Who-Is
    assert ot.bacnet_answer(b"\x81", svc) is None


# --- EtherNet/IP: enip-info's ListIdentity ------------------------------------------------------

ENIP_QUERY = bytes.fromhex("63000000000000000000000000000000c1debed100000000")


def test_enip_answers_as_enip_info_parses_it() -> None:
    answer = ot.enip_answer(ENIP_QUERY, _svc("rockwell-compactlogix"), "198.51.100.53")
    assert answer is not None and answer[0] == 0x63 and answer[26] == 0x0C
    assert answer[12:20] == ENIP_QUERY[12:20]  # the sender context comes back
    assert answer[36:40] == bytes([198, 51, 100, 53])
    vendor, device_type, code, major, minor, status, serial = struct.unpack("<HHHBBHI", answer[48:62])
    assert (vendor, device_type, code, f"{major}.{minor}", status, serial) == (1, 12, 158, "3.7", 0x30, 0)
    name = answer[63:63 + answer[62]].decode()
    assert name == "1769-L32E Ethernet Port" and answer[63 + len(name)] == 3


def test_enip_answers_nothing_else() -> None:
    svc = _svc("rockwell-compactlogix")
    register_session = bytes.fromhex("6500040000000000000000000000000000000000000000000100" "0000")
    assert ot.enip_answer(register_session, svc, "198.51.100.53") is None
    assert ot.enip_answer(ENIP_QUERY[:10], svc, "198.51.100.53") is None


def test_every_ot_lab_device_is_marked_and_sourced() -> None:
    for name in OT_DEVICES:
        spec = SPECS[name]
        assert spec.ot and spec.expect.get("vendor") and spec.expect.get("model") and len(spec.sources) >= 2
    assert not any(s.ot for s in SPECS.values() if s.name not in OT_DEVICES)


# --- the real nmap scripts, through cityscan --ot, at loopback emulators -------------------------

LOOPBACK = {"siemens-s7-300": "127.0.3.50", "schneider-pm710": "127.0.3.51", "tridium-jace": "127.0.3.52",
            "rockwell-compactlogix": "127.0.3.53"}


SERVE = ("import asyncio, sys; from pathlib import Path; from scanner.lab import emulator; "
         "from scanner.lab.devices import load_device; spec = load_device(Path(sys.argv[1])); spec.ip = sys.argv[2]; "
         "asyncio.run(emulator.serve(spec))")


@pytest.fixture(scope="module")
def loopback_devices() -> Iterator[dict[str, str]]:
    """The four OT lab devices, each served by its emulator on a loopback address of its own."""
    if os.geteuid() != 0 or not shutil.which("nmap"):
        pytest.skip("needs root (ports below 1024, nmap's UDP scan) and nmap")
    procs: list[subprocess.Popen[str]] = []
    try:
        for name, ip in LOOPBACK.items():
            proc = subprocess.Popen([sys.executable, "-c", SERVE, SPECS[name].file, ip], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            procs.append(proc)
            assert proc.stdout is not None and proc.stdout.readline().startswith("ready"), name
        yield LOOPBACK
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def _scan(cli, tmp_path: Path, *extra: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    out = tmp_path / "r.json"
    run = cli("scan", "127.0.3.50-127.0.3.53", "--ports", "80", "--policy", "none", "--no-store", "-q",
              "--format", "json", "--output", str(out), *extra)
    assert run.code == 0, run.err
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_real_nmap_scripts_identify_every_ot_emulator(cli, loopback_devices: dict[str, str],  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    doc = _scan(cli, tmp_path, "--ot")
    by_ip = {d["ip"]: d for d in doc["devices"]}
    for name, ip in loopback_devices.items():
        expect = SPECS[name].expect
        device = by_ip[ip]
        got = {k: device[k] for k in ("vendor", "model", "firmware", "device_class")}
        assert got == {k: expect[k] for k in got}, name
        assert any(o["probe"].startswith("nmap-script:") for o in device["observations"])


def test_without_ot_the_emulators_are_never_asked(cli, loopback_devices: dict[str, str],  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    doc = _scan(cli, tmp_path)
    for device in doc["devices"]:
        assert not device["services"] and not device["observations"] and device["vendor"] is None


# --- bounded: a length field that lies ends the connection, nothing more is read ------------------

class _Writer:
    def __init__(self) -> None:
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        return None


@pytest.mark.parametrize(("serve", "name", "data"), [
    (ot.serve_modbus, "schneider-pm710", b"\x00\x01\x00\x00\xff\xff\x01" + b"A" * 100),   # length 65535
    (ot.serve_modbus, "schneider-pm710", b"\x00\x01\x00\x00\x00\x01\x01"),                # length 1
    (ot.serve_s7, "siemens-s7-300", b"\x03\x00\xff\xff" + b"A" * 100),                     # TPKT 65535
    (ot.serve_s7, "siemens-s7-300", b"GET / HTTP/1.1\r\n\r\n"),                            # not TPKT
    (ot.serve_enip, "rockwell-compactlogix", b"\x63\x00\xff\xff" + b"\x00" * 20 + b"A" * 100),  # 65535 bytes
    (ot.serve_enip, "rockwell-compactlogix", b"\x65\x00\x04\x00" + b"\x00" * 20 + b"\x01\x00\x00\x00"),  # session
])
def test_emulators_end_a_lying_or_foreign_request(serve, name: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    async def run() -> bytes:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        writer = _Writer()
        kwargs = {"ip": "198.51.100.53"} if serve is ot.serve_enip else {}
        try:
            await asyncio.wait_for(serve(_svc(name), reader=reader, writer=writer, **kwargs), timeout=5)
        except asyncio.IncompleteReadError:
            pass  # the client went away mid-request: the emulator's handler closes quietly
        return writer.sent

    assert asyncio.run(run()) == b""


@pytest.mark.parametrize("frame", [
    b"\x03\x00\x01\x10\xff\xe0\x00\x00\x00\x01\x00" + b"\xc1" * 300,   # COTP CR with 300 TSAP bytes
    b"\x03\x00\x00\x21\x02\xf0\x80\x32\x07\x00\x00\x00\x01\x00\x08\x00\xff\x00\x01\x12\x04\x11\x44",  # lying data_len
    b"\x03\x00\x00\x07\x02\xf0\x80",                                    # a frame cut short
])
def test_a_malformed_s7_frame_is_dropped_not_an_error(frame: bytes) -> None:
    from scanner.lab.ot import s7_answer
    assert s7_answer(frame, {"module": "6ES7 315-2AG10-0AB0"}) is None
