"""The history commands end to end through the CLI: scan --store, history, diff, and --flows."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import DATA

from scanner.history.store import Store

LAB_XML = str(DATA / "lab-nmap.xml")
POLICY = "eu-gdpr-baseline"


def without_host(tmp_path: Path, ip: str) -> str:
    """lab-nmap.xml with one host left out: the network as it was before that device came."""
    text = (DATA / "lab-nmap.xml").read_text()
    hosts = re.findall(r"<host\b.*?</host>", text, flags=re.S)
    [gone] = [h for h in hosts if f'addr="{ip}"' in h]
    out = tmp_path / f"without-{ip}.xml"
    out.write_text(text.replace(gone, ""))
    return str(out)


def test_scans_are_stored_and_listed(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = str(tmp_path / "scans.db")
    for _ in range(2):
        assert cli("scan", "--nmap-xml", LAB_XML, "--policy", POLICY, "--store", store, "--fail-on", "none").code == 0
    run = cli("history", "--store", store, "--format", "json")
    assert run.code == 0, run.err
    listed = json.loads(run.out)
    assert [s["id"] for s in listed] == [2, 1]
    assert listed[0]["devices"] == 13 and listed[0]["policy_name"] == POLICY and not listed[0]["partial"]
    table = cli("history", "--store", store)
    assert "complete" in table.out and POLICY in table.out


def test_no_store_saves_nothing(cli, tmp_path: Path, _private_store: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("scan", "--nmap-xml", LAB_XML, "--no-store", "--fail-on", "none").code == 0
    assert not _private_store.exists()
    assert cli("scan", "--nmap-xml", LAB_XML, "--fail-on", "none").code == 0  # $CITYSCAN_STORE by default
    with Store(_private_store, readonly=True) as store:
        assert len(store.list()) == 1


def test_diff_of_the_last_two_scans_and_fail_on_new(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = str(tmp_path / "scans.db")
    before = without_host(tmp_path, "198.51.100.13")  # the Dahua camera arrives in the second scan
    assert cli("scan", "--nmap-xml", before, "--policy", POLICY, "--store", store, "--fail-on", "none").code == 0
    assert cli("scan", "--nmap-xml", LAB_XML, "--policy", POLICY, "--store", store, "--fail-on", "none").code == 0
    run = cli("diff", "--store", store, "--format", "json")
    assert run.code == 0, run.err
    changes = json.loads(run.out)
    assert [d["ip"] for d in changes["new_devices"]] == ["198.51.100.13"]
    assert "banned-vendor" in {f["rule"] for f in changes["new_findings"]}
    assert cli("diff", "--store", store, "--fail-on-new", "high").code == 1
    assert cli("diff", "--store", store, "--fail-on-new", "critical").code == 0
    back = cli("diff", "2", "1", "--store", store, "--format", "markdown")
    assert back.code == 0 and "198.51.100.13" in back.out


def test_diff_of_two_json_results(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    cli("scan", "--nmap-xml", without_host(tmp_path, "198.51.100.11"), "--policy", POLICY, "--no-store",
        "--format", "json", "--output", str(old), "--fail-on", "none")
    cli("scan", "--nmap-xml", LAB_XML, "--policy", POLICY, "--no-store", "--format", "json", "--output", str(new),
        "--fail-on", "none")
    out = tmp_path / "diff.md"
    run = cli("diff", str(old), str(new), "--format", "markdown", "--output", str(out), "--fail-on-new", "high")
    assert run.code == 1 and "198.51.100.11" in out.read_text()


def test_diff_needs_two_scans(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = str(tmp_path / "scans.db")
    assert cli("diff", "--store", store).code == 2  # no store yet: a reader does not create one
    cli("scan", "--nmap-xml", LAB_XML, "--store", store, "--fail-on", "none")
    run = cli("diff", "--store", store, "--fail-on-new", "info")  # the first night of a schedule: no error
    assert run.code == 0 and "nothing to compare yet" in run.err and run.out == ""
    assert cli("diff", "1", "--store", store).code == 2
    assert cli("diff", "1", "7", "--store", store).code == 2


def test_flows_give_each_device_its_destinations_with_owners(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "scan.json"
    run = cli("scan", "--nmap-xml", LAB_XML, "--flows", str(DATA / "flows-city.csv"),
              "--flows", str(DATA / "zeek" / "conn.log"), "--flows", str(DATA / "zeek" / "dns.log"),
              "--policy", POLICY, "--format", "json", "--output", str(out), "--fail-on", "none")
    assert run.code == 0, run.err
    doc = json.loads(out.read_text())
    dests = {(d["device_ip"], d["ip"]): d for d in doc["destinations"] if d["ip"]}
    aws = dests[("198.51.100.11", "1.178.30.1")]
    assert (aws["asn"], aws["company"], aws["parent_company"]) == (8987, "Amazon Data Services Ireland Ltd", "Amazon.com, Inc.")
    assert aws["country"] and aws["network_owner"]
    assert set(aws["jurisdictions"]) == {"IE", "US"} and "flows" in aws["sources"]
    tencent = dests[("198.51.100.13", "1.12.0.1")]
    assert tencent["asn"] == 45090 and "CN" in tencent["jurisdictions"]
    # From the lab's Zeek logs: the DNS answer names the address, the name says whose cloud it is.
    hik = dests[("198.51.100.11", "203.0.113.100")]
    assert hik["host"] == "api.hik-connect.com" and hik["jurisdictions"] == ["CN"]
    assert "fingerprint" in hik["sources"]  # the vendor endpoint the traffic confirms: one destination
    assert not any(d["host"] == "api.hik-connect.com" and d["ip"] is None and d["device_ip"] == "198.51.100.11"
                   for d in doc["destinations"])
    rules = {(f["rule"], f["device_ip"]) for f in doc["findings"]}
    assert ("foreign-jurisdiction", "198.51.100.11") in rules or ("data-leaves-eu", "198.51.100.11") in rules
    assert {i["path"] for i in doc["scan"]["inputs"] if i["kind"] == "flows"} >= {str(DATA / "flows-city.csv")}


def test_bad_flows_file_stops_before_the_scan(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The live targets below are loopback: should a check ever pass by mistake, nothing leaves the machine."""
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,src_ip,dst_ip,dst_port,transport,bytes\n1,198.51.100.11,not-an-ip,443,tcp,1\n")
    run = cli("scan", "127.0.0.1", "--flows", str(bad))
    assert run.code == 2 and f"{bad}:2" in run.err and len(run.err.strip().splitlines()) == 1
    zeek_as_csv = cli("scan", "--nmap-xml", LAB_XML, "--flows", str(DATA / "zeek" / "conn.log"),
                      "--flows-format", "csv")
    assert zeek_as_csv.code == 2 and "conn.log" in zeek_as_csv.err


