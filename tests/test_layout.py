"""The layout issue's promises, as tests: the move changed no result, and reports are pure views.

``tests/data/golden/*-before-layout.json`` were written by cityscan 0.1.0 before the package was laid
out by stage (same inputs, same policy). The move itself changed nothing (checked in full when it
landed); what the collect, identify and resolve stages give must stay the same since, apart from
timestamps and fields added later. The judge's findings have changed by design since (honest
verdicts, new rules), so they are tested in tests/judge, not here.
"""

from __future__ import annotations

import builtins
import io
import json
import pathlib
from typing import Any

import pytest
from conftest import DATA, ROOT

from scanner.collect.scope import Scope
from scanner.history.diff import diff
from scanner.history.results import load_result
from scanner.judge.policy import load_policy
from scanner.knowledge import loader
from scanner.knowledge.paths import recorded_scan_path
from scanner.model import ScanResult
from scanner.pipeline import ScanRequest, identify, judge, resolve, run_scan
from scanner.report import FORMATS, RenderOptions, render
from scanner.report.diff import DIFF_FORMATS, render_diff

GOLDEN = DATA / "golden"


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A result without what differs by design: run times, where the checkout is (the policy's
    path; its comments were edited since, so its hash too) and nmap's CPE names (kept since)."""
    doc = json.loads(json.dumps(doc))
    for key in ("started_at", "finished_at"):
        doc["scan"].pop(key, None)
    doc["scan"]["policy"] = doc["scan"]["policy"]["name"]
    doc["scan"]["inputs"] = [i for i in doc["scan"]["inputs"] if i.get("kind") not in ("traffic", "evidence")]  # added since
    for device in doc["devices"]:
        device["observations"] = [o for o in device.get("observations", []) if o["field"] != "nmap.cpe"]
        # 0.1.0 repeated its "not identified" note each time a stored result was identified again
        device["evidence"] = [e for i, e in enumerate(device["evidence"]) if e not in device["evidence"][:i]]
    for key in ("findings", "waivers"):
        doc.pop(key, None)
    return doc


def only_known(after: Any, before: Any) -> Any:
    """``after`` cut down to the fields ``before`` has: the JSON contract only ever adds fields."""
    if isinstance(after, dict) and isinstance(before, dict):
        return {k: only_known(after[k], before[k]) for k in before if k in after}
    if isinstance(after, list) and isinstance(before, list) and len(after) == len(before):
        return [only_known(a, b) for a, b in zip(after, before)]
    return after


def same_as_before(after: dict[str, Any], before: dict[str, Any]) -> bool:
    old = comparable(before)
    return only_known(comparable(after), old) == old


def test_import_and_flows_give_the_result_from_before_the_move(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the golden result records its inputs as relative paths
    request = ScanRequest(nmap_xml=["tests/data/lab-nmap.xml"],
                          flows=["tests/data/zeek/conn.log", "tests/data/zeek/dns.log"],
                          scope=Scope(()), policy=load_policy("eu-gdpr-baseline"))
    after = run_scan(request).to_dict()
    before = json.loads((GOLDEN / "lab-zeek-before-layout.json").read_text())
    assert same_as_before(after, before)
    assert after["rules"] and after["countries"] and after["scan"]["data"]  # and the new fields are there


def test_demo_replay_gives_the_result_from_before_the_move() -> None:
    after = judge(resolve(identify(load_result(str(recorded_scan_path())))), load_policy("eu-gdpr-baseline"))
    before = json.loads((GOLDEN / "demo-replay-before-layout.json").read_text())
    assert same_as_before(after.to_dict(), before)


def _full_result() -> ScanResult:
    result = judge(resolve(identify(load_result(str(recorded_scan_path())))), load_policy("nl-municipality"))
    assert result.findings and result.destinations and result.rules and result.countries
    return result


def test_reports_need_nothing_but_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every format renders with every file and data set out of reach, and gives the same text as
    with them: a stored result renders the same on another machine, or after the data changed."""
    result = ScanResult.from_dict(json.loads(json.dumps(_full_result().to_dict())))
    expected = {fmt: render(result, fmt, RenderOptions(fail_on="medium")) for fmt in FORMATS}
    older = load_result(str(recorded_scan_path()))
    changes = diff(older, result)
    expected_diff = {fmt: render_diff(changes, fmt) for fmt in DIFF_FORMATS}

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"a renderer read outside the result: {args[:1]}")

    for func in (loader.default_db, loader.jurisdiction, loader.ownership, loader.datasets, loader.tracking_services):
        func.cache_clear()  # a renderer that asked for a data set would now have to read it
    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    monkeypatch.setattr(pathlib.Path, "open", refuse)
    monkeypatch.setattr(pathlib.Path, "read_text", refuse)
    monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)
    try:
        for fmt in FORMATS:
            assert render(result, fmt, RenderOptions(fail_on="medium")) == expected[fmt], fmt
        for fmt in DIFF_FORMATS:
            assert render_diff(changes, fmt) == expected_diff[fmt], fmt
    finally:
        monkeypatch.undo()


def test_html_names_countries_from_the_result_alone() -> None:
    result = _full_result()
    result.countries = {code: {**info, "name": f"Land {code}"} for code, info in result.countries.items()}
    html = render(result, "html")
    assert "Land CN (CN)" in html and "China (CN)" not in html


def test_python_dash_m_scanner_is_the_cli() -> None:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "scanner", "--version"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("cityscan")
    from scanner.collect.flows import groups

    built = "the compiled core (C)" if groups.native is not None else "pure Python"
    assert f"Zeek conn logs are folded by {built}" in run.stdout   # what a user reports with a slow read
