"""Aggregating while reading (issue 16): the fast Zeek conn path gives what the reader gives.

Every answer of ``summarize_file`` is compared with ``summarize(read_flows(...))`` on the same
file: records, exact tuples, per-network aggregates, and the error (file, line, message) for a
bad line. Every test runs twice: with the compiled groups store (C, which reads plain blocks
itself) and with its pure-Python twin. Addresses are data only; nothing connects to them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.collect.flows import FlowSummary, ReadStats, read_flows, summarize
from scanner.collect.flows.summary import summarize_file
from scanner.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, params=["compiled", "python"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test with the compiled groups store (skipped where it is not built) and without."""
    from scanner.collect.flows import groups

    if request.param == "python":
        monkeypatch.setattr(groups, "native", None)
    elif groups.native is None:
        pytest.skip("the compiled groups store is not built here (no C compiler at install)")
    return str(request.param)
HEADER = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
          "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\t"
          "resp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\t"
          "resp_pkts\tresp_ip_bytes\ttunnel_parents\n")


def line(ts: str, src: str, dst: str, port: str = "443", proto: str = "tcp", sport: str = "50000",
         ob: str = "300", rb: str = "900") -> str:
    return f"{ts}\tC1\t{src}\t{sport}\t{dst}\t{port}\t{proto}\t-\t0.1\t10\t20\tSF\t-\t-\t0\tSh\t3\t{ob}\t3\t{rb}\t-\n"


def both(path: Path, max_flows: int = 20_000) -> tuple[FlowSummary, FlowSummary]:
    return (summarize(read_flows(str(path)), FlowSummary(max_flows=max_flows)),
            summarize_file(str(path), summary=FlowSummary(max_flows=max_flows)))


