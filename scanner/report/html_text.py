"""Escaping for the HTML report: every string from a device or a stored result goes through here."""

from __future__ import annotations

import html

from scanner.model.text import terminal_safe
from scanner.report.common import web_url, xml_legal


def h(value: object, limit: int = 4000) -> str:
    """Text for HTML and inline SVG: controls shown as ``\\xNN``, then ``& < > " '`` escaped."""
    return html.escape(xml_legal(terminal_safe(value, limit, keep_newlines=True)), quote=True)


def link(title: str, url: str | None) -> str:
    """An external link for http(s) URLs only; anything else (javascript:, data:) stays text."""
    safe = web_url(url)
    if safe is None:
        return h(title)
    return f'<a href="{h(safe, 2000)}" rel="noopener noreferrer">{h(title)}</a>'
