"""nmap XML as outside input: forbidden character references, bad addresses and ports, special
files, and city-size files read in bounded memory (issue 18, "Bad input, never an internal error")."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import pytest
from conftest import DATA

from scanner.collect.nmap import (
    import_nmap_xml,
    parse_nmap_stream,
    parse_nmap_xml,
    visible_controls,
)
from scanner.errors import InputError

LAB_XML = DATA / "lab-nmap.xml"

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner="nmap" args="nmap -sV" version="7.93">\n'
TAIL = '<runstats><finished time="1"/><hosts up="1" down="0" total="1"/></runstats>\n</nmaprun>\n'


def host(ip: str = "198.51.100.7", port: str = "23", product: str = "telnetd", addrtype: str = "ipv4") -> str:
    return (f'<host><status state="up" reason="arp-response"/>\n<address addr="{ip}" addrtype="{addrtype}"/>\n'
            f'<ports><port protocol="tcp" portid="{port}"><state state="open" reason="syn-ack"/>'
            f'<service name="telnet" product="{product}" method="probed" conf="10"/></port></ports>\n</host>\n')


def test_forbidden_character_references_are_kept_visible() -> None:
    # nmap writes device-supplied banner bytes as character references XML 1.0 forbids
    xml = HEAD + host(product="Welcome&#x1b;[1;32m ready&#x07;&#7;") + TAIL
    devices, errors, _ = parse_nmap_xml(xml, "scan.xml")
    assert [d.ip for d in devices] == ["198.51.100.7"] and errors == []
    product = devices[0].services[0].product
    assert product == "Welcome\\x1b[1;32m ready\\x07\\x07"
    assert "\x1b" not in product and "\x07" not in product


def test_allowed_references_and_raw_control_bytes() -> None:
    assert visible_controls(b"a&#x41;&#10;&#xD800;&#65534;") == b"a&#x41;&#10;\\ud800\\ufffe"
    assert visible_controls(b"x\x1by\x00\tz\n") == b"x\\x1by\\x00\tz\n"  # tab and newline stay
    devices, _, _ = parse_nmap_xml(HEAD + host(product="ok\x1b[0m") + TAIL)
    assert devices[0].services[0].product == "ok\\x1b[0m"


class Dribble(io.RawIOBase):
    """A reader that hands out a few bytes at a time, so references fall across reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        chunk = self.data[self.pos:self.pos + self.step]
        self.pos += len(chunk)
        return chunk


@pytest.mark.parametrize("step", [1, 3, 7, 64])
def test_references_split_between_reads(step: int) -> None:
    xml = (HEAD + host(product="A&#x1b;B&#x07;C&amp;D") + TAIL).encode()
    devices, _, _ = parse_nmap_stream(Dribble(xml, step), "scan.xml")  # type: ignore[arg-type]
    assert devices[0].services[0].product == "A\\x1bB\\x07C&D"


def test_invalid_address_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(HEAD + host() + host(ip="198.51.100.300") + TAIL)
    with pytest.raises(InputError) as err:
        import_nmap_xml([str(bad)])
    assert err.value.file == str(bad) and err.value.line == 9
    assert "invalid ipv4 address '198.51.100.300'" in str(err.value)


def test_address_of_the_wrong_family_and_bad_mac() -> None:
    with pytest.raises(InputError, match="is not ipv6"):
        parse_nmap_xml(HEAD + host(ip="198.51.100.9", addrtype="ipv6") + TAIL, "x.xml")
    xml = HEAD + host().replace('addrtype="ipv4"/>', 'addrtype="ipv4"/><address addr="00:11:22:33:44" addrtype="mac"/>') + TAIL
    with pytest.raises(InputError, match="invalid MAC address") as err:
        parse_nmap_xml(xml, "x.xml")
    assert err.value.line == 5


@pytest.mark.parametrize("port", ["65536", "-1", "99999999999", "http"])
def test_port_outside_range_names_the_line(port: str) -> None:
    with pytest.raises(InputError, match="not in 0-65535") as err:
        parse_nmap_xml(HEAD + host(port=port) + TAIL, "ports.xml")
    assert err.value.file == "ports.xml" and err.value.line == 6


def test_port_edges_are_accepted() -> None:
    for port in ("0", "65535"):
        devices, _, _ = parse_nmap_xml(HEAD + host(port=port) + TAIL)
        assert devices[0].services[0].port == int(port)


def test_fifo_and_device_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "scan.xml"
    os.mkfifo(fifo)  # no writer: a plain open() would wait for ever
    with pytest.raises(InputError, match="is a FIFO, not a regular nmap XML file") as err:
        import_nmap_xml([str(fifo)])
    assert err.value.file == str(fifo)
    with pytest.raises(InputError, match="is a device, not a regular nmap XML file"):
        import_nmap_xml(["/dev/zero"])
    with pytest.raises(InputError, match="is a directory"):
        import_nmap_xml([str(tmp_path)])


def test_regular_files_read_as_before() -> None:
    devices, errors, inputs = import_nmap_xml([str(LAB_XML)])
    assert len(devices) == 13 and errors == [] and inputs[0]["nmap_version"] == "7.93"
    assert parse_nmap_xml(LAB_XML.read_bytes())[0] == devices


def test_two_roots_or_wrong_root_are_input_errors() -> None:
    with pytest.raises(InputError, match="not nmap XML output"):
        parse_nmap_xml("<html><body>hi</body></html>", "page.xml")
    with pytest.raises(InputError, match="malformed nmap XML"):
        parse_nmap_xml(HEAD, "cut.xml")
    with pytest.raises(InputError, match="malformed nmap XML"):
        parse_nmap_xml("", "empty.xml")


def test_large_file_is_parsed_in_bounded_memory(tmp_path: Path) -> None:
    """A ~10 MB import keeps far below the file's size in memory: hosts are dropped once read."""
    one = (LAB_XML.read_text().split("<host ", 2)[1]).split("</host>", 1)[0]
    template = "<host " + one + "</host>\n"
    big = tmp_path / "big.xml"
    count = 0
    with big.open("w") as out:
        out.write(HEAD)
        while out.tell() < 10 * 1024 * 1024:
            count += 1
            a, b = divmod(count, 250)
            out.write(template.replace("198.51.100.", f"10.{a % 250}.{b}.", 1))
        out.write(TAIL)
    size = big.stat().st_size
    tracemalloc.start()
    try:
        with big.open("rb") as handle:
            devices, errors, _ = parse_nmap_stream(handle, str(big))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(devices) == count and not errors
    # the devices themselves are the result; the XML tree of 20 MB is never held at once
    assert peak < 150 * 1024 * 1024 and peak < size * 3, (peak, size)
