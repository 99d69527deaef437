"""Many sites, one store: the same API on SQLite and on a real PostgreSQL server started by the suite.

Sites in history, diff and the fleet summary; versioned migrations from an empty database and
from version 1; eight writers at once with no lost or half-written scan; an unreachable server
(exit 3, one line, no password); ``store push``; read-only commands that never write.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import psycopg
import pytest
from conftest import DATA, PG_PASSWORD, ROOT, PostgresServer
from test_history_cli import without_host

from scanner.errors import CannotRunError, InputError
from scanner.history.store import (
    MIGRATIONS,
    STORE_VERSION,
    SQLiteStore,
    Store,
    create_v1,
    default_store_path,
    is_url,
    mask_url,
)
from scanner.model import Device, Finding, ScanInfo, ScanResult

LAB_XML = str(DATA / "lab-nmap.xml")
_db_numbers = iter(range(1, 10_000))


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's server: its TCP URL, password included."""
    return postgres_server.create_database(f"store_test_{os.getpid()}_{next(_db_numbers)}")


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same behaviour on both back ends."""
    if request.param == "sqlite":
        return str(tmp_path / "scans.db")
    return str(request.getfixturevalue("pg_url"))


def result(site: str | None, started: str, devices: int = 3, findings: tuple[str, ...] = ("a",),
           partial: bool = False, targets: tuple[str, ...] = ("198.51.100.0/24",)) -> ScanResult:
    """A scan of ``devices`` devices with one open high finding per name in ``findings`` (on .10)."""
    return ScanResult(
        scan=ScanInfo(started_at=started, finished_at=started, targets=list(targets), partial=partial, site=site,
                      policy={"name": "eu-gdpr-baseline", "sha256": "ab" * 32, "files": []}),
        devices=[Device(ip=f"198.51.100.{10 + n}") for n in range(devices)],
        findings=[Finding(f"rule-{name}", "high", f"Rule {name}", "198.51.100.10", "m") for name in findings]
        + [Finding("rule-waived", "medium", "Waived", "198.51.100.11", "m", waived=True)],
        tool={"name": "cityscan", "version": "test"})


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def schema_tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'cityscan'")
        return {r[0] for r in rows.fetchall()}


# --- locations ---------------------------------------------------------------------------------


def test_mask_url_hides_every_form_of_password() -> None:
    assert mask_url("postgresql://scan:hunter22@db.city.example:5432/cityscan") == \
        "postgresql://scan:***@db.city.example:5432/cityscan"
    assert mask_url("postgresql://scan@db/cityscan?password=hunter22&sslmode=require") == \
        "postgresql://scan@db/cityscan?password=***&sslmode=require"
    assert mask_url("postgresql://scan@/cityscan?host=/run/postgresql") == "postgresql://scan@/cityscan?host=/run/postgresql"
    assert "hunter22" not in mask_url("postgres://a:hunter22@[::1]:5/x")


def test_location_picks_the_back_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert is_url("postgresql://h/db") and is_url("postgres://h/db") and not is_url(str(tmp_path / "postgresql:"))
    assert isinstance(Store(tmp_path / "s.db"), SQLiteStore)
    store = Store("postgresql://scan:hunter22@127.0.0.1:1/db")
    assert type(store).__name__ == "PostgresStore" and "hunter22" not in store.location + str(store.path)
    monkeypatch.setenv("CITYSCAN_STORE", "postgresql://scan:pw@127.0.0.1/cityscan")
    assert default_store_path() == "postgresql://scan:pw@127.0.0.1/cityscan"  # not mangled into a Path


# --- both back ends: round trip, sites, fleet ----------------------------------------------------


def test_save_list_load_round_trip_with_sites(location: str) -> None:
    original = result("town-hall", "2026-11-20T02:00:00Z")
    with Store(location) as store:
        scan_id = store.save(original)
        other = store.save(result("traffic", "2026-11-21T02:00:00Z", devices=5))
        loaded = store.load(scan_id)
        listed = store.list()
        only = store.list(site="town-hall")
        assert store.sites() == ["town-hall", "traffic"]
        assert store.version == STORE_VERSION
    assert loaded.to_dict() == original.to_dict() and loaded.scan.site == "town-hall"
    assert [s.id for s in listed] == [other, scan_id] and [s.id for s in only] == [scan_id]
    summary = only[0]
    assert (summary.site, summary.devices, summary.waived_findings, summary.open_findings["high"]) == \
        ("town-hall", 3, 1, 1)
    with Store(location, readonly=True) as reader, pytest.raises(InputError, match="no scan 999 in this store"):
        reader.load(999)


def test_last_two_stays_within_one_site(location: str) -> None:
    """Two segments scanning the same private range are two networks, never compared with each other."""
    with Store(location) as store:
        a1 = store.save(result("depot", "2026-11-20T02:00:00Z"))
        b1 = store.save(result("lights", "2026-11-20T03:00:00Z"))
        a2 = store.save(result("depot", "2026-11-21T02:00:00Z"))
        b2 = store.save(result("lights", "2026-11-21T03:00:00Z"))
        store.save(result("lights", "2026-11-22T03:00:00Z", partial=True))
        newest = store.last_two()
        depot = store.last_two(site="depot")
        with_partial = store.last_two(site="lights", include_partial=True)
        assert store.last_two(site="nowhere") is None
    assert newest is not None and (newest[0].id, newest[1].id) == (b1, b2)
    assert depot is not None and (depot[0].id, depot[1].id) == (a1, a2)
    assert with_partial is not None and with_partial[0].id == b2 and with_partial[1].partial


def test_fleet_summary(location: str) -> None:
    with Store(location) as store:
        store.save(result("depot", "2026-11-20T02:00:00Z", findings=("a", "b")))
        depot = store.save(result("depot", "2026-11-21T02:00:00Z", devices=4, findings=("a", "c", "d")))
        store.save(result("depot", "2026-11-21T05:00:00Z", targets=("203.0.113.0/24",), partial=True))
        lights = store.save(result("lights", "2026-11-21T01:00:00Z", devices=7, findings=()))
        store.save(result(None, "2026-11-19T01:00:00Z"))
        store.save(result("cameras", "2026-11-21T01:00:00Z", partial=True))
        sites = {s.site: s for s in store.fleet()}
        assert [s.site for s in store.fleet(site="lights")] == ["lights"]
        assert store.fleet(site="nowhere") == []
    assert list(sites) == ["cameras", "depot", "lights", None]
    d = sites["depot"]
    assert (d.scan_id, d.devices, d.scans, d.open_findings["high"], d.new_findings) == (depot, 4, 3, 3, 2)
    assert d.last_partial and d.last_started_at == "2026-11-21T05:00:00Z"  # a newer interrupted scan is marked
    l_ = sites["lights"]
    assert (l_.scan_id, l_.devices, l_.new_findings, l_.previous_id, l_.last_partial) == (lights, 7, None, None, False)
    c = sites["cameras"]
    assert c.scan_id is None and c.last_partial and c.devices == 0
    assert json.loads(json.dumps(d.to_dict()))["open_findings"]["high"] == 3


def test_fleet_history_and_diff_by_site_through_the_cli(cli, tmp_path: Path, location: str) -> None:  # type: ignore[no-untyped-def]
    before = without_host(tmp_path, "198.51.100.13")
    for site, xml in (("town-hall", before), ("depot", LAB_XML), ("town-hall", LAB_XML), ("depot", LAB_XML)):
        run = cli("scan", "--nmap-xml", xml, "--policy", "eu-gdpr-baseline", "--store", location, "--site", site,
                  "--fail-on", "none", "--format", "json", "--output", str(tmp_path / "r.json"))
        assert run.code == 0, run.err
    listed = json.loads(cli("history", "--store", location, "--site", "town-hall", "--format", "json").out)
    assert [s["site"] for s in listed] == ["town-hall", "town-hall"]
    table = cli("history", "--store", location)
    assert table.code == 0 and "town-hall" in table.out and "depot" in table.out and "Site" in table.out
    town = cli("diff", "--store", location, "--site", "town-hall", "--format", "json")
    assert town.code == 0, town.err
    assert [d["ip"] for d in json.loads(town.out)["new_devices"]] == ["198.51.100.13"]
    depot = cli("diff", "--store", location, "--site", "depot", "--format", "json")
    assert depot.code == 0 and json.loads(depot.out)["new_devices"] == []
    nowhere = cli("diff", "--store", location, "--site", "nowhere")
    assert nowhere.code == 0 and "of site nowhere" in nowhere.err and nowhere.out == ""
    fleet = cli("fleet", "--store", location, "--format", "json")
    assert fleet.code == 0, fleet.err
    by_site = {s["site"]: s for s in json.loads(fleet.out)}
    assert set(by_site) == {"town-hall", "depot"}
    assert by_site["town-hall"]["devices"] == 13 and by_site["town-hall"]["new_findings"] >= 1
    assert by_site["depot"]["new_findings"] == 0 and by_site["depot"]["scans"] == 2
    text = cli("fleet", "--store", location)
    assert text.code == 0 and "town-hall" in text.out and "High" in text.out
    assert "no scans of site x" in cli("fleet", "--store", location, "--site", "x").err


# --- PostgreSQL: migrations ------------------------------------------------------------------------


def test_migrations_from_an_empty_database(cli, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    run = cli("history", "--store", pg_url)  # a reader creates nothing
    assert run.code == 2 and "no cityscan store here yet" in run.err and PG_PASSWORD not in run.err
    assert schema_tables(pg_url) == set()
    run = cli("store", "migrate", "--store", pg_url)
    assert run.code == 0, run.err
    assert [f"to version {m.version}:" in run.err for m in MIGRATIONS] == [True] * len(MIGRATIONS)
    assert PG_PASSWORD not in run.err and "***" in run.err
    assert schema_tables(pg_url) == {"schema_version", "scans"}
    again = cli("store", "migrate", "--store", pg_url)
    assert again.code == 0 and "already current" in again.err
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM cityscan.schema_version").fetchall() == [(STORE_VERSION,)]
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'cityscan'")}
    assert {"scans_by_targets", "scans_by_site", "scans_by_digest"} <= indexes
    assert cli("history", "--store", pg_url).code == 0


def test_migrates_a_version_1_database_and_refuses_what_is_not_a_store(pg_url: str) -> None:
    old = result("depot", "2026-11-20T02:00:00Z")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.unrelated (id INTEGER)")  # another program's table: no matter
        conn.execute("CREATE SCHEMA cityscan")
        conn.execute("SET search_path = cityscan")
        for statement in MIGRATIONS[0].postgres:
            conn.execute(statement)
        conn.execute("INSERT INTO scans (started_at, targets_key, result) VALUES (%s, %s, %s)",
                     (old.scan.started_at, "198.51.100.0/24", zlib.compress(json.dumps(old.to_dict()).encode())))
    with pytest.raises(CannotRunError, match="store migrate"):  # a reader does not migrate
        Store(pg_url, readonly=True).open()
    with Store(pg_url) as store:
        [summary] = store.list()
        assert (summary.site, summary.devices, summary.open_findings["high"]) == ("depot", 3, 1)  # backfilled
        assert store.load(summary.id).to_dict() == old.to_dict()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE cityscan.schema_version SET version = 99")
    with pytest.raises(InputError, match="store version 99 is newer"):
        Store(pg_url).open()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE cityscan.schema_version")
    with pytest.raises(InputError, match="not a cityscan store"):
        Store(pg_url, readonly=True).open()


# --- PostgreSQL: many writers --------------------------------------------------------------------

WRITER = """
    import sys, time
    from scanner.history.store import Store
    from scanner.model import Device, Finding, ScanInfo, ScanResult
    url, worker, count, start_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    while time.time() < start_at:  # all eight open an empty database at the same moment
        time.sleep(0.005)
    with Store(url) as store:
        for n in range(count):
            devices = 20 + worker * 10 + n
            result = ScanResult(
                scan=ScanInfo(started_at=f"2026-11-2{n}T0{worker}:00:00Z", targets=["198.51.100.0/24"],
                              site=f"site-{worker}"),
                devices=[Device(ip=f"198.51.100.{d}", vendor="x" * 500) for d in range(devices)],
                findings=[Finding("r", "high", "t", f"198.51.100.{d}", "m") for d in range(devices)],
                tool={"name": "cityscan", "version": "test"})
            print(store.save(result), devices, flush=True)
