"""Opt-in authenticated checks: HTTP Digest, credentials from a file, and a password that appears
nowhere (result, reports, history, errors, the process list). Devices run on loopback only."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import HIKVISION_DEVICEINFO

from scanner.collect.credentials import load_credentials
from scanner.collect.probes.authenticated import check_device
from scanner.collect.probes.digest import (
    authorization,
    parse_challenge,
    response,
    verify,
)
from scanner.errors import InputError
from scanner.history.store import Store
from scanner.knowledge.loader import capability_checks
from scanner.model import Device, Service
from scanner.pipeline import identify

SECRET = "s3cret-Pa55word-for-tests"
NONCE = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
CAPABILITIES = ("<?xml version=\"1.0\"?><DeviceCap xmlns=\"http://www.isapi.org/ver20/XMLSchema\"><EventCap>"
                "<isSupportFaceContrast>true</isSupportFaceContrast><isSupportFaceSnap>true</isSupportFaceSnap>"
                "</EventCap><SmartCap><isSupportFaceDetect>false</isSupportFaceDetect></SmartCap></DeviceCap>")


def test_digest_matches_rfc_2617s_example() -> None:
    params = {"realm": "testrealm@host.com", "nonce": NONCE, "qop": "auth"}
    assert response(params, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", "0a4f113b",
                    "00000001") == "6629fae49393a05397450978507c4ef1"
    challenge = f'Digest realm="lab", qop="auth", nonce="{NONCE}", opaque="799d5"'
    header = authorization(challenge, "GET", "/ISAPI/System/capabilities", "auditor", SECRET)
    assert verify(header, "GET", "lab", NONCE, "auditor", SECRET)
    assert not verify(header, "GET", "lab", NONCE, "auditor", "wrong")
    assert parse_challenge('Basic realm="x"') is None


class _Device(http.server.BaseHTTPRequestHandler):
    """A Hikvision-like web server: deviceInfo open, capabilities behind Digest."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/ISAPI/System/deviceInfo":
            self._send(200, HIKVISION_DEVICEINFO)
        elif self.path == "/ISAPI/System/capabilities":
            if verify(self.headers.get("Authorization", ""), "GET", "lab", NONCE, "auditor", SECRET):
                self._send(200, CAPABILITIES)
            else:
                self._send(401, "", {"WWW-Authenticate": f'Digest realm="lab", qop="auth", nonce="{NONCE}"'})
        else:
            self._send(404, "")

    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def device_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Device)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def creds(tmp_path: Path, body: str, mode: int = 0o600) -> str:
    path = tmp_path / "credentials.yaml"
    path.write_text(body)
    path.chmod(mode)
    return str(path)


