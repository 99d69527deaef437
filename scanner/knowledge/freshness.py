"""Stale data: a data set older than a configurable age gives a warning, never a silent answer.

Cloud ranges move, companies lose their DPF certification, geolocation drifts monthly: a verdict
resting on an old snapshot must say so. The age limit is ``CITYSCAN_DATA_MAX_AGE_DAYS`` (default
365 days) or the caller's value; 0 switches the warning off.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import Any

from scanner.errors import InputError

DEFAULT_MAX_AGE_DAYS = 365
ENV = "CITYSCAN_DATA_MAX_AGE_DAYS"


def max_age_days(value: int | None = None) -> int:
    """The configured limit: ``value``, else the environment, else 365 days."""
    if value is not None:
        return value
    text = os.environ.get(ENV)
    if not text:
        return DEFAULT_MAX_AGE_DAYS
    try:
        days = int(text)
    except ValueError:
        raise InputError(f"{ENV} must be a whole number of days, not {text!r}") from None
    if days < 0:
        raise InputError(f"{ENV} must not be negative ({days})")
    return days


def parse_date(text: str | None) -> dt.date | None:
    """``2026-06-01``, ``2026-06`` (first of the month) or ``2026``; None when it is none of these."""
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            return dt.datetime.strptime(str(text)[:10], fmt).date()
        except ValueError:
            continue
    return None


def stale(datasets: Iterable[dict[str, Any]], days: int | None = None, today: dt.date | None = None) -> list[str]:
    """One warning per data set (``{name, version, date}``) older than the limit."""
    limit = max_age_days(days)
    if limit == 0:
        return []
    today = today or dt.date.today()
    out = []
    for item in datasets:
        date = parse_date(item.get("date"))
        if date is None:
            continue
        age = (today - date).days
        if age > limit:
            out.append(f"data set {item.get('name')} ({item.get('version')}) is dated {date.isoformat()}, "
                       f"{age} days old (limit {limit}): its answers may be out of date; run `cityscan data update`")
    return out