"""


def test_eight_concurrent_writers_lose_nothing_and_show_no_half_scan(pg_url: str) -> None:
    writers, each = 8, 5
    start_at = time.time() + 1.5
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), pg_url, str(w), str(each),
                               str(start_at)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=ROOT) for w in range(writers)]
    seen_while_writing = 0
    try:
        while any(p.poll() is None for p in procs):  # a reader during the writes: every scan it sees is whole
            try:
                with Store(pg_url, readonly=True) as reader:
                    for summary in reader.list():
                        loaded = reader.load(summary.id)
                        assert len(loaded.devices) == summary.devices == len(loaded.findings)
                        seen_while_writing += 1
            except InputError:
                pass  # before the first writer created the schema
            time.sleep(0.05)
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * writers, [err for _, err in outputs]
    saved = {int(line.split()[0]): int(line.split()[1]) for out, _ in outputs for line in out.splitlines()}
    assert len(saved) == writers * each  # no id handed out twice, none lost
    with Store(pg_url, readonly=True) as store:
        listed = store.list()
        assert {s.id: s.devices for s in listed} == saved
        assert {s.site for s in listed} == {f"site-{w}" for w in range(writers)}
        for summary in listed:
            assert len(store.load(summary.id).devices) == saved[summary.id]
        assert len(store.fleet()) == writers
    with psycopg.connect(pg_url) as conn:  # the schema was built once, not eight times
        assert conn.execute("SELECT count(*) FROM cityscan.schema_version").fetchone() == (1,)
    assert seen_while_writing > 0


# --- PostgreSQL: unreachable, refused, read-only ---------------------------------------------------


def test_an_unreachable_server_is_one_line_exit_3_without_the_password(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql://scanner:{PG_PASSWORD}@127.0.0.1:{closed_port()}/cityscan"
    for args in (("history",), ("diff",), ("fleet",), ("store", "migrate"),
                 ("scan", "--nmap-xml", LAB_XML, "--fail-on", "none")):
        run = cli(*args, "--store", url)
        assert run.code == 3, (args, run.err)
        assert len(run.err.strip().splitlines()) == 1 and "127.0.0.1" in run.err, run.err
        assert PG_PASSWORD not in run.err + run.out and "cannot connect to the PostgreSQL store" in run.err
    with pytest.raises(CannotRunError):
        Store(url).check_writable()


def test_a_wrong_password_or_a_bad_url(cli, postgres_server: PostgresServer, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    wrong = pg_url.replace(PG_PASSWORD, "not-the-password-42")
    run = cli("history", "--store", wrong)
    assert run.code == 3 and "not-the-password-42" not in run.err and "authentication failed" in run.err
    assert len(run.err.strip().splitlines()) == 1
    bad = cli("history", "--store", f"postgresql://scanner:{PG_PASSWORD}@127.0.0.1:notaport/db")
    assert bad.code == 2 and PG_PASSWORD not in bad.err and "not a valid PostgreSQL URL" in bad.err
    option = cli("fleet", "--store", f"postgresql://scanner:{PG_PASSWORD}@127.0.0.1/db?nosuchoption=1")
    assert option.code == 2 and PG_PASSWORD not in option.err and "nosuchoption" in option.err
    good = cli("store", "migrate", "--store", pg_url)  # near miss: the right password works
    assert good.code == 0 and PG_PASSWORD not in good.err


def test_check_writable_and_a_reader_role(postgres_server: PostgresServer, pg_url: str) -> None:
    with Store(pg_url) as store:
        store.check_writable()  # the owner may write
        store.save(result("depot", "2026-11-20T02:00:00Z"))
    dbname = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "auditor_{dbname}"')
        conn.execute(f'CREATE ROLE "auditor_{dbname}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA cityscan TO "auditor_{dbname}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA cityscan TO "auditor_{dbname}"')
    auditor = f"postgresql://auditor_{dbname}@/{dbname}?host={postgres_server.base}&port={postgres_server.port}"
    with pytest.raises(CannotRunError, match="no permission to write"):
        Store(auditor).check_writable()
    with Store(auditor, readonly=True) as reader:  # reading is all an auditor needs
        assert [s.site for s in reader.list()] == ["depot"]
        with pytest.raises(RuntimeError):
            reader.save(result("depot", "2026-11-21T02:00:00Z"))
    with Store(pg_url, readonly=True) as reader, pytest.raises(CannotRunError, match="read-only"):
        with reader._guard("write to"):
            reader._run("INSERT INTO scans (started_at, targets_key, result) VALUES ('x', 'y', '')")  # the server refuses


# --- store push -----------------------------------------------------------------------------------


def test_store_push_saves_a_result_once(cli, tmp_path: Path, location: str) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "scan.json"
    run = cli("scan", "--nmap-xml", LAB_XML, "--no-store", "--site", "depot", "--fail-on", "none", "--format", "json",
              "--output", str(saved))
    assert run.code == 0, run.err
    first = cli("store", "push", str(saved), "--store", location)
    assert first.code == 0 and "saved as scan 1" in first.err, first.err
    again = cli("store", "push", str(saved), "--store", location)  # a retrying job: not saved twice
    assert again.code == 0 and "already in the store as scan 1" in again.err
    listed = json.loads(cli("history", "--store", location, "--format", "json").out)
    assert [(s["id"], s["site"], s["devices"]) for s in listed] == [(1, "depot", 13)]
    junk = tmp_path / "junk.json"
    junk.write_text('{"not": "a result"}')
    bad = cli("store", "push", str(saved), str(junk), "--store", location)
    assert bad.code == 2 and str(junk) in bad.err  # every file checked before anything is saved
    assert len(json.loads(cli("history", "--store", location, "--format", "json").out)) == 1


# --- read-only commands never write ---------------------------------------------------------------


def test_read_only_commands_never_write_to_a_sqlite_store(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "new" / "scans.db"
    for args in (("history",), ("diff",), ("fleet",)):
        assert cli(*args, "--store", str(missing)).code == 2
    assert not (tmp_path / "new").exists()  # no directory made
    path = tmp_path / "scans.db"
    with Store(path) as store:
        store.save(result("depot", "2026-11-20T02:00:00Z"))
        store.save(result("depot", "2026-11-21T02:00:00Z"))
    Path(f"{path}.lock").unlink()
    before = (path.stat().st_mtime_ns, path.read_bytes())
    for args in (("history",), ("diff",), ("fleet",), ("history", "--site", "depot")):
        assert cli(*args, "--store", str(path)).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "scans.db"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["scans.db"]
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before  # no lock file, no migration, no write
    path.unlink()
    conn = sqlite3.connect(path, isolation_level=None)  # a store as the previous cityscan left it (v2)
    create_v1(conn)
    for statement in MIGRATIONS[1].sqlite:
        conn.execute(statement)
    conn.execute("UPDATE schema_version SET version = 2")
    conn.close()
    old = path.read_bytes()
    run = cli("history", "--store", str(path))
    assert run.code == 3 and "store migrate" in run.err and path.read_bytes() == old
    migrated = cli("store", "migrate", "--store", str(path))
    assert migrated.code == 0 and "to version 3" in migrated.err and "to version 2" not in migrated.err
    assert cli("history", "--store", str(path)).code == 0


def test_check_writable_on_sqlite(tmp_path: Path) -> None:
    Store(tmp_path / "fresh" / "scans.db").check_writable()  # a writer's first run: fine, made private
    assert (tmp_path / "fresh").stat().st_mode & 0o777 == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="cannot create the store directory"):
        Store(tmp_path / "file" / "scans.db").check_writable()
    (tmp_path / "junk.db").write_bytes(b"not a database\n" * 100)
    with pytest.raises(InputError, match="not a cityscan store"):
        Store(tmp_path / "junk.db").check_writable()
    with pytest.raises(InputError, match="not a regular file"):
        Store("/dev/null").check_writable()


# --- what the store could not take ----------------------------------------------------------------


def test_an_unsent_result_is_kept_privately_and_pushed_later(cli, tmp_path: Path, pg_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from scanner.history.unsent import keep_unsent, unsent_dir

    monkeypatch.setenv("CITYSCAN_UNSENT", str(tmp_path / "unsent"))
    assert unsent_dir() == tmp_path / "unsent"
    kept = keep_unsent(result("street/lights\x1b", "2026-11-20T02:00:00Z"))
    again = keep_unsent(result("street/lights\x1b", "2026-11-20T02:00:00Z"))  # never overwrites
    assert kept.name == "cityscan-street_lights_-20261120T020000Z.json" and again != kept
    assert kept.stat().st_mode & 0o077 == 0 and kept.parent.stat().st_mode & 0o777 == 0o700
    run = cli("store", "push", str(kept), str(again), "--store", pg_url)
    assert run.code == 0 and "saved as scan 1" in run.err and "already in the store as scan 1" in run.err
