"""The nmap XML reader (expat feeding C's TreeBuilder) keeps defusedxml's protections: entity
declarations, unparsed entities and external references are refused, parameter entities are never
parsed, and the plain DOCTYPE nmap writes is fine."""

from __future__ import annotations

import pytest

from scanner.collect.nmap import parse_nmap_xml
from scanner.errors import InputError

HOST = ('<host><status state="up"/><address addr="198.51.100.5" addrtype="ipv4"/>'
        '<ports><port protocol="tcp" portid="80"><state state="open"/><service name="http"/></port></ports></host>')
NMAP = '<nmaprun scanner="nmap" version="7.93">' + HOST + '<runstats><finished/></runstats></nmaprun>'


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/passwd">]>',                      # XXE
    '<!DOCTYPE nmaprun [<!ENTITY % p SYSTEM "http://203.0.113.9/x.dtd"> %p;]>',          # parameter entity
    '<!DOCTYPE nmaprun [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>',                   # expansion bomb
    '<!DOCTYPE nmaprun [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "y" NDATA n>]>',      # unparsed entity
])
def test_entity_declarations_are_refused(doctype: str) -> None:
    with pytest.raises(InputError, match=r"refusing unsafe XML \((EntitiesForbidden|ExternalReferenceForbidden)\)"):
        parse_nmap_xml('<?xml version="1.0"?>' + doctype + NMAP, "hostile.xml")


def test_an_undefined_entity_is_malformed_xml_with_its_line() -> None:
    with pytest.raises(InputError) as caught:
        parse_nmap_xml('<?xml version="1.0"?>\n<nmaprun>\n&x;</nmaprun>', "bad.xml")
    assert "malformed nmap XML: undefined entity" in str(caught.value) and caught.value.line == 3


def test_nmaps_own_doctype_and_an_external_dtd_that_is_never_fetched_parse() -> None:
    for doctype in ("<!DOCTYPE nmaprun>", '<!DOCTYPE nmaprun SYSTEM "http://203.0.113.9/nmap.dtd">'):
        devices, errors, meta = parse_nmap_xml('<?xml version="1.0"?>' + doctype + NMAP, "nmap.xml")
        assert [d.ip for d in devices] == ["198.51.100.5"] and not errors and meta["nmap_version"] == "7.93"


def test_text_split_across_reads_and_an_empty_file() -> None:
    devices, _, _ = parse_nmap_xml(NMAP.replace('name="http"', 'name="http" product="' + "x" * 3_000_000 + '"'))
    assert devices[0].services[0].product is not None
    with pytest.raises(InputError, match="no element found"):
        parse_nmap_xml(b"", "empty.xml")
