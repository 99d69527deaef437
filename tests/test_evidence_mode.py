"""--evidence: a result keeps long raw observations cut (compact, the default) or whole (full).
Identification always sees the whole value; only what the result keeps differs, and it says so."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import HIKVISION_DEVICEINFO, device, result

from scanner.config import load_config
from scanner.errors import InputError
from scanner.pipeline import COMPACT_CHARS, compact_evidence, identify

PADDED = HIKVISION_DEVICEINFO.replace("<deviceName>", "<!--" + "x" * 5000 + "--><deviceName>")


def test_compact_cuts_what_no_fingerprint_matched_and_keeps_what_identified_the_device() -> None:
    page = "<html><body>" + "z" * 5000 + "</body></html>"   # a page nothing recognises
    camera = device("198.51.100.11", None, [("http.body", PADDED, "/ISAPI/System/deviceInfo"),
                                            ("http.body", page, "/index.html"), ("http.server", "App-webs/", None)])
    scan = result([camera])
    identify(scan)
    assert camera.model == "DS-2CD2386G2-IU"  # the model sits after the 5,000 padding characters
    assert compact_evidence(scan) == 1
    bodies = {o.path: o.value for o in camera.observations if o.field == "http.body"}
    assert bodies["/ISAPI/System/deviceInfo"] == PADDED  # matched: kept whole, so explain sees the same
    kept = bodies["/index.html"]
    assert kept.startswith(page[:COMPACT_CHARS]) and len(kept) < COMPACT_CHARS + 100
    assert kept.endswith(f"[... {len(page) - COMPACT_CHARS:,} more characters not kept: --evidence full]")
    again = result([camera])
    identify(again)  # a stored compact result identifies the same
    assert (camera.vendor, camera.model) == ("Hikvision", "DS-2CD2386G2-IU")


def test_the_cli_default_is_compact_and_says_so(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An import's values are already bounded (2,048 characters per nmap value), so nothing is cut;
    the result still says which mode it was written in (a live scan's 16 KB bodies are cut)."""
    xml = tmp_path / "scan.xml"
    banner = "y" * 3000
    xml.write_text('<?xml version="1.0"?><nmaprun scanner="nmap" version="7.93"><host><status state="up"/>'
                   '<address addr="198.51.100.9" addrtype="ipv4"/><ports><port protocol="tcp" portid="22">'
                   '<state state="open"/><service name="ssh"/><script id="banner" output="' + banner + '"/>'
                   '</port></ports></host><runstats><finished/></runstats></nmaprun>')
    for args, kept in (((), False), (("--evidence", "full"), True)):
        out = tmp_path / "r.json"
        run = cli("scan", "--nmap-xml", str(xml), "--no-store", "--quiet", "--policy", "none", "--format", "json",
                  "--output", str(out), *args)
        assert run.code == 0, run.err
        doc = json.loads(out.read_text())
        values = [o["value"] for d in doc["devices"] for o in d["observations"] if o["field"] == "ssh.banner"]
        assert values == [banner[:2048]]
        marks = [i for i in doc["scan"]["inputs"] if i["kind"] == "evidence"]
        assert marks == ([] if kept else [{"kind": "evidence", "mode": "compact", "kept_characters": "2048", "cut": "0"}])


def test_the_config_key_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "scan.yaml"
    path.write_text("targets: [198.51.100.0/24]\nevidence: everything\n")
    try:
        load_config(path)
    except InputError as exc:
        assert exc.line == 2 and "evidence" in str(exc)
    else:
        raise AssertionError("an unknown evidence mode was accepted")
    path.write_text("targets: [198.51.100.0/24]\nevidence: full\n")
    assert load_config(path).evidence == "full"
