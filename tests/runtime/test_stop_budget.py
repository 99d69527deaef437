"""A stop signal at city size: the clean-up goes on from where the stages were and stops within
its budget, saying what it did not do, instead of re-running every stage over every device."""

from __future__ import annotations

import signal
import time

import pytest

from conftest import ROOT
from scanner import pipeline
from scanner.judge.policy import load_policy
from scanner.runtime.interrupt import ScanInterrupted

LAB_XML = str(ROOT / "tests" / "data" / "lab-nmap.xml")


def test_the_clean_up_goes_on_from_where_identification_was_and_keeps_to_its_budget(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = pipeline.identify_stage
    chunks: list[int] = []

    def slow_identify(devices, db=None):  # type: ignore[no-untyped-def]
        chunks.append(len(devices))
        if len(chunks) == 3:  # the signal arrives while the third device is identified
            raise ScanInterrupted(signal.SIGTERM)
        time.sleep(0.2)  # a city's worth of devices, one at a time
        return real(devices, db)

    monkeypatch.setattr(pipeline, "identify_stage", slow_identify)
    monkeypatch.setattr(pipeline, "IDENTIFY_CHUNK", 1)
    monkeypatch.setattr(pipeline, "STOP_BUDGET", 0.5)
    with pytest.raises(ScanInterrupted) as stopped:
        pipeline.run_scan(pipeline.ScanRequest(nmap_xml=[LAB_XML], policy=load_policy("eu-gdpr-baseline")))
    result = stopped.value.result
    assert result is not None and result.scan.partial and len(result.devices) == 13  # every device is kept
    # the two devices identified before the signal were not identified again; a few more were, then the budget ran out
    identified = sum(chunks) - 1
    assert 3 <= identified < 13  # 2 before the signal, then what 0.5 s allowed at 0.2 s each
    assert [d.vendor is not None or d.evidence != [] for d in result.devices[:identified]] == [True] * identified
    assert all(not d.evidence for d in result.devices[identified:])
    [note] = [e.message for e in result.errors if "not done after the stop signal" in e.message]
    assert f"identification of {13 - identified} of 13 devices" in note and "the policy judgement" in note
    # half-identified devices are not judged: no rule says 'passed' or 'unidentified' of them
    assert result.rules == [] and result.findings == []


def test_a_stop_after_identification_still_resolves_and_judges(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = pipeline.judge
    calls: list[int] = []

    def judge_once_interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise ScanInterrupted(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "judge", judge_once_interrupted)
    with pytest.raises(ScanInterrupted) as stopped:
        pipeline.run_scan(pipeline.ScanRequest(nmap_xml=[LAB_XML], policy=load_policy("eu-gdpr-baseline")))
    result = stopped.value.result
    assert result is not None and result.scan.partial and len(calls) == 2
    assert result.rules and not any("not done after the stop signal" in e.message for e in result.errors)


def test_a_stopped_import_keeps_the_hosts_read_and_passes_no_rule(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A signal in the middle of an nmap XML file: the hosts read so far are kept (and judged), but
    no rule may say 'passed' of a scan that did not see everything."""
    from scanner.collect import nmap

    real = nmap._host
    hosts: list[int] = []

    def host_then_signal(element, source="<nmap>"):  # type: ignore[no-untyped-def]
        hosts.append(1)
        if len(hosts) == 6:
            raise ScanInterrupted(signal.SIGTERM)
        return real(element, source)

    monkeypatch.setattr(nmap, "_host", host_then_signal)
    with pytest.raises(ScanInterrupted) as stopped:
        pipeline.run_scan(pipeline.ScanRequest(nmap_xml=[LAB_XML], policy=load_policy("eu-gdpr-baseline")))
    result = stopped.value.result
    assert result is not None and result.scan.partial and 1 <= len(result.devices) <= 5
    assert any("import stopped by the signal after" in e.message for e in result.errors)
    assert result.rules and all(r["status"] != "passed" for r in result.rules)
    assert any(r["status"] == "not-assessable" and r["reason"].startswith("the scan was stopped before it finished")
               for r in result.rules)
