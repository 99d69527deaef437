"""OT identification: nmap's read-only OT scripts (s7-info, modbus-discover, bacnet-info, enip-info) in
imported XML become observations, and the fingerprints name vendor, model and firmware from them.

tests/data/ot-nmap.xml holds each script's documented output of a real device (the scripts' own
@output/@xmloutput blocks, nmap 7.93); no --ot is needed to identify an import.
"""

from __future__ import annotations

import json

from conftest import DATA

from scanner.collect.nmap import MAX_VALUE, parse_nmap_xml
from scanner.collect.probes import service_kind
from scanner.identify import identify_device
from scanner.model import Device, Observation

OT_XML = DATA / "ot-nmap.xml"


def _fields(ip: str) -> dict[str, list[str]]:
    devices, errors, _ = parse_nmap_xml(OT_XML.read_bytes(), "ot")
    assert errors == []
    device = next(d for d in devices if d.ip == ip)
    out: dict[str, list[str]] = {}
    for obs in device.observations:
        out.setdefault(obs.field, []).append(obs.value)
    return out


def test_s7_info_fields() -> None:
    fields = _fields("198.51.100.40")
    assert fields == {"s7.module": ["6ES7 315-2AG10-0AB0"], "s7.basic_hardware": ["6ES7 315-2AG10-0AB0"],
                      "s7.version": ["2.6.9"], "s7.system_name": ["SIMATIC 300(1)"],
                      "s7.module_type": ["CPU 315-2 DP"], "s7.serial": ["S C-X4U421302009"],
                      "s7.copyright": ["Original Siemens Equipment"]}


def test_modbus_discover_fields_skip_error_units() -> None:
    assert _fields("198.51.100.41") == {"modbus.slave_id": ["\\xFA\\xFFPM710PowerMeter"],
                                        "modbus.device_id": ["Schneider Electric PM710 v03.110"]}


def test_bacnet_info_fields() -> None:
    fields = _fields("198.51.100.42")
    assert fields["bacnet.vendor_id"] == ["BACnet Stack at SourceForge (260)"]
    assert fields["bacnet.vendor_name"] == ["BACnet Stack at SourceForge"]
    assert fields["bacnet.model_name"] == ["GNU"] and fields["bacnet.firmware"] == ["0.8.2"]
    assert fields["bacnet.application_software"] == ["1.0"] and fields["bacnet.object_name"] == ["SimpleServer"]
    assert "Location" not in json.dumps(fields) and not any("location" in f for f in fields)  # not read


def test_enip_info_fields() -> None:
    fields = _fields("198.51.100.43")
    assert fields == {"enip.device_type": ["Communications Adapter (12)"],
                      "enip.vendor": ["Rockwell Automation/Allen-Bradley (1)"],
                      "enip.product_name": ["1769-L32E Ethernet Port"], "enip.serial": ["0x000000"],
                      "enip.product_code": ["158"], "enip.revision": ["3.7"]}


def test_text_only_script_output_gives_the_same_fields() -> None:
    assert _fields("198.51.100.44") == _fields("198.51.100.40")
    assert _fields("198.51.100.45") == _fields("198.51.100.41")


def test_imported_ot_devices_are_identified(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "--nmap-xml", str(OT_XML), "--no-store", "--policy", "none", "--format", "json")
    assert run.code == 0, run.err
    got = {d["ip"]: (d["vendor"], d["model"], d["firmware"], d["device_class"]) for d in json.loads(run.out)["devices"]}
    assert got["198.51.100.40"] == ("Siemens", "CPU 315-2 DP", "2.6.9", "plc")
    assert got["198.51.100.41"] == ("Schneider Electric", "PM710", "03.110", "meter")
    assert got["198.51.100.43"] == ("Rockwell Automation", "1769-L32E", "3.7", "plc")
    # the open-source BACnet stack's demo server names no maker: unknown, never guessed
    assert got["198.51.100.42"] == (None, None, None, "unknown")


def _identify(*observations: tuple[str, str]) -> tuple[str | None, str | None, str | None, str]:
    device = Device("192.0.2.9", observations=[Observation(f, v, "nmap-script:test", 1) for f, v in observations])
    ident = identify_device(device)
    return ident.vendor, ident.model, ident.firmware, ident.device_class


def test_niagara_station_over_bacnet() -> None:
    """A NiagaraAX station's device object as WootCloud published it (helpnetsecurity.com, 2019)."""
    assert _identify(("bacnet.vendor_name", "Tridium"), ("bacnet.model_name", "NiagaraAX Station"),
                     ("bacnet.application_software", "Tridium 3.8.111"), ("bacnet.firmware", "3.8.111"),
                     ("bacnet.vendor_id", "Tridium Inc. (36)")) == \
        ("Tridium", "NiagaraAX Station", "3.8.111", "building-automation")


def test_near_misses_are_not_identified() -> None:
    # another maker's BACnet gateway in the same article, a Lantronix Modbus gateway (plcscan's README)
    assert _identify(("bacnet.vendor_name", "Carel S.p.A."), ("bacnet.model_name", "PCO1000WB0"))[0] is None
    assert _identify(("modbus.device_id", "Lantronix I WiPo V3.2.25"))[0] is None
    # a revision or firmware alone names no vendor
    assert _identify(("enip.revision", "3.7"), ("s7.version", "2.6.9"))[0] is None
    # 'Schneider' inside another vendor's string is not Schneider Electric
    assert _identify(("modbus.device_id", "Not Schneider Electric PM710"))[0] is None


def test_held_out_s7_module_of_an_interface_cpu() -> None:
    """An ET 200S IM151-8 PN/DP CPU as plcscan's README shows it (github.com/meeas/plcscan): not an example."""
    assert _identify(("s7.module", "6ES7 151-8AB01-0AB0"), ("s7.module_type", "IM151-8 PN/DP CPU"),
                     ("s7.version", "3.2.6"), ("s7.copyright", "Original Siemens Equipment")) == \
        ("Siemens", "IM151-8 PN/DP CPU", "3.2.6", "plc")


def test_device_strings_are_bounded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    huge = "A" * 100_000
    xml = (f'<nmaprun version="7.93"><host><status state="up"/><address addr="198.51.100.9" addrtype="ipv4"/>'
           f'<ports><port protocol="tcp" portid="44818"><state state="open"/><script id="enip-info" output="x">'
           f'<elem key="productName">{huge}</elem><elem key="vendor">{huge}</elem></script></port>'
           f'<port protocol="tcp" portid="502"><state state="open"/><script id="modbus-discover" output="x">'
           + "".join(f'<table key="sid 0x{i:x}"><elem key="Device identification">Unit {i}</elem></table>'
                     for i in range(1, 247)) +
           '</script></port></ports></host><runstats/></nmaprun>')
    devices, _, _ = parse_nmap_xml(xml, "hostile")
    values = [o for o in devices[0].observations]
    assert all(len(o.value) <= MAX_VALUE for o in values)
    assert sum(1 for o in values if o.field == "modbus.device_id") == 8  # an aggressive run's 246 units: the first 8
    assert len(values) == 2 + 8


def test_ot_ports_never_get_an_http_probe() -> None:
    for port in (102, 502, 20000, 44818, 47808):
        assert service_kind(port, None) is None and service_kind(port, "unknown") is None
    assert service_kind(8080, None) == "http"
