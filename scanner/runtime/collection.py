"""Fewer garbage-collector passes while a bulk stage makes millions of short-lived objects.

CPython runs a young-generation collection every 700 new container objects and, every few of
those, a full one over everything alive: the knowledge tables (networks, ASNs, ownership) and
the summary. Reading a million flow records and resolving their destinations made ~940 young and
7 full collections, a fifth of the time (bench/flows.py). These stages make almost no reference
cycles (their objects are freed by reference counting as usual), so the young threshold is
raised while they run and put back after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG = 50_000


@contextmanager
def fewer_collections(young: int = YOUNG) -> Iterator[None]:
    """Run the block with the young-generation threshold at least ``young`` (nesting is fine)."""
    before = gc.get_threshold()
    if before[0] >= young:
        yield
        return
    gc.set_threshold(young, max(before[1], 20), max(before[2], 20))
    try:
        yield
    finally:
        gc.set_threshold(*before)
