"""The scan store: round trip, last two, locking between real processes, migration, damage, kill -9,
and the interruption handlers a scheduled scan relies on to keep what it collected."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
from conftest import ROOT

from scanner.errors import CannotRunError, InputError
from scanner.history.store import (
    STORE_VERSION,
    Store,
    StoreBusyError,
    create_v1,
    default_store_path,
    targets_key,
)
from scanner.model import (
    Destination,
    Device,
    Evidence,
    Finding,
    Observation,
    ScanInfo,
    ScanResult,
    Service,
)
from scanner.runtime.interrupt import ScanInterrupted, interruptible


def scan(started: str, targets: tuple[str, ...] = ("198.51.100.0/24",), partial: bool = False,
         firmware: str = "V5.7.15") -> ScanResult:
    dev = Device(ip="198.51.100.10", mac="00:11:22:33:44:55", vendor="Hikvision", model="DS-2CD2386G2-IU",
                 firmware=firmware, device_class="camera", capabilities=["onvif"],
                 services=[Service(80, "tcp", "http", "lighttpd", "1.4", method="probed")],
                 evidence=[Evidence("fingerprint", "ISAPI deviceInfo")],
                 observations=[Observation("http.title", "\x1b[31mcam\u00e9ra", "http-get", 80, "/")])
    return ScanResult(
        scan=ScanInfo(started_at=started, finished_at=started, targets=list(targets), partial=partial,
                      policy={"name": "eu-gdpr-baseline", "sha256": "ab" * 32, "files": []},
                      inputs=[{"kind": "nmap-live", "targets": ", ".join(targets)}]),
        devices=[dev, Device(ip="198.51.100.11")],
        destinations=[Destination("198.51.100.10", host="cloud.hik-connect.com", port=443, country="CN")],
        findings=[Finding("data-leaves-eu", "high", "Data leaves the EU", "198.51.100.10", "to CN"),
                  Finding("cleartext-admin", "medium", "Cleartext admin", "198.51.100.10", "port 80", waived=True)],
        tool={"name": "cityscan", "version": "test"})


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    """A real second process (own pid, own flock) running ``code`` with this checkout importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def wait_line(proc: subprocess.Popen[str], want: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == want, (line, proc.stderr.read() if proc.stderr else "")


# --- round trip and listing --------------------------------------------------------------------


def test_save_list_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "scans.db"
    original = scan("2026-11-20T02:00:00Z")
    with Store(path) as store:
        scan_id = store.save(original)
        listed = store.list()
        loaded = store.load(scan_id)
    assert loaded.to_dict() == original.to_dict()
    assert [s.id for s in listed] == [scan_id]
    summary = listed[0]
    assert summary.targets_key == "198.51.100.0/24" and summary.policy_name == "eu-gdpr-baseline"
    assert summary.policy_sha256 == "ab" * 32 and not summary.partial
    assert (summary.devices, summary.destinations, summary.waived_findings) == (2, 1, 1)
    assert summary.open_findings["high"] == 1 and summary.open_findings["medium"] == 0
    assert json.loads(json.dumps(summary.to_dict()))["id"] == scan_id
    assert path.stat().st_mode & 0o077 == 0  # a map of the city's network is not world-readable


def test_list_is_newest_first_with_limit_and_targets(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        a = store.save(scan("2026-11-20T02:00:00Z"))
        b = store.save(scan("2026-11-22T02:00:00Z"))
        c = store.save(scan("2026-11-21T02:00:00Z", targets=("203.0.113.0/24",)))
        assert [s.id for s in store.list()] == [b, c, a]
        assert [s.id for s in store.list(limit=1)] == [b]
        assert [s.id for s in store.list(targets_key="198.51.100.0/24")] == [b, a]


def test_load_unknown_id(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store, pytest.raises(InputError, match="no scan 42 in this store"):
        store.load(42)


def test_targets_key_ignores_order() -> None:
    assert targets_key(["198.51.100.0/24", "192.0.2.0/24"]) == targets_key(["192.0.2.0/24", "198.51.100.0/24"])


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CITYSCAN_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "xdg" / "cityscan" / "scans.db"
    with Store() as store:  # the default directory is created; an explicit one must exist
        store.save(scan("2026-11-20T02:00:00Z"))
    assert (tmp_path / "xdg" / "cityscan" / "scans.db").is_file()
    monkeypatch.setenv("CITYSCAN_STORE", str(tmp_path / "elsewhere.db"))
    assert default_store_path() == tmp_path / "elsewhere.db"


def test_missing_directory_and_readonly_missing_store(tmp_path: Path) -> None:
    with Store(tmp_path / "new" / "scans.db") as store:  # a writer makes its directory, private
        assert store.list() == []
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="cannot create the store directory"):
        Store(tmp_path / "file" / "scans.db").open()
    with pytest.raises(InputError, match="store directory does not exist"):
        Store(tmp_path / "nope" / "scans.db", readonly=True).open()
    with pytest.raises(InputError, match="no such store"):
        Store(tmp_path / "scans.db", readonly=True).open()
    assert not (tmp_path / "scans.db").exists()


# --- last two ----------------------------------------------------------------------------------


def test_last_two_skips_partial_scans_unless_asked(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        first = store.save(scan("2026-11-20T02:00:00Z"))
        assert store.last_two() is None
        second = store.save(scan("2026-11-21T02:00:00Z"))
        interrupted = store.save(scan("2026-11-22T02:00:00Z", partial=True))
        store.save(scan("2026-11-23T02:00:00Z", targets=("203.0.113.0/24",)))  # another series
        pair = store.last_two("198.51.100.0/24")
        assert pair is not None and (pair[0].id, pair[1].id) == (first, second)
        pair = store.last_two("198.51.100.0/24", include_partial=True)
        assert pair is not None and (pair[0].id, pair[1].id) == (second, interrupted) and pair[1].partial
        assert store.last_two() is None  # default: the newest scan's targets, which has only one scan


# --- locking -----------------------------------------------------------------------------------

HOLD_LOCK = """
    import sys, time
    from scanner.history.store import Store
    with Store(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
"""


def test_second_run_waits_then_fails_naming_store_and_pid(tmp_path: Path) -> None:
    path = tmp_path / "scans.db"
    holder = run_python(HOLD_LOCK, str(path), "30")
    try:
        wait_line(holder, "locked")
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as caught:
            Store(path, lock_timeout=0.6).open()
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert waited >= 0.6
    message = str(caught.value)
    assert str(path) in message and f"pid {holder.pid}" in message and "another cityscan run" in message
    assert isinstance(caught.value, CannotRunError) and caught.value.exit_code == 3
    with Store(path, lock_timeout=5) as store:  # a killed holder leaves no stale lock
        assert store.list() == []


def test_second_run_gets_the_store_when_the_first_finishes_in_time(tmp_path: Path) -> None:
    path = tmp_path / "scans.db"
    holder = run_python(HOLD_LOCK, str(path), "0.5")
    try:
        wait_line(holder, "locked")
        started = time.monotonic()
        with Store(path, lock_timeout=10) as store:
            store.save(scan("2026-11-20T02:00:00Z"))
        assert time.monotonic() - started >= 0.2
    finally:
        holder.wait(timeout=10)
    assert holder.returncode == 0


def test_readers_take_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "scans.db"
    with Store(path) as writer:
        writer.save(scan("2026-11-20T02:00:00Z"))
        with Store(path, readonly=True, lock_timeout=0) as reader:  # history/diff during a long scan
            assert len(reader.list()) == 1
            with pytest.raises(RuntimeError):
                reader.save(scan("2026-11-21T02:00:00Z"))


# --- versions, damage --------------------------------------------------------------------------


def test_migrates_a_version_1_store(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    old = scan("2026-11-20T02:00:00Z")
    conn = sqlite3.connect(path, isolation_level=None)
    create_v1(conn)
    conn.execute("INSERT INTO scans (started_at, finished_at, targets_key, policy_name, policy_sha256, partial, "
                 "inputs, result) VALUES (?, ?, ?, ?, ?, 0, '[]', ?)",
                 (old.scan.started_at, old.scan.finished_at, "198.51.100.0/24", "eu-gdpr-baseline", "ab" * 32,
                  zlib.compress(json.dumps(old.to_dict()).encode())))
    conn.close()
    with Store(path) as store:
        [summary] = store.list()
        assert (summary.devices, summary.destinations, summary.open_findings["high"]) == (2, 1, 1)  # backfilled
        assert store.load(summary.id).to_dict() == old.to_dict()
        store.save(scan("2026-11-21T02:00:00Z"))
        assert store.last_two() is not None
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(STORE_VERSION,)]
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "scans_by_targets" in indexes
    conn.close()


def test_newer_store_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="store version 99 is newer"):
        Store(path).open()


@pytest.mark.parametrize("content", [b"not a database at all\n" * 100, b'{"schema_version": 1, "devices": []}'])
def test_a_file_that_is_not_a_database(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "scans.db"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        Store(path).open()
    assert str(caught.value).startswith(f"{path}: not a cityscan store (")
    assert path.read_bytes() == content  # never "repaired" into something else


def test_another_programs_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE moz_places (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match=r"not a cityscan store \(it holds other tables: moz_places\)"):
        Store(path, readonly=True).open()


def test_damaged_pages_and_damaged_result(tmp_path: Path) -> None:
    path = tmp_path / "scans.db"
    with Store(path) as store:
        good = store.save(scan("2026-11-20T02:00:00Z"))
        bad = store.save(scan("2026-11-21T02:00:00Z"))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE scans SET result = ? WHERE id = ?", (b"\x78\x9c garbage", bad))
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.load(good).scan.started_at == "2026-11-20T02:00:00Z"
        with pytest.raises(InputError, match=f"scan {bad} is damaged"):
            store.load(bad)
    data = bytearray(path.read_bytes())
    data[100:len(data)] = b"\xff" * (len(data) - 100)  # header intact, every page overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="not a cityscan store"):
        with Store(path) as store:
            store.list()


# --- kill -9 during a write --------------------------------------------------------------------

KILLED_WRITER = """
    import os, sys, time
    from scanner.model import Device, Observation, ScanInfo, ScanResult
    from scanner.history.store import Store
    big = os.urandom(3_000_000).hex()  # incompressible: its pages spill to the file before COMMIT
    result = ScanResult(scan=ScanInfo(started_at="2026-11-22T02:00:00Z", targets=["198.51.100.0/24"]),
                        devices=[Device(ip="198.51.100.99", observations=[Observation("http.body", big, "t")])])
    def stall(sql):
        if sql.strip().upper() == "COMMIT":
            print("inserted", flush=True)
            time.sleep(60)
    with Store(sys.argv[1]) as store:
        store._conn.set_trace_callback(stall)
        store.save(result)
"""


def test_sigkill_in_the_middle_of_a_write_leaves_a_readable_store(tmp_path: Path) -> None:
    path = tmp_path / "scans.db"
    with Store(path) as store:
        kept = store.save(scan("2026-11-20T02:00:00Z"))
    size_before = path.stat().st_size
    writer = run_python(KILLED_WRITER, str(path))
    try:
        wait_line(writer, "inserted")
        journal = Path(f"{path}-journal")
        assert journal.exists() and journal.stat().st_size > 0  # we really are inside the transaction
        assert path.stat().st_size > size_before  # and uncommitted pages already reached the file
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    with Store(path, lock_timeout=2) as store:  # the hot journal is rolled back on open
        assert [s.id for s in store.list()] == [kept]
        assert store.load(kept).to_dict() == scan("2026-11-20T02:00:00Z").to_dict()
        assert store.save(scan("2026-11-21T02:00:00Z")) > kept
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


# --- interruption ------------------------------------------------------------------------------

INTERRUPTED_SCAN = """
    import sys, time
    from scanner.runtime.interrupt import ScanInterrupted, interruptible
    from scanner.model import Device, ScanInfo, ScanResult
    from scanner.history.store import Store
    with Store(sys.argv[1]) as store, interruptible() as stop:
        result = ScanResult(scan=ScanInfo(started_at="2026-11-22T02:00:00Z", targets=["198.51.100.0/24"]))
        try:
            try:
                for n in range(1, 255):  # "probing": one device per step
                    result.devices.append(Device(ip=f"198.51.100.{n}"))
                    if n == 3:
                        print("scanning", flush=True)
                    time.sleep(0.05)
            except Exception:
                pass  # a careless probe's handler: must not swallow the interruption
        except ScanInterrupted as exc:
            with stop.deferred():
                result.scan.partial = True
                scan_id = store.save(result)
            print(f"saved {scan_id} after {exc.signal_name}", file=sys.stderr)
            sys.exit(exc.exit_code)
    sys.exit(0)
"""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_the_partial_scan_and_exits_128_plus_signal(tmp_path: Path, sig: int, code: int) -> None:
    path = tmp_path / "scans.db"
    proc = run_python(INTERRUPTED_SCAN, str(path))
    wait_line(proc, "scanning")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert f"after {signal.Signals(sig).name}" in err
    with Store(path, readonly=True) as store:
        [summary] = store.list()
        assert summary.partial and 3 <= summary.devices < 254
        assert store.last_two(include_partial=False) is None


def test_deferred_holds_the_signal_until_the_block_ends() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(ScanInterrupted) as caught:
        with interruptible() as stop:
            with stop.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                assert stop.is_set()  # recorded, not raised: the save in here completes
                saved = True
    assert saved and caught.value.exit_code == 143 and str(caught.value) == "interrupted by SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is previous


SAVE_CUT_SHORT = """
    import sys, time
    from scanner.runtime.interrupt import ScanInterrupted, interruptible
    from scanner.runtime.output import write_atomic
    from scanner.model import Device, ScanInfo, ScanResult
    from scanner.history.store import Store
    import scanner.runtime.output as output

    def slow_fsync(fd):  # the disk is slow: the second signal comes while the report is written
        print("writing", flush=True)
        time.sleep(30)

    with Store(sys.argv[1]) as store, interruptible() as stop:
        result = ScanResult(scan=ScanInfo(started_at="2026-11-22T02:00:00Z"), devices=[Device(ip="198.51.100.7")])
        store.save(result)
        try:
            print("scanning", flush=True)
            time.sleep(30)
        except ScanInterrupted:
            with stop.deferred():
                output.os.fsync = slow_fsync
                write_atomic(sys.argv[2], "a report")
    sys.exit(0)
"""


def test_a_second_signal_exits_at_once_without_a_half_written_file(tmp_path: Path) -> None:
    """Whoever sends a second signal will not wait: exit 128 + signal now, with nothing torn:
    the report being written keeps its old content and its temporary file is removed."""
    report = tmp_path / "report.txt"
    report.write_text("the previous report")
    proc = run_python(SAVE_CUT_SHORT, str(tmp_path / "scans.db"), str(report))
    wait_line(proc, "scanning")
    proc.send_signal(signal.SIGTERM)
    wait_line(proc, "writing")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 5  # not the 30 s the write would still take
    assert proc.returncode == 143 and "second SIGTERM: exiting at once" in err, err
    assert report.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("scans.db")) == ["report.txt"]
    with Store(tmp_path / "scans.db", readonly=True) as store:
        assert len(store.list()) == 1  # the scan saved before is intact


def test_module_level_helpers_follow_the_active_handlers() -> None:
    from scanner.runtime.interrupt import deferred, stop_requested
    with deferred():  # no handlers installed: a plain block
        assert not stop_requested()
    with pytest.raises(ScanInterrupted):
        with interruptible():
            with deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                assert stop_requested()
    assert not stop_requested()
