"""``parse_ip`` takes exactly what ``ipaddress`` takes (its IPv4 fast path included)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.model.addresses import parse_ip


def reference(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@pytest.mark.parametrize("text", ["198.51.100.7", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3", "1.2.3.4.5",
                                  "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "", "\u0661.2.3.4", "1.2.3.4\x00", "1..2.3",
                                  "+1.2.3.4", "1.2.3.04", "1.2.3.0x1", "0x1.2.3.4", "1.2.3.4/32", "1.2.3.4%eth0",
                                  "2001:db8::1", "::ffff:1.2.3.4", "fe80::1%eth0"])
def test_known_forms(text: str) -> None:
    assert parse_ip(text) == reference(text)


@given(st.lists(st.one_of(st.integers(0, 300).map(str), st.sampled_from(["", "00", "01", "x", " ", "-1", "1e2"])),
                min_size=1, max_size=6).map(".".join))
def test_dotted_text_like_ipaddress(text: str) -> None:
    assert parse_ip(text) == reference(text)
