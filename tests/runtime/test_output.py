"""Output files: atomic for regular files, streamed to devices and FIFOs, private where they must be."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import DATA

from scanner.errors import InputError
from scanner.resolve.online import Cache
from scanner.runtime.output import is_special, write_atomic

LAB_XML = str(DATA / "lab-nmap.xml")


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as handle:
            into.append(handle.read())
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_a_fifo_stays_a_fifo_and_gets_the_report(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    run = cli("scan", "--nmap-xml", LAB_XML, "--no-store", "--format", "json", "--output", str(fifo))
    reader.join(10)
    assert run.code in (0, 1), run.err
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # not replaced by a regular file
    assert json.loads(got[0])["devices"]


def test_device_nodes_are_special() -> None:
    assert is_special("/dev/null") and not is_special(__file__) and not is_special("/nonexistent/x")


def test_a_symlink_is_followed_not_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_reports_use_the_umask(tmp_path: Path, umask: int, expected: int) -> None:
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "r.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.txt").stat().st_mode) == expected


def test_the_lookup_cache_is_private_like_the_store(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        cache = Cache.open(tmp_path / "cache" / "lookups.json")
        cache.put("dns:example.org", ["192.0.2.1"])
        cache.save()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "cache" / "lookups.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700


def test_the_store_refuses_a_fifo(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "scans.fifo"
    os.mkfifo(fifo)
    run = cli("scan", "--nmap-xml", LAB_XML, "--store", str(fifo), "--format", "json", "--output",
              str(tmp_path / "r.json"))
    assert run.code == 2 and "not a regular file" in run.err
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_the_diff_note_goes_to_a_fifo_too(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "changes.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    store = str(tmp_path / "scans.db")
    assert cli("scan", "--nmap-xml", LAB_XML, "--store", store, "--format", "json", "--output",
               str(tmp_path / "r.json")).code in (0, 1)
    reader = _read_fifo(fifo, got)
    run = cli("diff", "--store", store, "--output", str(fifo))
    reader.join(10)
    assert run.code == 0 and b"nothing to compare yet" in got[0] and stat.S_ISFIFO(fifo.stat().st_mode)


SHADOW = "root:$6$SECRETSALT$SECRETHASHVALUE:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


@pytest.mark.parametrize("args", [
    ("policy", "validate", "{f}"),
    ("scan", "--config", "{f}"),
    ("scan", "--nmap-xml", LAB_XML, "--waivers", "{f}", "--no-store"),
    ("scan", "--nmap-xml", "{f}", "--no-store"),
    ("scan", "--nmap-xml", LAB_XML, "--flows", "{f}", "--no-store"),
    ("report", "{f}"),
])
def test_errors_never_echo_a_wrong_files_content(cli, tmp_path: Path, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "shadow"
    secret.write_text(SHADOW)
    run = cli(*[a.format(f=secret) for a in args])
    assert run.code == 2 and run.err.count("\n") == 1, run.err
    assert "SECRET" not in run.err and "root" not in run.err.replace(str(tmp_path), "")


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    private = tmp_path / "scan.json"
    private.write_text("{}")
    private.chmod(0o600)
    old = os.umask(0o022)
    try:
        write_atomic(private, "[]")
    finally:
        os.umask(old)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and private.read_text() == "[]"


def test_a_link_planted_by_another_user_is_not_followed(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to plant a link owned by another user")
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    link = shared / "report.html"
    link.symlink_to(victim)
    os.lchown(link, 65534, 65534)  # nobody's link
    with pytest.raises(InputError, match="symbolic link of another user"):
        write_atomic(link, "x")
    assert victim.read_text() == "keep me"
