"""Reports of a whole city: the diagram groups what it cannot draw one by one and says so, tables
sort addresses numerically, the terminal table stays short, and the HTML stays a few megabytes."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import ROOT

from scanner.report import RenderOptions, render
from scanner.report.html_flow import MAX_COMPANIES, MAX_DEVICES, render_flow

sys.path.insert(0, str(ROOT / "bench"))
from reports import city  # noqa: E402 - the bench's generator of a city-sized result


def test_a_large_city_is_drawn_in_groups_and_says_so() -> None:
    result = city(600)
    svg = render_flow(result)
    assert svg.count('class="nt"') < MAX_DEVICES + MAX_COMPANIES + 20  # groups, not 600 device boxes
    assert "Hikvision camera" in svg and "more operators" in svg
    html = render(result, "html")
    assert "drawn as" in html and "groups of the same vendor and class" in html


def test_addresses_sort_as_numbers_and_the_table_stays_short() -> None:
    result = city(300)
    html = render(result, "html")
    inventory = html.split('id="inventory"', 1)[1]
    assert inventory.index(">198.18.0.9<") < inventory.index(">198.18.0.10<")  # not text order
    table = render(result, "table", RenderOptions(width=100))
    assert "more in the JSON output" in table and len(table.splitlines()) < 600
    assert all(len(line) <= 160 for line in table.splitlines() if line.startswith(("HIGH", "MEDIUM", "LOW")))


def test_the_html_of_2000_devices_is_small(tmp_path: Path) -> None:
    html = render(city(2000), "html")
    assert len(html.encode()) < 4_000_000  # 10,000 devices: see bench/reports.py
