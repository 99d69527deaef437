"""The capabilities the deployment gives nmap are enough, and no more is needed: nmap run as an
unprivileged user with exactly the systemd unit's capability settings, and with the Dockerfile's
file capability, reads a device's MAC address over ARP in two network namespaces of its own;
without them it cannot. Needs root (namespaces, setpriv, setcap): marked `lab`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_helpers import ROOT
from test_systemd_units import SERVICE, parse_unit, values

pytestmark = pytest.mark.lab

PREFIX = f"cdp{os.getpid() % 10000}"
SCANNER, DEVICE = f"{PREFIX}s", f"{PREFIX}d"
DEVICE_IP = "203.0.113.2"  # TEST-NET-3, only inside the two namespaces below
NOBODY = "65534"


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, setpriv, setcap)"
    for tool in ("ip", "nmap", "setpriv", "setcap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@pytest.fixture(scope="module")
def segment() -> Iterator[None]:
    """Two namespaces on one veth link, the device listening on TCP 8080."""
    reason = _missing()
    if reason:
        pytest.skip(reason)

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)

    server = None
    try:
        ip("netns", "add", SCANNER)
        ip("netns", "add", DEVICE)
        ip("link", "add", f"{PREFIX}a", "netns", SCANNER, "type", "veth", "peer", "name", f"{PREFIX}b", "netns", DEVICE)
        ip("-n", SCANNER, "addr", "add", "203.0.113.1/30", "dev", f"{PREFIX}a")
        ip("-n", DEVICE, "addr", "add", f"{DEVICE_IP}/30", "dev", f"{PREFIX}b")
        for ns, dev in ((SCANNER, f"{PREFIX}a"), (DEVICE, f"{PREFIX}b")):
            ip("-n", ns, "link", "set", dev, "up")
        server = subprocess.Popen(["ip", "netns", "exec", DEVICE, "timeout", "300", "python3", "-c",
                                   f"import socket,time; s=socket.create_server(('{DEVICE_IP}', 8080)); "
                                   "print('listening', flush=True); time.sleep(300)"],
                                  stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        yield
    finally:
        if server is not None:
            server.kill()
            server.wait(timeout=10)
        for ns in (SCANNER, DEVICE):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def _nmap(nmap: str, setpriv: list[str], env: dict[str, str]) -> str:
    """nmap's XML for a SYN scan of the device, run in the scanner namespace through SETPRIV."""
    argv = ["ip", "netns", "exec", SCANNER, "setpriv", *setpriv, "env", "-i", "PATH=/usr/bin:/bin",
            *(f"{k}={v}" for k, v in env.items()), nmap, "-n", "-sS", "-p", "8080", "-oX", "-", DEVICE_IP]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout


def _sees_mac(xml: str) -> bool:
    assert "<nmaprun" in xml, "nmap did not run at all"
    return re.search(r'addrtype="mac"', xml) is not None and 'portid="8080"><state state="open"' in xml


def _unit_setpriv(text: str) -> tuple[list[str], dict[str, str]]:
    """The service's user, capability and no-new-privileges settings as setpriv options."""
    unit = parse_unit(text)
    ambient = [c.lower().removeprefix("cap_") for c in values(unit, "Service", "AmbientCapabilities")[-1].split()]
    bounding = [c.lower().removeprefix("cap_") for c in values(unit, "Service", "CapabilityBoundingSet")[-1].split()]
    opts = ["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups",
            "--inh-caps", ",".join(f"+{c}" for c in ambient) or "-all",
            "--ambient-caps", ",".join(f"+{c}" for c in ambient) or "-all",
            "--bounding-set", ",".join(["-all", *(f"+{c}" for c in bounding)])]
    if values(unit, "Service", "NoNewPrivileges")[-1] == "yes":
        opts.insert(0, "--no-new-privs")
    env = dict(v.split("=", 1) for v in values(unit, "Service", "Environment") if v.startswith("NMAP_"))
    return opts, env


def test_the_units_capabilities_give_nmap_the_mac_address(segment: None) -> None:
    opts, env = _unit_setpriv(SERVICE.read_text())
    assert _sees_mac(_nmap("/usr/bin/nmap", opts, env))


def test_without_the_capability_nmap_gets_no_mac_address(segment: None) -> None:
    """The near miss: the same unit without AmbientCapabilities."""
    text = SERVICE.read_text().replace("AmbientCapabilities=CAP_NET_RAW", "AmbientCapabilities=")
    opts, env = _unit_setpriv(text)
    assert not _sees_mac(_nmap("/usr/bin/nmap", opts, env))


@pytest.fixture
def exec_dir() -> Iterator[Path]:
    """A directory the unprivileged user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="cityscan-caps-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _dockerfile_nmap(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A copy of nmap with the capability the Dockerfile's setcap line gives it, and its ENV."""
    text = (ROOT / "Dockerfile").read_text()
    caps = re.search(r"setcap\s+(\S+)\s+/usr/bin/nmap", text)
    assert caps
    nmap = tmp_path / "nmap"
    shutil.copy("/usr/bin/nmap", nmap)
    nmap.chmod(0o755)
    subprocess.run(["setcap", caps.group(1), str(nmap)], check=True, timeout=30)
    env = dict(re.findall(r"\b(NMAP_\w+)=(\S+)", text))
    return str(nmap), env


def test_the_images_file_capability_gives_nmap_the_mac_address(segment: None, exec_dir: Path) -> None:
    """As in the container: an unprivileged user, no ambient capabilities, the engine's default
    bounding set (it holds CAP_NET_RAW)."""
    nmap, env = _dockerfile_nmap(exec_dir)
    assert _sees_mac(_nmap(nmap, ["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"], env))


def test_no_new_privileges_disables_the_file_capability(segment: None, exec_dir: Path) -> None:
    """Why docs/deploying.md says not to run the image with --security-opt no-new-privileges."""
    nmap, env = _dockerfile_nmap(exec_dir)
    assert not _sees_mac(_nmap(nmap, ["--no-new-privs", "--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"], env))
