"""The groups store of the conn.log fast path: the compiled one (C) and its pure-Python twin agree.

The fast path's answers are compared with the reader's in tests/resolve/test_flows_scale.py, with
each store. Here: the two stores side by side on any sequence of records (hypothesis), sums past
64 bits, and the compiled ``scan`` on hostile blocks (never a crash; a block it refuses leaves
nothing behind). Addresses are data only.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.collect.flows import groups
from scanner.collect.flows.groups import PyGroups
from scanner.collect.flows.zeek import _TRANSPORT

native = groups.native
needs_native = pytest.mark.skipif(native is None, reason="the compiled groups store is not built here")

FIELDS = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "orig_ip_bytes", "resp_ip_bytes")
COLS = (0, 2, 3, 4, 5, 6)
BYTE_COLS = (7, 8)


def test_the_compiled_store_is_built_where_ci_asks_for_it() -> None:
    """CI (.ci/run) installs on a machine with a C compiler and sets CITYSCAN_REQUIRE_NATIVE: a
    build that silently fell back to the slow Python twin fails there."""
    if not os.environ.get("CITYSCAN_REQUIRE_NATIVE"):
        pytest.skip("CITYSCAN_REQUIRE_NATIVE not set (only CI requires the compiled store)")
    from scanner.collect.flows import _native_groups

    assert groups.native is _native_groups


keys = st.tuples(st.sampled_from(["198.51.100.1", "198.51.100.2", "2001:db8::1"]),
                 st.sampled_from(["203.0.113.5", "203.0.113.0/24", "2001:db8::/32"]),
                 st.one_of(st.none(), st.integers(0, 65535)), st.sampled_from(["tcp", "udp", "icmp", "other"]))
counts = st.one_of(st.none(), st.integers(0, 10 ** 19 - 1))
times = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64))
ips = st.one_of(st.none(), st.sampled_from(["203.0.113.5", "203.0.113.6", "203.0.113.7", "203.0.113.8",
                                            "203.0.113.9", "2001:db8::9"]))
one = st.tuples(st.just("one"), keys, times, counts, counts, ips)
row = st.tuples(st.just("row"), keys, st.integers(0, 2 ** 40), st.one_of(st.none(), st.integers(0, 2 ** 100)),
                counts, times, times)


@needs_native
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(samples=st.sampled_from([0, 1, 4]), ops=st.lists(st.one_of(one, row), max_size=60))
def test_both_stores_give_the_same_rows(samples: int, ops: list[tuple[Any, ...]]) -> None:
    assert native is not None
    stores = [native.Groups(samples), PyGroups(samples)]
    for store in stores:
        for op in ops:
            if op[0] == "one":
                store.add_one(*op[1:])
            else:
                store.add_row(*op[1:])
    assert stores[0].rows() == stores[1].rows()
    assert len(stores[0]) == len(stores[1])
    for store in stores:
        store.clear()
        assert store.rows() == [] and len(store) == 0


@needs_native
def test_sums_past_64_bits_are_exact() -> None:
    assert native is not None
    store = native.Groups()
    key = ("198.51.100.1", "203.0.113.5", 443, "tcp")
    for _ in range(5):
        store.add_one(key, 1.0, 10 ** 19 - 1, 10 ** 19 - 1)
    store.add_row(key, 3, 2 ** 100, None, None, 7.5)
    (row,) = store.rows()
    assert row == (key, 8, 5 * (10 ** 19 - 1) + 2 ** 100, 5 * (10 ** 19 - 1), 1.0, 7.5, None, False)
    with pytest.raises(ValueError):
        store.add_one(key, None, -1, None)
    with pytest.raises(OverflowError):
        store.add_row(key, 1, 2 ** 200, None, None, None)


def block(*lines: str) -> bytes:
    return "\n".join(lines).encode()


def plain(src: str = "198.51.100.1", dst: str = "203.0.113.5", port: str = "443", proto: str = "tcp",
          ts: str = "1795000000.25", ob: str = "300", rb: str = "900") -> str:
    return "\t".join((ts, "C1", src, "50000", dst, port, proto, ob, rb))


def scan(store: Any, body: bytes, heads: object = None, label: object = None) -> int:
    return int(store.scan(body, "\t", len(FIELDS), COLS, BYTE_COLS, True, _TRANSPORT, heads, label))


@needs_native
def test_scan_adds_a_plain_block_as_the_records_say() -> None:
    assert native is not None
    store = native.Groups()
    body = block(plain(), plain(ts="1795000001", ob="1", rb="2"), plain(dst="2001:DB8:0::1", proto="udp", port="0053"),
                 plain(proto="icmp", port="8"))
    assert scan(store, body) == 4
    assert store.rows() == [
        (("198.51.100.1", "203.0.113.5", 443, "tcp"), 2, 1203, 301, 1795000000.25, 1795000001.0, None, False),
        (("198.51.100.1", "2001:db8::1", 53, "udp"), 1, 1200, 300, 1795000000.25, 1795000000.25, None, False),
        (("198.51.100.1", "203.0.113.5", None, "icmp"), 1, 1200, 300, 1795000000.25, 1795000000.25, None, False),
    ]


@needs_native
def test_scan_folds_by_the_label_of_the_24_or_of_the_address() -> None:
    assert native is not None
    store = native.Groups(2)
    asked: list[str] = []
    heads = {"203.0.113": "TEST-NET-3", "192.0.2": ""}   # 192.0.2.0/24: its addresses differ

    def label(ip: str) -> str:
        asked.append(ip)
        return "doc-" + ip

    body = block(plain(dst="203.0.113.5"), plain(dst="203.0.113.6"), plain(dst="203.0.113.7"), plain(dst="192.0.2.1"),
                 plain(dst="2001:db8::7"))
    assert scan(store, body, heads, label) == 5
    rows = store.rows()
    assert [(r[0][1], r[1], r[6], r[7]) for r in rows] == [
        ("TEST-NET-3", 3, ["203.0.113.5", "203.0.113.6"], True),
        ("doc-192.0.2.1", 1, ["192.0.2.1"], False),
        ("doc-2001:db8::7", 1, ["2001:db8::7"], False),
    ]
    assert asked == ["192.0.2.1", "2001:db8::7"]


@needs_native
@pytest.mark.parametrize("bad", [
    plain(dst="203.0.113.05"), plain(dst="203.0.113.256"), plain(dst="::ffff:192.0.2.1"), plain(dst="fe80::1%eth0"),
    plain(dst="2001:db8::g"), plain(port="65536"), plain(port=""), plain(port="+1"), plain(proto="TCP"),
    plain(ts="1e9"), plain(ts="."), plain(ts="1.2.3"), plain(ts="1" * 400), plain(ts="-"), plain(ob="-"),
    plain(ob="12345678901234567890"), plain(rb="\u0663"), plain() + "\tx", "\t".join(FIELDS[:-1]), "",
    "#close\t2026", plain().replace("C1", "C\u00e9"), plain().replace("C1", "C" * 70_000),
], ids=lambda value: repr(value)[:40])
def test_scan_refuses_a_block_with_one_odd_line_and_changes_nothing(bad: str) -> None:
    assert native is not None
    store = native.Groups(4)
    assert scan(store, block(plain())) == 1
    before = store.rows()
    for heads in (None, {"203.0.113": "TEST-NET-3"}):
        assert scan(store, block(plain(), plain(src="198.51.100.9"), bad), heads, str) == -1
        assert store.rows() == before


@needs_native
@pytest.mark.parametrize("sep", ["\t\t", "", "\u00e9", "1", "."])
def test_scan_leaves_odd_separators_to_the_python_side(sep: str) -> None:
    assert native is not None
    store = native.Groups()
    body = block(plain()).replace(b"\t", sep.encode())
    assert store.scan(body, sep, len(FIELDS), COLS, BYTE_COLS, True, _TRANSPORT, None, None) == -1
    assert store.rows() == []


@needs_native
@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=400), seed=st.lists(st.integers(0, 255), min_size=1, max_size=8))
def test_scan_takes_any_bytes_without_harm(data: bytes, seed: list[int]) -> None:
    """Random bytes, and plain lines with random bytes put in: a count or -1, never a crash, and
    after -1 nothing changed."""
    assert native is not None
    store = native.Groups(4)
    good = bytearray(block(plain(), plain(dst="2001:db8::1")))
    for i, value in enumerate(seed):
        good[(i * 37 + value) % len(good)] = value
    for body in (data, bytes(good), bytes(good) + data):
        before = store.rows()
        heads = defaultdict(str, {"203.0.113": "x"})   # other /24s: "" (addresses differ), asked one by one
        result = scan(store, body, *((heads, str) if seed[0] % 2 else (None, None)))
        assert result >= 0 or store.rows() == before


# --- found by a review of the C code --------------------------------------------------------------

@needs_native
@pytest.mark.parametrize("field", ["2001:db8::1\x00junk", "2001:db8::\x00zz", "2001:db8::1 ", "2001:db8::x"])
def test_scan_refuses_an_ipv6_field_with_anything_but_hex_digits_and_colons(field: str) -> None:
    """inet_pton stops at a NUL: "2001:db8::1\\0junk" was taken as 2001:db8::1, where the reader
    says the field is not an address."""
    assert native is not None
    store = native.Groups()
    assert scan(store, block(plain(), plain(dst=field))) == -1
    assert scan(store, block(plain(), plain(src=field))) == -1
    assert store.rows() == []


@needs_native
def test_a_nul_in_an_address_is_the_readers_error_on_the_fast_path(tmp_path: Any) -> None:
    from scanner.collect.flows import FlowSummary, read_flows, summarize
    from scanner.collect.flows.summary import summarize_file
    from scanner.errors import InputError

    log = tmp_path / "conn.log"
    rows = [plain(src=f"198.51.100.{i % 200 + 1}") for i in range(2000)] + [plain(dst="2001:db8::1\x00junk")]
    log.write_text("#separator \\x09\n#fields\t" + "\t".join(FIELDS) + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as slow:
        summarize(read_flows(str(log)), FlowSummary())
    with pytest.raises(InputError) as fast:
        summarize_file(str(log), summary=FlowSummary())
    assert (str(fast.value), fast.value.line) == (str(slow.value), slow.value.line) and fast.value.line == 2003


@needs_native
def test_an_uninitialised_or_reentered_store_raises_instead_of_crashing() -> None:
    assert native is not None
    bare = native.Groups.__new__(native.Groups)   # __init__ not called: still a working, empty store
    bare.add_one(("198.51.100.1", "203.0.113.5", 443, "tcp"), 1.0, 1, 1)
    assert len(bare) == 1
    store = native.Groups(4)

    class Sneaky(str):
        def __hash__(self) -> int:
            store.add_one(("198.51.100.2", "203.0.113.6", 80, "tcp"), 2.0, 5, 5, "203.0.113.6")
            return 1

    with pytest.raises(RuntimeError, match="re-entrantly"):
        store.add_one((Sneaky("198.51.100.1"), "203.0.113.5", 443, "tcp"), 1.0, 1, 1, "203.0.113.5")
    assert store.rows() == [] and len(store) == 0


@needs_native
def test_the_same_transport_is_the_same_key_whatever_the_order_of_the_mapping() -> None:
    """The raw key once held the transport's position in the mapping of that call."""
    assert native is not None
    store = native.Groups()
    tcp_first, udp_first = {"tcp": "tcp", "udp": "udp"}, {"udp": "udp", "tcp": "tcp"}
    for transports, proto in ((tcp_first, "tcp"), (udp_first, "udp"), (udp_first, "tcp")):
        assert store.scan(block(plain(proto=proto)), "\t", len(FIELDS), COLS, BYTE_COLS, True, transports, None, None) == 1
    assert [(row[0][3], row[1]) for row in store.rows()] == [("tcp", 2), ("udp", 1)]


@needs_native
@settings(max_examples=3000, deadline=None)
@given(text=st.from_regex(r"[0-9]{1,20}(\.[0-9]{0,25})?|\.[0-9]{1,25}|1[0-9]{9}\.[0-9]{6}", fullmatch=True))
def test_scan_reads_a_time_exactly_as_float_does(text: str) -> None:
    """The scan's exact fast path for times (an integer up to 2^53 over a power of ten up to
    10^22) and its fallback give float()'s value, bit for bit."""
    assert native is not None
    store = native.Groups()
    assert scan(store, block(plain(ts=text))) == 1
    first = store.rows()[0][4]
    assert first is not None and first.hex() == float(text).hex()
