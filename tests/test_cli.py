"""End-to-end tests of the `cityscan` command on real nmap XML recorded from the lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import DATA

from scanner.knowledge.paths import schema_path

LAB_XML = str(DATA / "lab-nmap.xml")
BASELINE = "eu-gdpr-baseline"


def test_table_lists_devices_and_findings(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "--nmap-xml", LAB_XML, "--policy", BASELINE)
    assert run.code == 1, run.err  # banned vendors are high: at the default --fail-on high
    assert "198.51.100.11" in run.out and "Hikvision" in run.out and "banned-vendor" in run.out
    assert "Summary:" in run.out
    assert run.err == "cityscan: 4 findings at or above high: banned-vendor (4)\n"  # exit 1 says why


def test_json_validates_against_the_shipped_schema(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "scan.json"
    run = cli("scan", "--nmap-xml", LAB_XML, "--policy", BASELINE, "--format", "json", "--output", str(out))
    assert run.code == 1 and run.out == ""
    assert f"report written to {out}" in run.err
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, json.loads(schema_path().read_text()))
    ips = {d["ip"] for d in doc["devices"]}
    assert {"198.51.100.11", "198.51.100.13", "198.51.100.37"} <= ips
    assert "198.51.100.2" not in ips  # the scanning host itself is not a device
    banned = {f["device_ip"] for f in doc["findings"] if f["rule"] == "banned-vendor"}
    assert {"198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.34"} <= banned
    assert doc["scan"]["policy"]["name"] == BASELINE and len(doc["scan"]["policy"]["sha256"]) == 64
    assert doc["scan"]["inputs"][0]["kind"] == "nmap-xml"


def test_fail_on_thresholds(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("scan", "--nmap-xml", LAB_XML, "--policy", BASELINE, "--fail-on", "critical").code == 0
    assert cli("scan", "--nmap-xml", LAB_XML, "--policy", BASELINE, "--fail-on", "none").code == 0
    assert cli("scan", "--nmap-xml", LAB_XML, "--policy", BASELINE, "--fail-on", "low").code == 1
    default = cli("scan", "--nmap-xml", LAB_XML)  # no policy given: the built-in default judges, named
    assert default.code == 1 and "policy: eu-gdpr-baseline" in default.out
    inventory = cli("scan", "--nmap-xml", LAB_XML, "--policy", "none")  # inventory only
    assert inventory.code == 0 and "policy: none" in inventory.out and "Findings (0)" in inventory.out


def test_a_mistyped_policy_name_suggests_the_built_in_one(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "--nmap-xml", LAB_XML, "--policy", "eu-gdpr-basline")
    assert run.code == 2 and run.err.count("\n") == 1
    assert "did you mean eu-gdpr-baseline?" in run.err and "nl-municipality" in run.err


def test_quiet_prints_nothing_on_success(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "--nmap-xml", LAB_XML, "--quiet", "--fail-on", "none", "--format", "json", "--output",
              str(tmp_path / "r.json"))
    assert run.code == 0 and run.out == "" and run.err == ""


def test_outputs_take_the_format_their_name_says(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    junit_file = tmp_path / "j.xml"
    run = cli("scan", "--nmap-xml", LAB_XML, "--fail-on", "none", "--format", "table", "--format", "junit",
              "--output", str(junit_file))
    assert run.code == 0 and junit_file.read_text().startswith("<?xml") and "Summary:" in run.out
    run = cli("scan", "--nmap-xml", LAB_XML, "--format", "json", "--output", str(tmp_path / "r.html"))
    assert run.code == 2 and "the name says html" in run.err
    run = cli("scan", "--nmap-xml", LAB_XML, "--output", str(tmp_path / "r.sarif"), "--fail-on", "none")
    assert run.code == 0 and json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    run = cli("scan", "--nmap-xml", LAB_XML, "--format", "json", "--format", "csv", "--output",
              str(tmp_path / "x.out"), "--output", str(tmp_path / "x.out"))
    assert run.code == 2 and "would be written to one file" in run.err
    run = cli("scan", "--nmap-xml", LAB_XML, "--format", "json", "--output-dir", str(tmp_path / "new" / "dir"),
              "--fail-on", "none")
    assert run.code == 0 and (tmp_path / "new" / "dir" / "cityscan-report.json").is_file()


def test_waived_findings_stay_but_do_not_fail(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    waivers = tmp_path / "waivers.yaml"
    lines = ["waivers:"]
    for ip in ("198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.34"):
        lines += ["  - rule: banned-vendor", f"    device: {ip}", "    justification: replacement ordered",
                  "    approver: CISO", "    expires: 2999-01-01"]
    lines += ["  - rule: banned-vendor", "    device: 198.51.100.99", "    justification: old camera",
              "    approver: CISO", "    expires: 2999-01-01",
              "  - rule: unidentified-device", "    device: 198.51.100.37", "    justification: test",
              "    approver: CISO", "    expires: 2020-01-01"]
    waivers.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scan.json"
    run = cli("scan", "--nmap-xml", LAB_XML, "--policy", BASELINE, "--waivers", str(waivers),
              "--format", "json", "--output", str(out))
    assert run.code == 0, run.err
    doc = json.loads(out.read_text())
    banned = [f for f in doc["findings"] if f["rule"] == "banned-vendor"]
    assert banned and all(f["waived"] and f["waiver"]["approver"] == "CISO" for f in banned)
    status = {(w["device"], w["status"]) for w in doc["waivers"]}
    assert ("198.51.100.99", "unused") in status and ("198.51.100.37", "expired") in status
    unidentified = [f for f in doc["findings"] if f["rule"] == "unidentified-device"]
    assert unidentified and not unidentified[0]["waived"]


def test_report_re_evaluates_a_stored_scan_under_another_policy(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "scan.json"
    cli("scan", "--nmap-xml", LAB_XML, "--policy", BASELINE, "--format", "json", "--output", str(out))
    run = cli("report", str(out), "--policy", "us-ndaa-889", "--format", "json")
    doc = json.loads(run.out)
    assert doc["scan"]["policy"]["name"] == "us-ndaa-889"
    assert {f["severity"] for f in doc["findings"] if f["rule"] == "banned-vendor"} == {"critical"}
    assert run.code == 1
    assert cli("report", str(out), "--fail-on", "none").code == 0


def test_policy_validate_command(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("policy", "validate", "sample_configs/policies/nl-municipality.yaml")
    assert run.code == 0 and "ok: policy 'nl-municipality'" in run.out


# --- bad input: exit 2 and one line naming file, line and cause -----------------------------

def one_line(run) -> str:  # type: ignore[no-untyped-def]
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err
    return lines[0]


def test_missing_nmap_xml(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "--nmap-xml", str(tmp_path / "nope.xml"))
    assert run.code == 2
    assert one_line(run) == f"cityscan: error: {tmp_path / 'nope.xml'}: nmap XML: no such file"


def test_malformed_nmap_xml_names_the_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.xml"
    bad.write_bytes(Path(LAB_XML).read_bytes()[:2000])
    run = cli("scan", "--nmap-xml", str(bad))
    assert run.code == 2
    assert one_line(run).startswith(f"cityscan: error: {bad}:") and "malformed nmap XML" in run.err


def test_xml_entity_bomb_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE n [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
                    "<nmaprun>&b;</nmaprun>")
    run = cli("scan", "--nmap-xml", str(bomb))
    assert run.code == 2 and "refusing unsafe XML" in one_line(run)


def test_not_nmap_xml(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other.xml"
    other.write_text("<html><body>hi</body></html>")
    run = cli("scan", "--nmap-xml", str(other))
    assert run.code == 2 and "not nmap XML output" in one_line(run)


def test_bad_policy_and_config_and_waivers(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nrules:\n  banned-vendors: {}\n")
    run = cli("scan", "--nmap-xml", LAB_XML, "--policy", str(policy))
    assert run.code == 2 and one_line(run).startswith(f"cityscan: error: {policy}:3: unknown rule 'banned-vendors'")
    config = tmp_path / "c.yaml"
    config.write_text("targets: [198.51.100.0/24]\npolicy: p.yaml\nfail_on: sometimes\n")
    run = cli("scan", "--config", str(config))
    assert run.code == 2 and one_line(run).startswith(f"cityscan: error: {config}:3: config.fail_on must be one of")
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers:\n  - rule: banned-vendor\n    device: 198.51.100.11\n    justification: x\n"
                       "    approver: y\n    expires: next year\n")
    run = cli("scan", "--nmap-xml", LAB_XML, "--waivers", str(waivers))
    assert run.code == 2 and one_line(run).startswith(f"cityscan: error: {waivers}:6: waiver.expires")


def test_target_out_of_scope_is_refused_before_any_packet(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # With no nmap on PATH, a scan that got as far as sending packets would exit 3; a refusal exits 2.
    monkeypatch.setenv("PATH", "/nonexistent")
    run = cli("scan", "203.0.113.0/24", "--scope", "198.51.100.0/24")
    assert run.code == 2
    assert one_line(run) == ("cityscan: error: target 203.0.113.0/24 is outside the scope (198.51.100.0/24); "
                             "refusing to scan")


def test_usage_errors_are_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan")
    assert run.code == 2 and "nothing to scan" in one_line(run)
    run = cli("scan", "--nmap-xml", LAB_XML, "--fail-on", "severe")
    assert run.code == 2 and "--fail-on" in one_line(run)
    run = cli("scan", "not-an-address")
    assert run.code == 2 and one_line(run) == "cityscan: error: target 'not-an-address': the host name does not resolve in the hosts file (host names are looked up in DNS only with --online)"


def test_missing_nmap_exits_3(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/nonexistent")
    run = cli("scan", "127.0.0.1/32")
    assert run.code == 3 and "nmap is not installed" in one_line(run)


def test_output_file_is_not_left_behind_on_bad_input(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "scan.json"
    bad = tmp_path / "bad.xml"
    bad.write_text("<nmaprun><host>")
    assert cli("scan", "--nmap-xml", str(bad), "--format", "json", "--output", str(out)).code == 2
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "cityscan"
    proc = subprocess.run([str(exe), "scan", "--nmap-xml", str(tmp_path / "x.xml")], capture_output=True, text=True,
                          env={**os.environ})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.skipif(not __import__("shutil").which("nmap"), reason="nmap is not installed")
def test_live_scan_of_loopback(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real nmap run, against a server this test starts on loopback."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = tmp_path / "live.json"
        run = cli("scan", "127.0.0.1/32", "--ports", str(port), "--format", "json", "--output", str(out),
                  "--policy", BASELINE)
        assert run.code in (0, 1), run.err
        doc = json.loads(out.read_text())
        jsonschema.validate(doc, json.loads(schema_path().read_text()))
        assert doc["scan"]["nmap_version"]
        [dev] = doc["devices"]
        assert dev["ip"] == "127.0.0.1" and [s["port"] for s in dev["services"]] == [port]
        assert any(o["field"] == "http.server" and "SimpleHTTP" in o["value"] for o in dev["observations"])
    finally:
        server.shutdown()


def test_several_formats_in_one_run(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "--nmap-xml", LAB_XML, "--policy", BASELINE, "--format", "json", "--output",
              str(tmp_path / "a.json"), "--format", "table", "--fail-on", "none")
    assert run.code == 0 and "Summary:" in run.out and json.loads((tmp_path / "a.json").read_text())["devices"]
    run = cli("scan", "--nmap-xml", LAB_XML, "--format", "json", "--format", "table", "--output-dir", str(tmp_path),
              "--fail-on", "none")
    assert run.code == 0 and (tmp_path / "cityscan-report.json").is_file() and (tmp_path / "cityscan-report.txt").is_file()
    run = cli("scan", "--nmap-xml", LAB_XML, "--format", "json", "--format", "table")
    assert run.code == 2 and "only one --format can go to stdout" in one_line(run)
    run = cli("scan", "--nmap-xml", LAB_XML, "--output", str(tmp_path / "missing" / "x.json"))
    assert run.code == 2 and "output directory does not exist" in one_line(run)
