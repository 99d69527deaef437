"""Property-based tests: every reader of outside input fails only with the project's own error."""

from __future__ import annotations

from pathlib import Path

from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.collect.nmap import parse_nmap_xml
from scanner.collect.probes.http import parse_response
from scanner.collect.probes.net import ProbeFailed
from scanner.collect.probes.protocols import parse_xml, xml_fields
from scanner.config import load_config
from scanner.errors import InputError
from scanner.judge.policy import load_policy
from scanner.judge.waivers import load_waivers
from scanner.knowledge.yamlfile import loads

LAB_XML = (DATA / "lab-nmap.xml").read_bytes()
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=2000))
def test_nmap_xml_arbitrary_bytes(data: bytes) -> None:
    try:
        parse_nmap_xml(data, "fuzz.xml")
    except InputError:
        pass


@FUZZ
@given(st.integers(min_value=0, max_value=len(LAB_XML)), st.binary(max_size=50))
def test_nmap_xml_truncated_or_corrupted(cut: int, junk: bytes) -> None:
    try:
        devices, _, _ = parse_nmap_xml(LAB_XML[:cut] + junk, "fuzz.xml")
    except InputError:
        return
    assert all(d.ip for d in devices)


@FUZZ
@given(st.binary(max_size=3000))
def test_http_response_parser(data: bytes) -> None:
    try:
        resp = parse_response(data)
    except ProbeFailed:
        return
    resp.title()
    resp.header("server")


@FUZZ
@given(st.text(max_size=300))
def test_http_response_with_valid_status_line(rest: str) -> None:
    try:
        parse_response(b"HTTP/1.1 200 OK\r\n" + rest.encode("utf-8", "surrogateescape"))
    except ProbeFailed:
        pass


@FUZZ
@given(st.binary(max_size=2000))
def test_untrusted_xml(data: bytes) -> None:
    try:
        xml_fields(parse_xml(data), {"Manufacturer": "onvif.manufacturer"})
    except ProbeFailed:
        pass


YAML_TEXT = st.text(alphabet=st.sampled_from(list("abc:-[]{}#&*!|>'\"\n\t 0123456789,.?")), max_size=200)


@FUZZ
@given(YAML_TEXT)
def test_yaml_loader(text: str) -> None:
    try:
        loads(text, "fuzz.yaml")
    except InputError:
        pass


@FUZZ
@given(YAML_TEXT)
def test_policy_config_waivers(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    path = Path(tmp_path_factory.mktemp("fuzz")) / "doc.yaml"
    path.write_text(text)
    for loader in (load_policy, load_config, load_waivers):
        try:
            loader(path)
        except InputError:
            pass


@FUZZ
@given(st.dictionaries(st.sampled_from(["name", "extends", "rules", "fail_on", "description"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=3),
                                 st.dictionaries(st.sampled_from(["banned-vendor", "wifi-tracking", "x"]),
                                                 st.one_of(st.none(), st.booleans(), st.integers(),
                                                           st.dictionaries(st.sampled_from(
                                                               ["severity", "vendors", "enabled", "references"]),
                                                               st.one_of(st.integers(), st.text(max_size=5),
                                                                         st.lists(st.text(max_size=5), max_size=2)),
                                                               max_size=3)),
                                                 max_size=3)),
                       max_size=5))
def test_structured_policies(tmp_path_factory, doc: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    import yaml

    path = Path(tmp_path_factory.mktemp("fuzz")) / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        load_policy(path)
    except InputError:
        pass
