"""The JSON result: indented at the top, one line per device / destination / finding, and exactly
the result's data (a banner's newline or a hostile control byte stays escaped inside its line)."""

from __future__ import annotations

import json

from scanner.model import Device, Observation, ScanInfo, ScanResult
from scanner.report import RenderOptions, render


def test_every_list_item_is_one_line_and_the_text_is_the_result() -> None:
    devices = [Device(ip=f"198.51.100.{n}", observations=[Observation("ssh.banner", "SSH-2.0-x\r\n\x1b[2Jevil", "probe")])
               for n in range(1, 4)]
    result = ScanResult(scan=ScanInfo(started_at="2026-12-02T00:00:00Z"), devices=devices)
    text = render(result, "json", RenderOptions())
    assert json.loads(text) == result.to_dict()
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and lines[1].startswith('  "')
    device_lines = [line for line in lines if line.startswith('    {"ip": "198.51.100.')]
    assert len(device_lines) == 3 and all("\\u001b[2J" in line for line in device_lines)
    assert "\x1b" not in text and text.isascii()
    assert ScanResult.from_dict(json.loads(text)).devices[0].observations[0].value.endswith("\x1b[2Jevil")
