"""Bulk stages raise the garbage collector's young threshold while they run, and put it back."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from scanner.runtime.collection import YOUNG, fewer_collections


@pytest.fixture(autouse=True)
def default_threshold() -> object:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_raised_inside_put_back_after_even_on_error() -> None:
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG, 20, 20)
        with fewer_collections():               # nested: unchanged, and not put back early
            assert gc.get_threshold()[0] == YOUNG
        assert gc.get_threshold()[0] == YOUNG
    assert gc.get_threshold() == (700, 10, 10)
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a bad line")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_set_by_the_user_is_kept() -> None:
    gc.set_threshold(200_000, 5, 5)
    with fewer_collections():
        assert gc.get_threshold() == (200_000, 5, 5)
    assert gc.get_threshold() == (200_000, 5, 5)


def test_reading_flows_and_resolving_run_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner import pipeline
    from scanner.model import ScanInfo, ScanResult

    seen: list[int] = []
    monkeypatch.setattr(pipeline, "summarize_file", lambda *args: seen.append(gc.get_threshold()[0]))
    monkeypatch.setattr(pipeline, "resolve_stage", lambda *args: seen.append(gc.get_threshold()[0]) or pytest.fail())
    pipeline.flow_summary([str(Path("conn.log"))])
    with pytest.raises(pytest.fail.Exception):
        pipeline.resolve(ScanResult(scan=ScanInfo(started_at="2026-11-23T00:00:00Z")))
    assert seen == [YOUNG, YOUNG] and gc.get_threshold() == (700, 10, 10)