def test_capture_needs_a_live_scan(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "--nmap-xml", LAB_XML, "--capture", "eth0")
    assert run.code == 2 and "--capture needs TARGETS" in run.err
    assert cli("scan", "127.0.0.1", "--capture", "-i/etc/passwd").code == 2


def test_capture_on_a_missing_interface_stops_before_the_scan(cli) -> None:  # type: ignore[no-untyped-def]
    import os
    import shutil

    import pytest

    if os.geteuid() != 0 or not shutil.which("tcpdump"):
        pytest.skip("needs root and tcpdump")
    run = cli("scan", "127.0.0.1", "--capture", "nosuchif0", "--no-store")
    assert run.code == 2 and "no network interface 'nosuchif0'" in run.err and len(run.err.strip().splitlines()) == 1


def test_a_stop_during_the_offline_stages_keeps_the_scan(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Online look-ups can be slow: a signal then still leaves a partial result with every device."""
    import signal

    import pytest

    from scanner import pipeline
    from scanner.runtime.interrupt import ScanInterrupted

    real_resolve = pipeline.resolve
    calls = []

    def slow_lookups(result, summary, online, db=None):  # type: ignore[no-untyped-def]
        calls.append(online)
        if len(calls) == 1:
            raise ScanInterrupted(signal.SIGTERM)
        return real_resolve(result, summary, online, db)

    monkeypatch.setattr(pipeline, "resolve", slow_lookups)
    with pytest.raises(ScanInterrupted) as stopped:
        pipeline.run_scan(pipeline.ScanRequest(nmap_xml=[LAB_XML]))
    partial = stopped.value.result
    assert partial is not None and partial.scan.partial and len(partial.devices) == 13
    assert any("SIGTERM" in e.message for e in partial.errors) and calls[1] is None  # the clean-up stays offline
