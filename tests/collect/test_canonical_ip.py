"""``canonical_ip``'s fast path (the C socket functions) says exactly what ``ipaddress`` says."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.collect.flows.inputs import _fast_canonical, canonical_ip


def reference(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


HEXTET = st.one_of(st.integers(0, 0xFFFF).map(lambda v: format(v, "x")), st.just("0"), st.just("0000"),
                   st.just("FFFF"), st.just("00001"), st.just(""), st.just("g"), st.just("12345"))


@settings(max_examples=3000)
@given(st.lists(HEXTET, min_size=1, max_size=10).map(":".join))
def test_hextet_texts_like_ipaddress(text: str) -> None:
    fast = _fast_canonical(text)
    assert fast is None or fast == reference(text)
    assert canonical_ip(text) == reference(text)


@settings(max_examples=2000)
@given(st.text(alphabet="0123456789abcdefABCDEF:.%", max_size=45))
def test_any_text_of_address_characters_like_ipaddress(text: str) -> None:
    fast = _fast_canonical(text)
    assert fast is None or fast == reference(text)
    assert canonical_ip(text) == reference(text)


@pytest.mark.parametrize("text", ["::ffff:1.2.3.4", "::ffff:0102:0304", "::1.2.3.4", "::ffff:0:1", "::0:ffff:1:2",
                                  "fe80::1%eth0", "2001:DB8:0::1", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
                                  "1::2:3:4:5:6:7:8", "1:0:0:2:0:0:3:4", "198.51.100.7", "198.51.100.07", "1.2.3"])
def test_known_forms(text: str) -> None:
    """IPv4-mapped addresses: ``inet_ntop`` writes them with a dot, ``ipaddress`` (3.11) in hex:
    those go to ``ipaddress``."""
    assert canonical_ip(text) == reference(text)
