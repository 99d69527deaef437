from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.collect.probes import snmp


def test_get_request_round_trip() -> None:
    packet = snmp.get_request("public", [snmp.SYS_DESCR, snmp.SYS_OBJECT_ID], 4242)
    msg = snmp.decode(packet)
    assert msg.community == b"public" and msg.request_id == 4242 and msg.pdu_type == snmp.GET_REQUEST
    assert [oid for oid, _ in msg.varbinds] == [snmp.SYS_DESCR, snmp.SYS_OBJECT_ID]


def test_response_values_decode() -> None:
    reply = snmp.Message(1, b"public", snmp.GET_RESPONSE, 7, 0,
                         [(snmp.SYS_DESCR, "Linux gw 4.9"), (snmp.SYS_OBJECT_ID, "oid:1.3.6.1.4.1.8072.3.2.10")])
    msg = snmp.decode(snmp.encode(reply))
    assert msg.varbinds == [(snmp.SYS_DESCR, b"Linux gw 4.9"), (snmp.SYS_OBJECT_ID, "oid:1.3.6.1.4.1.8072.3.2.10")]


@pytest.mark.parametrize("data", [b"", b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x03\x02\x01", b"\x04\x00"])
def test_malformed_packets_raise_snmp_error(data: bytes) -> None:
    with pytest.raises(snmp.SnmpError):
        snmp.decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decoder_never_raises_anything_else(data: bytes) -> None:
    try:
        snmp.decode(data)
    except snmp.SnmpError:
        pass
