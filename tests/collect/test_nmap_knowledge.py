"""nmap's own knowledge in XML (NSE script output, OS matches) under the probes' normalised fields.

The script outputs are nmap's own documented outputs (the @output/@xmloutput blocks of the scripts
in nmap 7.93, /usr/share/nmap/scripts) and real device strings with their sources; the XML around
them is what nmap -oX writes.
"""

from __future__ import annotations

from scanner.collect.nmap import parse_nmap_xml
from scanner.identify import identify_device

HEAD = '<?xml version="1.0"?>\n<nmaprun scanner="nmap" args="nmap -sV -O -sC" version="7.93">\n'
TAIL = "<runstats><finished time=\"1\"/></runstats>\n</nmaprun>\n"


def scan(ports: str, extra: str = "") -> str:
    return (HEAD + '<host><status state="up" reason="arp-response"/><address addr="198.51.100.20" addrtype="ipv4"/>'
            f"<ports>{ports}</ports>{extra}</host>\n" + TAIL)


def port(number: int, scripts: str, name: str = "http", proto: str = "tcp") -> str:
    return (f'<port protocol="{proto}" portid="{number}"><state state="open" reason="syn-ack"/>'
            f'<service name="{name}" method="probed" conf="10"/>{scripts}</port>')


def fields(xml: str) -> dict[str, list[tuple[str, int | None]]]:
    devices, _, _ = parse_nmap_xml(xml, "nse.xml")
    out: dict[str, list[tuple[str, int | None]]] = {}
    for obs in devices[0].observations:
        out.setdefault(obs.field, []).append((obs.value, obs.port))
    return out


def test_http_title_structured_and_plain() -> None:
    # http-title.nse @xmloutput, and its @output form as older nmap versions wrote it
    got = fields(scan(port(80, '<script id="http-title" output="Go ahead and ScanMe!">'
                               '<elem key="title">Go ahead and ScanMe!</elem></script>')))
    assert got["http.title"] == [("Go ahead and ScanMe!", 80)]
    got = fields(scan(port(80, '<script id="http-title" output="Wikipedia, the free encyclopedia&#xa;'
                               'Requested resource was http://en.wikipedia.org/wiki/Main_Page"/>')))
    assert got["http.title"] == [("Wikipedia, the free encyclopedia", 80)]


def test_http_title_without_a_title_is_not_a_title() -> None:
    got = fields(scan(port(80, '<script id="http-title" output="Site doesn&apos;t have a title (text/html)."/>')))
    assert "http.title" not in got


def test_ssl_cert_tables_give_subject_issuer_and_names() -> None:
    # ssl-cert.nse @xmloutput (www.paypal.com), with the SAN extension table nmap adds
    cert = ('<script id="ssl-cert" output="Subject: commonName=www.paypal.com/organizationName=PayPal, Inc.">'
            '<table key="subject"><elem key="localityName">San Jose</elem><elem key="countryName">US</elem>'
            '<elem key="stateOrProvinceName">California</elem><elem key="organizationalUnitName">PayPal Production</elem>'
            '<elem key="commonName">www.paypal.com</elem><elem key="organizationName">PayPal, Inc.</elem></table>'
            '<table key="issuer"><elem key="organizationName">VeriSign, Inc.</elem>'
            '<elem key="commonName">VeriSign Class 3 Extended Validation SSL CA</elem><elem key="countryName">US</elem></table>'
            '<table key="extensions"><table><elem key="name">X509v3 Subject Alternative Name</elem>'
            '<elem key="value">DNS:www.paypal.com, IP Address:192.0.2.10</elem></table></table></script>')
    got = fields(scan(port(443, cert, "https")))
    subject = "CN=www.paypal.com,OU=PayPal Production,O=PayPal\\, Inc.,L=San Jose,ST=California,C=US"
    assert got["tls.subject"] == [(subject, 443)]
    assert got["tls.issuer"] == [("CN=VeriSign Class 3 Extended Validation SSL CA,O=VeriSign\\, Inc.,C=US", 443)]
    assert got["tls.san"] == [("DNS:www.paypal.com", 443), ("IP:192.0.2.10", 443)]


def test_ssl_cert_of_an_airos_radio_identifies_it() -> None:
    # the factory certificate of Ubiquiti airOS (recog x509_subjects.xml "CN=UBNT,OU=Technical Support,...")
    cert = ('<script id="ssl-cert" output="Subject: commonName=UBNT/organizationName=Ubiquiti Networks Inc.">'
            '<table key="subject"><elem key="countryName">US</elem><elem key="commonName">UBNT</elem>'
            '<elem key="emailAddress">support@ubnt.com</elem><elem key="localityName">San Jose</elem>'
            '<elem key="organizationName">Ubiquiti Networks Inc.</elem><elem key="stateOrProvinceName">CA</elem>'
            '<elem key="organizationalUnitName">Technical Support</elem></table></script>')
    devices, _, _ = parse_nmap_xml(scan(port(443, cert, "https")))
    identity = identify_device(devices[0])
    assert (identity.vendor, identity.device_class) == ("Ubiquiti", "access-point")


