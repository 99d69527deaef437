"""Shared fixtures: run the CLI in-process, and the emulated lab (root only)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.cli import main

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
LAB_PREFIX = f"cst{os.getpid() % 1000}"


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The whole session, module-scoped fixtures and subprocesses included, runs with a home of its
    own: no test reads the user's configuration or writes to their history, cache or data."""
    home = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    for name, value in {"HOME": home, "XDG_CONFIG_HOME": home / ".config", "XDG_DATA_HOME": home / ".local/share",
                        "XDG_CACHE_HOME": home / ".cache", "CITYSCAN_STORE": home / "session-scans.db"}.items():
        patch.setenv(name, str(value))
    kept = ("CITYSCAN_STORE", "CITYSCAN_REQUIRE_NATIVE")   # the latter: set by .ci/run for a test
    for name in [k for k in os.environ if k.startswith("CITYSCAN_") and k not in kept]:
        patch.delenv(name)  # e.g. CITYSCAN_CONFIG or CITYSCAN_SITE of the developer's shell
    yield home
    patch.undo()


@pytest.fixture(autouse=True)
def _no_real_scan_outside_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that runs the real nmap in-process may only aim it at loopback: lab scans run inside the
    lab's namespace (a subprocess), and every other in-process scan uses a fake nmap on PATH. A test
    that loses its fake (e.g. by undoing its monkeypatches) fails here instead of sending packets."""
    from scanner import pipeline

    real = pipeline.scan_live

    def guarded(targets, scope, ports, timing, **options):  # type: ignore[no-untyped-def]
        nmap = shutil.which("nmap") or ""
        fake = nmap.startswith(tempfile.gettempdir()) or "pytest-of-" in nmap
        outside = [str(t) for t in targets if not t.is_loopback]
        if outside and not fake:
            pytest.fail(f"a test would run the real nmap at {', '.join(outside)} outside the lab")
        return real(targets, scope, ports, timing, **options)

    monkeypatch.setattr(pipeline, "scan_live", guarded)


@pytest.fixture(autouse=True)
def _private_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's scans go to a store of its own, never to the user's scan history."""
    path = tmp_path_factory.mktemp("store") / "scans.db"
    monkeypatch.setenv("CITYSCAN_STORE", str(path))
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``cityscan ARGS`` in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def lab_available() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces)"
    if not shutil.which("ip"):
        return "iproute2 is not installed"
    if not shutil.which("nmap"):
        return "nmap is not installed"
    return None


@pytest.fixture(scope="session")
def lab() -> Iterator[object]:
    """The full emulated lab, created once for the session and removed afterwards."""
    reason = lab_available()
    if reason:
        pytest.skip(reason)
    from scanner.lab import lab as lab_mod

    state = lab_mod.up(prefix=LAB_PREFIX)
    try:
        yield state
    finally:
        lab_mod.down(LAB_PREFIX)


# --- a real PostgreSQL server for the store's tests ------------------------------------------------

PG_PASSWORD = "pg-s3cret-for-tests"  # nowhere but in this throw-away server; tests check it never leaks


@dataclass
class PostgresServer:
    """A private PostgreSQL server: unix socket (trusted) in its own directory, TCP on 127.0.0.1 (password)."""

    base: Path
    port: int
    user: str = "cityscan"
    password: str = PG_PASSWORD

    def url(self, dbname: str = "postgres", password: str | None = PG_PASSWORD) -> str:
        """TCP URL on loopback, with the password in it (as a user might write it)."""
        auth = f"{self.user}:{password}" if password is not None else self.user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def socket_url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{dbname}?host={self.base}&port={self.port}"

    def create_database(self, name: str) -> str:
        """A fresh, empty database; its TCP URL."""
        import psycopg

        with psycopg.connect(self.socket_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """initdb + pg_ctl in a temporary directory (as 'nobody' when run as root: initdb refuses root),
    listening on its own unix socket and 127.0.0.1 only; stopped and removed at the end."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian's postgresql: /usr/lib/postgresql/*/bin)")
    base = Path(tempfile.mkdtemp(prefix="cityscan-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        prefix = ["runuser", "-u", "nobody", "--"]
    pwfile = base / "pwfile"
    pwfile.write_text(PG_PASSWORD + "\n")
    if prefix:
        os.chown(pwfile, pwd.getpwnam("nobody").pw_uid, -1)
    port = _free_port()
    data = base / "data"
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "cityscan", "-E", "UTF8",
                        "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"],
                       **run)  # type: ignore[call-overload]
        options = (f"-k {base} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off "
                   "-c synchronous_commit=off -c max_connections=60")
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-o", options,
                        "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]
    except subprocess.CalledProcessError as exc:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr} {log}")
    try:
        yield PostgresServer(base, port)
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(base, ignore_errors=True)