def test_fast_path_equals_the_reader_exact_and_folded(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    rows = [line(f"17950000{i:02d}.5", f"198.18.0.{i % 3 + 1}", f"52.28.{i}.{i % 5 + 1}") for i in range(40)]
    rows += [line("2026-11-23T01:02:03Z", "198.18.0.1", "2001:db8::1"),        # ISO time, IPv6: the slow path
             line("1795000100.0", "198.18.0.2", "8.8.8.8", "8", "icmp"),       # ICMP: no port
             line("1795000101.0", "198.18.0.2", "9.9.9.9", "53", "udp", ob="-", rb="-")]
    log.write_text(HEADER + "".join(rows) + "#close\t2026-11-24-01-01-32\n")
    slow, fast = both(log)
    assert (slow.records, slow.flows) == (fast.records, fast.flows) and fast.records == 43
    assert fast.flows[("198.18.0.2", "8.8.8.8", None, "icmp")].connections == 1
    assert fast.flows[("198.18.0.2", "9.9.9.9", 53, "udp")].bytes is None
    slow, fast = both(log, max_flows=5)
    assert fast.folded and slow.networks == fast.networks and not fast.flows
    assert ROOT.joinpath("tests/data/zeek/conn.log").exists()
    slow, fast = both(ROOT / "tests/data/zeek/conn.log")
    assert slow.flows == fast.flows


@pytest.mark.parametrize("bad", [
    line("1795000000.0", "198.18.0.1", "52.28.0.300"),
    line("1795000000.0", "198.18.0.1", "52.28.0.1", port="70000"),
    line("1795000000.0", "198.18.0.1", "52.28.0.1", proto="sctp"),
    line("1_795_000_000", "198.18.0.1", "52.28.0.1"),
    line("1795000000.0", "198.18.0.1", "52.28.0.1", ob="12x"),
    "1795000000.0\tC1\t198.18.0.1\n",
])
def test_a_bad_line_is_the_same_error_as_the_reader_gives(tmp_path: Path, bad: str) -> None:
    log = tmp_path / "conn.log"
    log.write_text(HEADER + line("1795000000.0", "198.18.0.1", "52.28.0.1") + bad)
    with pytest.raises(InputError) as slow:
        summarize(read_flows(str(log)))
    with pytest.raises(InputError) as fast:
        summarize_file(str(log))
    assert (str(fast.value), fast.value.line) == (str(slow.value), slow.value.line) and fast.value.line == 8


def test_other_formats_go_through_the_reader(tmp_path: Path) -> None:
    slow, fast = both(ROOT / "tests/data/zeek/conn.json.log")
    assert slow.flows == fast.flows and fast.records > 0
    data = tmp_path / "no-header.log"
    data.write_text("#separator \\x09\n#path\tconn\n" + line("1795000000.0", "198.18.0.1", "52.28.0.1"))
    with pytest.raises(InputError, match="data before the #fields header"):
        summarize_file(str(data), "zeek-conn")


# --- the fast path reads blocks of lines as columns: the same answers at block scale ----------------

def big_log(path: Path, rows: int, seed: int, extra: dict[int, str] | None = None, many: bool = False) -> None:
    """A generated conn.log of more than one read block (1 MiB): the rows of ``extra`` replace the
    generated ones (bad lines, odd values), a second header sits in the middle (concatenated logs)."""
    import random

    rng = random.Random(seed)
    out = [HEADER]
    for i in range(rows):
        if extra and i in extra:
            out.append(extra[i])
            continue
        if i == rows // 2:
            out.append("#close\t2026-11-24-01-01-32\n" + HEADER)
        dev = f"198.18.{rng.randrange(4)}.{rng.randrange(1, 60)}"
        if many:   # a new address for most records: folds per network (IPv6 ones too in the first half)
            dst = f"52.{28 + rng.randrange(3)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            if i < rows // 2 and rng.random() < 0.01:
                dst = f"2a05:d014:{rng.randrange(3):x}::{rng.randrange(1, 65536):x}"
        else:
            dst = rng.choice(("52.28.0.7", "35.0.1.2", "8.8.8.8", "2001:db8::1", "2001:DB8:0::1", "9.9.9.9"))
        port, proto = rng.choice((("443", "tcp"), ("0443", "tcp"), ("53", "udp"), ("8", "icmp"), ("0", "unknown_transport")))
        odd = i % 7919 == 5000   # now and then a block with unset fields, read line by line
        ob, rb = rng.choice((("-", "40"), ("12", "-"), ("-", "-"))) if odd else (str(rng.randrange(2000)), "900")
        ts = f"{1795000000 + rng.randrange(2_000_000) * 0.25:.6f}" if not odd else "-"
        out.append(line(ts, dev, dst, port, proto, str(rng.randrange(1024, 65536)), ob, rb))
    out.append("#close\t2026-11-24-01-01-32\n")
    path.write_text("".join(out), encoding="utf-8")


def column_fold(path: Path, max_flows: int, stats: ReadStats | None = None, block: int = 16 * 1024) -> tuple[FlowSummary, int]:
    """``summarize_file``'s way, in blocks of ``block`` bytes (many per test file; 1 MiB in use),
    and how many blocks it read as columns (with the compiled store: how many its scan read)."""
    from scanner.collect.flows.conn_fold import ConnFold
    from scanner.collect.flows.inputs import open_input

    out = FlowSummary(max_flows=max_flows)
    folder = ConnFold(out, str(path), block)
    with open_input(str(path)) as stream:
        folder.read(stream, stats or ReadStats())
    from scanner.collect.flows import groups

    return out, folder.scanned_blocks if groups.native is not None else folder.column_blocks


def same(path: Path, max_flows: int = 20_000, min_columns: int = 0) -> FlowSummary:
    """Fast and reader summaries equal, down to the order of keys and sample addresses; the fast one."""
    slow_stats, fast_stats = ReadStats(), ReadStats()
    slow = summarize(read_flows(str(path), stats=slow_stats), FlowSummary(max_flows=max_flows))
    fast, columns = column_fold(path, max_flows, fast_stats)
    assert columns >= min_columns, f"only {columns} blocks read as columns"
    assert fast.records == slow.records and (fast_stats.units, fast_stats.records) == (slow_stats.units, slow_stats.records)
    assert list(fast.flows.items()) == list(slow.flows.items())
    assert list(fast.networks.items()) == list(slow.networks.items())
    return fast


@pytest.mark.parametrize("max_flows", [20_000, 30, 0])   # exact throughout; folded in the middle of a block; at once
def test_blocks_equal_the_reader_with_ipv6_unset_fields_and_a_second_header(tmp_path: Path, max_flows: int) -> None:
    log = tmp_path / "conn.log"
    big_log(log, 30_000, seed=max_flows)
    assert log.stat().st_size > 2 * 1024 * 1024
    fast = same(log, max_flows, min_columns=150)   # of about 230 blocks
    assert fast.records == 30_000 and (fast.folded if max_flows < 1000 else not fast.folded)


def test_many_addresses_fold_in_a_block_with_the_same_samples(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    big_log(log, 25_000, seed=3, many=True)
    fast = same(log, max_flows=9_000, min_columns=120)   # the 9,001st tuple comes in the middle of a block
    assert fast.folded and any(agg.more_addresses for agg in fast.networks.values())
    assert any(len(agg.addresses) < 4 for agg in fast.networks.values())


def test_odd_but_valid_lines_in_a_block(tmp_path: Path) -> None:
    """Lines the column way does not take (non-ASCII, an empty line, a time with an exponent, a
    CR before the line break) are read line by line, with the same result."""
    log = tmp_path / "conn.log"
    extra = {7000: line("1795000000.5", "198.18.0.1", "52.28.0.7").replace("\tSh\t", "\tSh\u00e9\t"),
             12000: "\n",
             15000: line("1.7950001e9", "198.18.0.1", "52.28.0.7"),
             16000: line("1795000000.5", "198.18.0.1", "52.28.0.7").replace("\n", "\r\n")}
    big_log(log, 20_000, seed=5, extra=extra)
    same(log, min_columns=100)


@pytest.mark.parametrize(("row", "bad"), [
    (9000, line("1795000000.0", "198.18.0.1", "52.28.0.300")),
    (9001, line("1795000000.0", "198.18.0.1", "52.28.0.01")),                        # leading zero
    (9002, line("1795000000.0", "198.18.0.1", "52.28.0.1", port="70000")),
    (9003, line("1795000000.0", "198.18.0.1", "52.28.0.1", sport="65536")),
    (9004, line("1795000000.0", "198.18.0.1", "52.28.0.1", sport="")),
    (9005, line("1795000000.0", "198.18.0.1", "52.28.0.1", proto="sctp")),
    (9006, line("nan", "198.18.0.1", "52.28.0.1")),
    (9007, line("1_795_000_000", "198.18.0.1", "52.28.0.1")),
    (9008, line("1795000000.0", "198.18.0.1", "52.28.0.1", ob="12x")),
    (9009, line("1795000000.0", "198.18.0.1", "52.28.0.1", rb="12345678901234567890")),
    (9010, line("1795000000.0", "198.18.0.1", "52.28.0.1", ob="")),
    (9011, "1795000000.0\tC1\t198.18.0.1\n"),                                      # too few fields
    (9012, line("1795000000.0", "198.18.0.1", "52.28.0.1").replace("\n", "\tx\n")),   # one too many
    (9013, line("1795000000.0", "198.18.0.1", "52.28.0.1", ob="\u0663")),           # an Arabic-Indic digit
    (9014, line("1795000000.0", "198.18.0.1", "52.28.0.1").replace("\tSh\t", "\t" + "x" * 70_000 + "\t")),
], ids=lambda value: str(value)[:12])
def test_a_bad_line_in_a_block_is_the_reader_error(tmp_path: Path, row: int, bad: str) -> None:
    for many, max_flows in ((False, 20_000), (True, 500)):   # exact tuples, and folded per network
        log = tmp_path / "conn.log"
        big_log(log, 20_000, seed=row, extra={row: bad}, many=many)
        with pytest.raises(InputError) as slow:
            summarize(read_flows(str(log)), FlowSummary(max_flows=max_flows))
        with pytest.raises(InputError) as fast:
            summarize_file(str(log), summary=FlowSummary(max_flows=max_flows))
        with pytest.raises(InputError) as small:
            column_fold(log, max_flows)
        assert (str(fast.value), fast.value.line) == (str(slow.value), slow.value.line)
        assert (str(small.value), small.value.line) == (str(slow.value), slow.value.line)
        assert fast.value.line == row + 7   # after the six header lines


@pytest.mark.parametrize("tail", ["1795000000.0\tC1\t198.18.0.1", "", "1795000000.0\tC1",
                                  line("1795000000.0", "198.18.0.1", "52.28.0.1").rstrip("\n")])
def test_a_log_cut_off_in_the_middle_of_a_line(tmp_path: Path, tail: str) -> None:
    """The writer was killed: the last line has no newline. Same records, or the same error
    ("last line, cut off?"), as the reader."""
    log = tmp_path / "conn.log"
    big_log(log, 6_000, seed=11)
    whole = log.read_text(encoding="utf-8").replace("#close\t2026-11-24-01-01-32\n", "")
    log.write_text(whole + tail, encoding="utf-8")
    if tail.count("\t") in (0, 20):   # nothing, or a whole line: read, with or without its newline
        fast = same(log, min_columns=20)
        assert fast.records == 6_000 + bool(tail)
        return
    with pytest.raises(InputError) as slow:
        summarize(read_flows(str(log)))
    with pytest.raises(InputError) as fast:
        column_fold(log, 20_000)
    assert (str(fast.value), fast.value.line) == (str(slow.value), slow.value.line)
    assert "cut off" in str(fast.value)


def test_a_24_split_between_networks_and_addresses_in_none(tmp_path: Path) -> None:
    """Folded per network, a /24 that network boundaries cut (3.64.1.0/24 and 3.2.44.0/24 hold
    several cloud ranges) and addresses in no network (each its own label) are labelled address
    by address, as the reader does."""
    import random

    rng = random.Random(8)
    rows = [HEADER]
    for i in range(12_000):
        dst = rng.choice((f"52.28.{rng.randrange(256)}.{rng.randrange(1, 255)}", f"3.64.1.{rng.randrange(256)}",
                          f"3.2.44.{rng.randrange(256)}", f"192.0.2.{rng.randrange(1, 255)}"))
        rows.append(line(f"{1795000000 + i}.5", f"198.18.0.{rng.randrange(1, 40)}", dst, sport=str(rng.randrange(1024, 65536))))
    log = tmp_path / "conn.log"
    log.write_text("".join(rows), encoding="utf-8")
    fast = same(log, max_flows=300, min_columns=50)
    labels = {network for (_, network, _, _) in fast.networks}
    assert {"3.64.1.0/26", "3.64.1.128/26"} <= labels and any(label.startswith("192.0.2.") for label in labels)


def test_two_logs_into_one_summary_equal_the_reader(tmp_path: Path) -> None:
    """A second file adds to what the first left: exact tuples, and the fold past ``max_flows``."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    big_log(first, 8_000, seed=21)
    big_log(second, 8_000, seed=22, many=True)
    for max_flows in (20_000, 2_000):
        slow = summarize(read_flows(str(second)), summarize(read_flows(str(first)), FlowSummary(max_flows=max_flows)))
        fast = summarize_file(str(second), summary=summarize_file(str(first), summary=FlowSummary(max_flows=max_flows)))
        assert fast.records == slow.records == 16_000 and fast.folded == (max_flows < 10_000)
        assert list(fast.flows.items()) == list(slow.flows.items())
        assert list(fast.networks.items()) == list(slow.networks.items())


# --- found by a differential fuzzer (a review): each now the reader's answer ---------------------

SHORT_FIELDS = "#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\torig_bytes\tresp_bytes\n"
SHORT_ROW = "1.0\t198.51.100.1\t5\t203.0.113.2\t80\ttcp\t1\t2\n"


def reader_and_fast(path: Path, before: FlowSummary | None = None, fmt: str | None = None) -> list[tuple[object, ...]]:
    """(records, flows, networks, error) of the reader and of the fast path, from copies of ``before``."""
    import copy

    out = []
    for way in (lambda o: summarize(read_flows(str(path), fmt), o), lambda o: summarize_file(str(path), fmt, summary=o)):
        summary = copy.deepcopy(before) if before is not None else FlowSummary()
        try:
            way(summary)
            error = None
        except InputError as exc:
            error = (str(exc), exc.line)
        out.append((summary.records, list(summary.flows.items()), list(summary.networks.items()), error))
    return out


@pytest.mark.parametrize(("name", "text"), [
    ("an unset marker that is a port", "#unset_field\t443\n" + SHORT_FIELDS + SHORT_ROW.replace("\t80\t", "\t443\t") * 3000),
    ("one that is a transport", "#unset_field\ttcp\n" + SHORT_FIELDS + SHORT_ROW * 3000),
    ("one that is a byte count", "#unset_field\t0\n" + SHORT_FIELDS + SHORT_ROW.replace("\t1\t2\n", "\t0\t0\n") * 3000),
    ("one that is a time", "#unset_field\t1.0\n" + SHORT_FIELDS + SHORT_ROW * 3000),
    ("one that is an address", "#unset_field\t203.0.113.2\n" + SHORT_FIELDS + SHORT_ROW * 3000),
    ("a time of 400 digits (float says inf)", SHORT_FIELDS + SHORT_ROW * 3000 + SHORT_ROW.replace("1.0", "1" * 400, 1)),
], ids=lambda value: value if len(value) < 60 else "")
def test_values_the_reader_reads_otherwise(tmp_path: Path, name: str, text: str) -> None:
    log = tmp_path / "conn.log"
    log.write_text(text, encoding="utf-8")
    slow, fast = reader_and_fast(log)
    assert fast == slow


def test_a_gzip_log_cut_off_fails_after_the_same_lines(tmp_path: Path) -> None:
    """The reader reads 1 MiB at a time, and so does the fast path (in smaller blocks after): a read
    error (gzip cut off) comes before the same lines, with none of the rest."""
    import gzip

    data = gzip.compress((SHORT_FIELDS + SHORT_ROW * 200_000).encode())
    log = tmp_path / "conn.log.gz"
    log.write_bytes(data[: len(data) // 2])
    slow, fast = reader_and_fast(log)
    assert fast == slow and fast[3] is not None and "gzip data cut off" in str(fast[3][0])


def test_a_summary_passed_in_is_kept_as_the_reader_keeps_it(tmp_path: Path) -> None:
    """Already over max_flows: folded only when a new tuple comes (none does here); a tuple of 0
    connections that said its bytes keeps them when a record without bytes is added."""
    from scanner.model.flows import FlowStats

    log = tmp_path / "conn.log"
    log.write_text(SHORT_FIELDS + SHORT_ROW + SHORT_ROW.replace("\t1\t2\n", "\t-\t-\n"), encoding="utf-8")
    before = FlowSummary(max_flows=1)
    before.flows[("198.51.100.1", "203.0.113.2", 80, "tcp")] = FlowStats(0.5, 0.5, 0, 5)
    before.flows[("198.51.100.1", "203.0.113.3", 80, "tcp")] = FlowStats(0.5, 0.5, 1, 3)
    slow, fast = reader_and_fast(log, before)
    assert fast == slow and not fast[2] and dict(fast[1])[("198.51.100.1", "203.0.113.2", 80, "tcp")].bytes == 8


# --- Zeek conn.log as JSON lines: folded while read, the reader's answers ---------------------------

def json_log(path: Path, rows: int, seed: int, many: bool = False, extra: dict[int, str] | None = None) -> None:
    """JSON conn lines as Zeek writes them, and now and then as it may (ISO times, underscore keys,
    unset fields left out or null, payload bytes only, padding, blank lines, another _path)."""
    import json
    import random

    rng = random.Random(seed)
    out = []
    for i in range(rows):
        if extra and i in extra:
            out.append(extra[i])
            continue
        dst = (f"52.{28 + rng.randrange(3)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" if many else
               rng.choice(("52.28.0.7", "35.0.1.2", "8.8.8.8", "2001:db8::1", "2001:DB8:0::1", "3.64.1.130")))
        if many and rng.random() < 0.01:
            dst = f"2a05:d014:{rng.randrange(3):x}::{rng.randrange(1, 65536):x}"
        port, proto = rng.choice(((443, "tcp"), (53, "udp"), (8, "icmp"), (0, "unknown_transport")))
        obj: dict[str, object] = {"ts": 1795000000 + rng.randrange(2_000_000) * 0.25, "uid": f"C{i}",
                                  "id.orig_h": f"198.18.{rng.randrange(4)}.{rng.randrange(1, 60)}",
                                  "id.orig_p": rng.randrange(1024, 65536), "id.resp_h": dst, "id.resp_p": port,
                                  "proto": proto, "orig_bytes": 10, "resp_bytes": 20,
                                  "orig_ip_bytes": rng.randrange(2000), "resp_ip_bytes": 900}
        odd = rng.random()
        if odd < 0.01:
            obj["ts"] = "2026-11-23T01:02:03.5Z"
        elif odd < 0.02:
            obj["ts"] = 1795000000 + rng.randrange(1000)          # an integer time
        elif odd < 0.03:
            obj["id_orig_h"] = obj.pop("id.orig_h")               # underscore keys
        elif odd < 0.04:
            del obj["orig_ip_bytes"], obj["resp_ip_bytes"]         # payload bytes only
        elif odd < 0.05:
            obj["resp_ip_bytes"] = None
        elif odd < 0.06:
            del obj["ts"]
        elif odd < 0.07:
            obj["_path"] = "conn" if rng.random() < 0.5 else "conn_long"
        elif odd < 0.075:
            out.append("  ")   # a blank line (one line, as every row)
            continue
        elif odd < 0.08:
            obj.pop("id.resp_p")
        line = json.dumps(obj)
        out.append(f" {line}\t" if odd > 0.995 else line)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def json_same(path: Path, max_flows: int) -> FlowSummary:
    slow_stats, fast_stats = ReadStats(), ReadStats()
    slow = summarize(read_flows(str(path), stats=slow_stats), FlowSummary(max_flows=max_flows))
    fast = summarize_file(str(path), summary=FlowSummary(max_flows=max_flows), stats=fast_stats)
    assert fast.records == slow.records and (fast_stats.units, fast_stats.records) == (slow_stats.units, slow_stats.records)
    assert list(fast.flows.items()) == list(slow.flows.items())
    assert list(fast.networks.items()) == list(slow.networks.items())
    return fast


@pytest.mark.parametrize(("many", "max_flows"), [(False, 20_000), (True, 20_000), (True, 3_000), (False, 0)])
def test_json_conn_logs_fold_to_the_readers_summary(tmp_path: Path, many: bool, max_flows: int) -> None:
    log = tmp_path / "conn.json.log"
    json_log(log, 12_000, seed=max_flows + many, many=many)
    fast = json_same(log, max_flows)
    assert fast.records > 11_000 and fast.folded == (max_flows < 12_000)


@pytest.mark.parametrize("bad", [
    '{"ts":1.0,"id.orig_h":"198.18.0.1","id.orig_p":5,"id.resp_h":"52.28.0.300","id.resp_p":443,"proto":"tcp"}',
    '{"ts":1.0,"id.orig_h":"198.18.0.1","id.orig_p":5,"id.resp_h":"52.28.0.1","id.resp_p":70000,"proto":"tcp"}',
    '{"ts":1.0,"id.orig_h":"198.18.0.1","id.orig_p":true,"id.resp_h":"52.28.0.1","id.resp_p":443,"proto":"tcp"}',
    '{"ts":NaN,"id.orig_h":"198.18.0.1","id.orig_p":5,"id.resp_h":"52.28.0.1","id.resp_p":443,"proto":"tcp"}',
    '{"ts":1' + "0" * 400 + ',"id.orig_h":"198.18.0.1","id.orig_p":5,"id.resp_h":"52.28.0.1","id.resp_p":443,"proto":"tcp"}',
    '{"ts":1.0,"id.orig_h":"198.18.0.1","id.orig_p":5,"id.resp_h":"52.28.0.1","id.resp_p":443,"proto":"sctp"}',
    '{"ts":1.0,"id.orig_h":["198.18.0.1"],"id.orig_p":5,"id.resp_h":"52.28.0.1","id.resp_p":443,"proto":"tcp"}',
    '{"ts":1.0,"id.orig_h":"198.18.0.1","id.orig_p":5,"id.resp_h":"52.28.0.1","id.resp_p":443,"proto":"tcp",'
    '"orig_ip_bytes":-1}',
    '{"ts":1.0,"id.orig_h":"198.18.0.1","id.orig_p":5,"id.resp_h":"52.28.0.1","id.resp_p":443,"proto":"tcp",'
    '"orig_ip_bytes":9223372036854775808}',
    '{"ts":1.0,"id.orig_h":"198.18.0.1","id.orig_p":5,"id.resp_h":"52.28.0.1","id.resp_p":443,"proto":"tcp",'
    '"_path":"dns"}',
    '{"ts":1.0,"id.orig_h":"198.18.0.1","id.resp_h":"52.28.0.1","id.resp_p":443}',
    '[1, 2]', '{"ts": 1', "INVALID-UTF-8",
], ids=lambda value: value[-40:])
def test_a_bad_json_line_is_the_readers_error(tmp_path: Path, bad: str) -> None:
    for many, max_flows in ((False, 20_000), (True, 500)):
        log = tmp_path / "conn.json.log"
        json_log(log, 3_000, seed=7, many=many, extra={2_500: bad})
        if bad == "INVALID-UTF-8":
            log.write_bytes(log.read_bytes().replace(b"INVALID-UTF-8", b'{"ts":\xff}'))
        with pytest.raises(InputError) as slow:
            summarize(read_flows(str(log)), FlowSummary(max_flows=max_flows))
        with pytest.raises(InputError) as fast:
            summarize_file(str(log), summary=FlowSummary(max_flows=max_flows))
        assert (str(fast.value), fast.value.line) == (str(slow.value), slow.value.line) and fast.value.line == 2_501


def test_a_json_log_cut_off_in_the_middle_of_a_line(tmp_path: Path) -> None:
    log = tmp_path / "conn.json.log"
    json_log(log, 2_000, seed=9)
    log.write_text(log.read_text(encoding="utf-8") + '{"ts":1.0,"id.orig_h":"198.18.0.1"', encoding="utf-8")
    with pytest.raises(InputError) as slow:
        summarize(read_flows(str(log)))
    with pytest.raises(InputError) as fast:
        summarize_file(str(log))
    assert (str(fast.value), fast.value.line) == (str(slow.value), slow.value.line) and "cut off" in str(fast.value)


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 70_000), st.integers(), st.floats(),
                        st.sampled_from(["198.51.100.1", "203.0.113.5", "2001:DB8::1", "::ffff:192.0.2.1", "tcp",
                                         "icmp", "udp", "conn", "dns", "1795000000.5", "2026-11-23T01:02:03Z", ""]),
                        st.lists(st.integers(0, 3), max_size=2))
JSON_FIELDS = st.sampled_from(["ts", "id.orig_h", "id.resp_h", "id.orig_p", "id.resp_p", "proto", "orig_ip_bytes",
                               "resp_ip_bytes", "orig_bytes", "resp_bytes", "_path", "id_orig_h", "id_resp_p"])
GOOD_JSON = {"ts": 1795000000.5, "id.orig_h": "198.51.100.1", "id.orig_p": 50000, "id.resp_h": "203.0.113.5",
             "id.resp_p": 443, "proto": "tcp", "orig_ip_bytes": 300, "resp_ip_bytes": 900}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.dictionaries(JSON_FIELDS, JSON_VALUES, max_size=3), min_size=1, max_size=6),
       drop=st.lists(JSON_FIELDS, max_size=2), max_flows=st.sampled_from([0, 1, 20_000]))
def test_json_lines_with_any_values_give_the_readers_answer(tmp_path: Path, changes: list[dict[str, object]],
                                                           drop: list[str], max_flows: int) -> None:
    """Valid lines with a few fields changed to anything JSON can say (or dropped): the fast path
    gives the reader's records, summary and error."""
    import json

    rows = []
    for change in changes:
        obj = {k: v for k, v in GOOD_JSON.items() if k not in drop}
        obj.update(change)
        rows.append(json.dumps(obj))
    log = tmp_path / "conn.json.log"
    log.write_text(json.dumps(GOOD_JSON) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    slow, fast = reader_and_fast(log, FlowSummary(max_flows=max_flows), "zeek-json-conn")
    assert fast == slow


@pytest.mark.parametrize("fmt", ["zeek-json-conn", "zeek-conn"])
def test_broadcast_after_multicast_keeps_its_own_label(tmp_path: Path, fmt: str) -> None:
    """DHCP broadcasts, then mDNS, then a fold: 255.255.255.255 once fell into the network the
    multicast group got (224.0.0.0/3, from a geolocation gap) on the fast path only (found in a
    review). A fresh network index, as in a new process."""
    import json

    from scanner.knowledge import loader

    rows = [("0.0.0.0", 68, "255.255.255.255", 67, "udp"), ("192.0.2.10", 5353, "224.0.0.251", 5353, "udp"),
            ("192.0.2.10", 50000, "198.51.100.7", 443, "tcp"), ("0.0.0.0", 68, "255.255.255.255", 67, "udp")] * 900
    log = tmp_path / "conn.log"
    if fmt == "zeek-json-conn":
        log.write_text("".join(json.dumps({"ts": 1700000000.0 + i, "id.orig_h": s, "id.orig_p": sp, "id.resp_h": d,
                                           "id.resp_p": dp, "proto": p, "orig_ip_bytes": 328, "resp_ip_bytes": 0}) + "\n"
                               for i, (s, sp, d, dp, p) in enumerate(rows)))
    else:
        log.write_text(SHORT_FIELDS + "".join(f"{1700000000.0 + i}\t{s}\t{sp}\t{d}\t{dp}\t{p}\t328\t0\n"
                                              for i, (s, sp, d, dp, p) in enumerate(rows)))
    answers = []
    for way in (lambda o: summarize(read_flows(str(log), fmt), o), lambda o: summarize_file(str(log), fmt, summary=o)):
        loader.network_index.cache_clear()
        summary = way(FlowSummary(max_flows=2))
        answers.append(list(summary.networks.items()))
    assert answers[0] == answers[1]
    assert ("0.0.0.0", "255.255.255.255", 67, "udp") in dict(answers[1])


def test_a_json_line_nested_near_the_recursion_limit_is_the_readers_answer(tmp_path: Path) -> None:
    """The fast path's json.loads ran a few stack frames above the reader's: one nesting depth
    parsed there and failed in the reader (found in a review). Deeply nested lines go to the reader."""
    line = ('{"ts":1700000000.5,"id.orig_h":"192.0.2.10","id.orig_p":5,"id.resp_h":"198.51.100.7",'
            '"id.resp_p":443,"proto":"tcp","x":%s}\n')
    log = tmp_path / "conn.json.log"
    for depth in range(850, 1000):
        log.write_text(line % ("[" * depth + "]" * depth))
        slow, fast = reader_and_fast(log, None, "zeek-json-conn")
        assert fast == slow, depth