def test_snmp_sysdescr_without_the_uptime_line() -> None:
    # snmp-sysdescr.nse @output
    out = ("HP ETHERNET MULTI-ENVIRONMENT,ROM A.25.80,JETDIRECT,JD117,EEPROM V.28.22,CIDATE 08/09/2006&#xa;"
           "  System uptime: 28 days, 17:18:59 (248153900 timeticks)")
    got = fields(scan(port(161, f'<script id="snmp-sysdescr" output="{out}"/>', "snmp", "udp")))
    want = "HP ETHERNET MULTI-ENVIRONMENT,ROM A.25.80,JETDIRECT,JD117,EEPROM V.28.22,CIDATE 08/09/2006"
    assert got["snmp.sysdescr"] == [(want, 161)]


def test_upnp_info_lines_and_an_axis_camera() -> None:
    # upnp.lua's output lines ("Server:", "Name:", "Manufacturer:", ...) over the description of an
    # AXIS P3301 (rupnp-style fixture quoted in the Rust crate upnp-rs; the values are the device's)
    out = ("&#xa;  192.168.1.102&#xa;      Server: Linux/2.6.35, UPnP/1.0, Portable SDK for UPnP devices/1.6.18"
           "&#xa;      Location: http://192.168.1.102:45895/rootdesc1.xml"
           "&#xa;        Name: AXIS P3301 - 00408CA45086&#xa;        Manufacturer: AXIS"
           "&#xa;        Model Descr: AXIS P3301 Network Fixed Dome Camera&#xa;        Model Name: AXIS P3301"
           "&#xa;        Model Version: P3301")
    xml = scan(port(1900, f'<script id="upnp-info" output="{out}"/>', "upnp", "udp"))
    got = fields(xml)
    assert got["upnp.manufacturer"] == [("AXIS", 1900)] and got["upnp.model_name"] == [("AXIS P3301", 1900)]
    assert got["upnp.model_number"] == [("P3301", 1900)] and got["upnp.server"][0][0].startswith("Linux/2.6.35")
    identity = identify_device(parse_nmap_xml(xml)[0][0])
    assert (identity.vendor, identity.model, identity.device_class) == ("Axis", "P3301", "camera")


def test_rtsp_methods_banner_and_favicon() -> None:
    xml = scan(port(554, '<script id="rtsp-methods" output="&#xa;  DESCRIBE, SETUP, PLAY, TEARDOWN, OPTIONS"/>', "rtsp")
               + port(23, '<script id="banner" output="MikroTik v6.40.8 (bugfix)\\x0D\\x0ALogin:"/>', "telnet")
               + port(80, '<script id="http-favicon" output="Unknown favicon MD5: A3FD8705F010B90E37D42128000F620B"/>'))
    got = fields(xml)
    assert got["rtsp.methods"] == [("DESCRIBE, SETUP, PLAY, TEARDOWN, OPTIONS", 554)]
    assert got["telnet.banner"] == [("MikroTik v6.40.8 (bugfix)\\x0D\\x0ALogin:", 23)]
    assert got["http.favicon_md5"] == [("a3fd8705f010b90e37d42128000f620b", 80)]


def test_os_match_only_when_nmap_is_sure() -> None:
    # osmatch names and CPEs as in nmap-os-db (nmap 7.93)
    osxml = ('<os><osmatch name="MikroTik RouterOS 6.0" accuracy="100" line="1">'
             '<osclass type="router" vendor="MikroTik" osfamily="RouterOS" osgen="6.X" accuracy="100">'
             '<cpe>cpe:/o:mikrotik:routeros:6.0</cpe></osclass></osmatch>'
             '<osmatch name="Linux 2.6.32" accuracy="90" line="2"><osclass type="general purpose" vendor="Linux" '
             'osfamily="Linux" osgen="2.6.X" accuracy="90"><cpe>cpe:/o:linux:linux_kernel:2.6.32</cpe></osclass>'
             '</osmatch></os>')
    got = fields(scan(port(80, ""), osxml))
    assert got["nmap.os"] == [("MikroTik RouterOS 6.0", None)]
    assert got["nmap.os_cpe"] == [("cpe:/o:mikrotik:routeros:6.0", None)]


def test_unknown_scripts_and_closed_ports_add_nothing() -> None:
    closed = ('<port protocol="tcp" portid="8080"><state state="closed" reason="reset"/>'
              '<script id="http-title" output="x"><elem key="title">x</elem></script></port>')
    got = fields(scan(port(80, '<script id="http-methods" output="GET HEAD POST OPTIONS"/>') + closed))
    assert got == {}