def test_credentials_come_from_the_environment_a_file_or_a_private_file(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVR_PW", SECRET)
    [env] = load_credentials(creds(tmp_path, "credentials:\n  - targets: [127.0.0.1]\n    username: auditor\n"
                                             "    password_env: NVR_PW\n"))
    assert env.password == SECRET and SECRET not in repr(env) and env.applies("127.0.0.1", "Hikvision")
    secret = tmp_path / "pw"
    secret.write_text(SECRET + "\n")
    [file] = load_credentials(creds(tmp_path, f"credentials:\n  - targets: [127.0.0.0/8]\n    username: a\n"
                                              f"    vendor: Axis\n    password_file: {secret}\n"))
    assert file.password == SECRET and not file.applies("127.0.0.1", "Hikvision")
    inline = "credentials:\n  - targets: [127.0.0.1]\n    username: a\n    password: " + SECRET + "\n"
    assert load_credentials(creds(tmp_path, inline))[0].password == SECRET
    with pytest.raises(InputError, match=r"credentials.yaml:4: .*readable by its owner only") as err:
        load_credentials(creds(tmp_path, inline, 0o644))
    assert SECRET not in str(err.value)
    with pytest.raises(InputError, match="NOT_SET is not set"):
        load_credentials(creds(tmp_path, "credentials:\n  - targets: [127.0.0.1]\n    username: a\n"
                                         "    password_env: NOT_SET\n"))
    with pytest.raises(InputError, match="exactly one of"):
        load_credentials(creds(tmp_path, "credentials:\n  - targets: [127.0.0.1]\n    username: a\n"))


def test_the_device_reports_its_own_capabilities(tmp_path: Path, device_port: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NVR_PW", SECRET)
    [cred] = load_credentials(creds(tmp_path, "credentials:\n  - targets: [127.0.0.1]\n    username: auditor\n"
                                              "    password_env: NVR_PW\n"))
    dev = Device("127.0.0.1", vendor="Hikvision", services=[Service(device_port, "tcp", "http")])
    observations, errors = check_device(dev, cred, list(capability_checks()), 3.0)
    assert errors == []
    assert {(o.field, o.value) for o in observations} == {
        ("capability.face-recognition", "supported"), ("capability.face-capture", "supported"),
        ("capability.face-detection", "unsupported")}
    camera = Device("127.0.0.1", observations=observations, capabilities=["face-detection"])
    from helpers import result

    from scanner.model import Observation
    camera.observations.append(Observation("http.body", HIKVISION_DEVICEINFO, "http-get", device_port,
                                           "/ISAPI/System/deviceInfo"))
    identified = identify(result([camera])).devices[0]
    assert {"face-recognition", "face-capture"} <= set(identified.capabilities)
    assert "face-detection" not in identified.capabilities  # the device's own word beats a model table
    bad = load_credentials(creds(tmp_path, "credentials:\n  - targets: [127.0.0.1]\n    username: auditor\n"
                                           "    password: wrong-password\n"))[0]
    _, errors = check_device(dev, bad, list(capability_checks()), 3.0)
    assert errors and "was refused" in errors[0].message and "wrong-password" not in errors[0].message


@pytest.mark.skipif(not __import__("shutil").which("nmap"), reason="nmap is not installed")
def test_the_password_appears_nowhere(tmp_path: Path, device_port: int) -> None:
    """A real scan of a loopback device with credentials: the password is in no output, no stored
    scan, no error and not on the scanner's command line."""
    path = creds(tmp_path, "credentials:\n  - targets: [127.0.0.1]\n    vendor: Hikvision\n    username: auditor\n"
                           "    password_env: NVR_PW\n")
    out, html, store = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "scans.db"
    argv = [sys.executable, "-m", "scanner", "scan", "127.0.0.1/32", "--ports", str(device_port), "--credentials",
            path, "--policy", "eu-gdpr-baseline", "--store", str(store), "--format", "json", "--output", str(out),
            "--format", "html", "--output", str(html), "-v"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NVR_PW": SECRET, "HOME": str(tmp_path)})
    time.sleep(0.5)
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes() if Path(f"/proc/{proc.pid}").exists() else b""
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), stderr
    assert SECRET.encode() not in cmdline
    doc = json.loads(out.read_text())
    [dev] = doc["devices"]
    assert dev["vendor"] == "Hikvision" and "face-recognition" in dev["capabilities"]
    assert any(f["rule"] == "biometric-identification" for f in doc["findings"])
    assert {"kind": "authenticated-checks", "devices": "1"} in doc["scan"]["inputs"]
    with Store(str(store), readonly=True) as history:
        stored = json.dumps(history.load(history.list()[0].id).to_dict())
    for text in (out.read_text(), html.read_text(), stored, stdout, stderr):
        assert SECRET not in text


@pytest.mark.parametrize(("line", "message"), [
    ("    password:\n", "must be text"),
    ("    password: 2024-02-30\n", "not a valid timestamp"),
    ("    password: ''\n", "empty password"),
])
def test_bad_passwords_are_refused_without_echo(tmp_path: Path, line: str, message: str) -> None:
    path = creds(tmp_path, "credentials:\n  - targets: [127.0.0.1]\n    username: a\n" + line)
    with pytest.raises(InputError, match=message) as err:
        load_credentials(path)
    assert "2024-02-30" not in str(err.value)


def test_a_qop_list_with_spaces_still_uses_qop_auth() -> None:
    header = authorization(f'Digest realm="r", qop="auth-int, auth", nonce="{NONCE}"', "GET", "/x", "u", "p")
    assert "qop=auth" in header and "cnonce=" in header
