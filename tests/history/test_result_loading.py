"""A JSON result is read back line by line (one object per device, destination, finding) without
building the whole parsed tree; other layouts are read whole; a damaged file names its line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from scanner.errors import InputError
from scanner.history.results import load_result
from scanner.model import Device, Evidence, Finding, Observation, ScanInfo, ScanResult
from scanner.report import RenderOptions, render


def sample() -> ScanResult:
    devices = [Device(ip=f"198.51.100.{n}", vendor="Axis", model="M1065-LW", firmware="9.10.1",
                      observations=[Observation("http.body", '<x a="1">\n\t"quoted"\x1b</x>', "http-get", 80, "/")],
                      evidence=[Evidence("nmap", "fingerprint axis-x matched")]) for n in range(1, 6)]
    findings = [Finding(rule="outdated-firmware", severity="medium", title="t", device_ip="198.51.100.1",
                        message="m", evidence=[Evidence("policy", "minimum 9.80")])]
    return ScanResult(scan=ScanInfo(started_at="2026-12-02T00:00:00Z", targets=["198.51.100.0/24"]), devices=devices,
                      findings=findings, tool={"name": "cityscan", "version": "test"},
                      rules=[{"id": "outdated-firmware", "status": "findings"}], countries={"US": {"name": "United States"}})


def test_the_written_layout_reads_back_to_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    original = sample()
    path.write_text(render(original, "json", RenderOptions()))
    assert load_result(str(path)).to_dict() == original.to_dict()


def test_any_other_json_layout_is_read_whole(tmp_path: Path) -> None:
    original = sample()
    for text in (json.dumps(original.to_dict(), indent=2), json.dumps(original.to_dict()),
                 json.dumps(original.to_dict(), indent="\t")):
        path = tmp_path / "other.json"
        path.write_text(text)
        assert load_result(str(path)).to_dict() == original.to_dict()


def test_a_cut_file_and_a_broken_item_name_their_line(tmp_path: Path) -> None:
    text = render(sample(), "json", RenderOptions())
    path = tmp_path / "cut.json"
    lines_kept = text[: text.index('  "findings"')].count("\n")
    path.write_text(text[: text.index('  "findings"')])  # the disk filled up while writing: whole lines
    with pytest.raises(InputError) as cut:
        load_result(str(path))
    assert "ends before its last '}'" in str(cut.value) and cut.value.line == lines_kept
    lines = text.splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith('    {"ip": "198.51.100.3"'))
    lines[n] = '    {"ip": "198.51.100.3", "services": 7},'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as broken:
        load_result(str(path))
    assert broken.value.line == n + 1 and "malformed cityscan JSON result" in str(broken.value)


def test_other_json_is_refused_and_a_pipe_can_carry_a_result(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{\n  "hello": 1\n}\n')
    with pytest.raises(InputError, match="not a cityscan JSON result"):
        load_result(str(path))
    text = render(sample(), "json", RenderOptions())
    run = subprocess.run([sys.executable, "-c", "from scanner.history.results import load_result; "
                          "print(len(load_result('/dev/stdin').devices))"], input=text, capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "5", run.stderr


@pytest.mark.parametrize("member", ['"devices": [{"ip": "198.51.100.1"}]', '"devices": 5', '"devices": "abc"',
                                    '"findings": {"a": 1}'])
def test_items_written_inline_or_of_the_wrong_type_are_checked_like_any_json(tmp_path: Path, member: str) -> None:
    lines = render(sample(), "json", RenderOptions()).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('  "' + member.split('"')[1] + '": ['))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("  ]"))
    comma = "," if lines[end].endswith(",") else ""
    path = tmp_path / "inline.json"
    path.write_text("\n".join([*lines[:start], "  " + member + comma, *lines[end + 1:]]) + "\n")
    if member.startswith('"devices": [{'):
        loaded = load_result(str(path))
        assert [d.ip for d in loaded.devices] == ["198.51.100.1"] and type(loaded.devices[0]).__name__ == "Device"
    else:
        with pytest.raises(InputError, match="cityscan JSON result"):
            load_result(str(path))
