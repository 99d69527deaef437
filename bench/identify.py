"""Benchmark: precision and recall of identification on held-out real strings, and the engine's speed.

The corpora (tests/data/identify_corpus.yaml and tests/data/corpus/*.yaml) hold real device
responses that are NOT the fingerprint entries' own examples, each with the vendor/model a correct
identifier must give (null for ordinary gear: a scanner must not guess). Per case, one device with
that single observation is identified. A wrong vendor is a false positive, worse than unknown.
Prints the totals, then per vendor. Run: .venv/bin/python bench/identify.py
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from scanner.identify import identify_device, match_observations
from scanner.knowledge.loader import default_db
from scanner.model import Device, Observation

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CORPORA = [DATA / "identify_corpus.yaml", *sorted((DATA / "corpus").glob("*.yaml"))]


def cases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in CORPORA:
        out += [{**case, "corpus": path.name} for case in yaml.safe_load(path.read_text()) or []]
    return out


def score(level: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Precision/recall at ``vendor`` or ``model`` level over ``items``."""
    db = default_db()
    tp = fp = fn = tn = 0
    wrong: list[str] = []
    for case in items:
        got_id = identify_device(Device(ip="192.0.2.1", observations=[
            Observation(case["field"], str(case["value"]), "corpus")]), db)
        want = case["expect"].get(level)
        got = got_id.vendor if level == "vendor" else (got_id.model if got_id.vendor == case["expect"].get("vendor")
                                                        else None)
        if level == "model" and want is None:
            continue  # the string does not say the model: nothing to find
        if got is None:
            fn += want is not None
            tn += want is None
        elif want is not None and got == want:
            tp += 1
        else:
            fp += 1
            wrong.append(f"{case['field']}={str(case['value'])[:50]!r}: got {got!r}, want {want!r}")
            fn += want is not None
    return {"cases": tp + fp + fn + tn, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
            "wrong": wrong}


def speed(items: list[dict[str, Any]], remembered: bool = False) -> float:
    """Observations matched per second: every value new to the engine (``remembered=False``: the
    regexes run), or all seen before (a city's repeated OUIs, banners and titles)."""
    db = default_db()
    observations = [Observation(c["field"], str(c["value"]), "corpus") for c in items]
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        if not remembered:
            db.matched.clear()
        match_observations(observations, db)
    return rounds * len(observations) / (time.perf_counter() - started)


def main() -> int:
    items = cases()
    db = default_db()
    print(f"{len(items)} held-out cases from {len(CORPORA)} corpora; database: {len(db.vendors)} vendors, "
          f"{len(db.entries)} entries")
    worst = 1.0
    for level in ("vendor", "model"):
        r = score(level, items)
        worst = min(worst, r["precision"]) if level == "vendor" else worst
        print(f"{level:6}: precision {r['precision']:.1%}  recall {r['recall']:.1%}  "
              f"(tp {r['tp']}, fp {r['fp']}, fn {r['fn']}, tn {r['tn']}; {r['cases']} cases)")
        for line in r["wrong"]:
            print(f"        wrong: {line}")
    by_vendor: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in items:
        by_vendor[case["expect"].get("vendor") or "(none: must stay unknown)"].append(case)
    print(f"\n{'vendor':34} {'cases':>5} {'precision':>9} {'recall':>7} {'model recall':>12}")
    for vendor in sorted(by_vendor, key=str.lower):
        r, m = score("vendor", by_vendor[vendor]), score("model", by_vendor[vendor])
        model = f"{m['recall']:.0%}" if m["cases"] else "-"
        print(f"{vendor:34} {len(by_vendor[vendor]):>5} {r['precision']:>9.0%} {r['recall']:>7.0%} {model:>12}")
    print(f"\nengine: {speed(items):,.0f} observations/s matched against {len(db.entries)} entries "
          f"(values seen before: {speed(items, remembered=True):,.0f}/s)")
    return 0 if worst == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
