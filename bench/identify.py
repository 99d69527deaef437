"""Benchmark: precision and recall of identification, and the engine's speed.

The corpus (tests/data/identify_corpus.yaml) holds real device responses that are NOT the
fingerprint entries' own examples, each with the vendor/model a correct identifier must give
(null for ordinary gear: a scanner must not guess). Per case, one device with that single
observation is identified. A wrong vendor is counted as a false positive, worse than unknown.
Run: .venv/bin/python bench/identify.py
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from scanner.identify import identify_device, match_observations
from scanner.knowledge.loader import default_db
from scanner.model import Device, Observation

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "identify_corpus.yaml"


def evaluate(level: str) -> dict[str, float]:
    """Precision/recall at ``vendor`` or ``model`` level."""
    cases = yaml.safe_load(CORPUS.read_text())
    db = default_db()
    tp = fp = fn = tn = 0
    wrong: list[str] = []
    for case in cases:
        dev = identify_device(Device(ip="192.0.2.1", observations=[Observation(case["field"], str(case["value"]), "corpus")]), db)
        want = case["expect"].get(level)
        got = dev.vendor if level == "vendor" else (dev.model if dev.vendor == case["expect"].get("vendor") else None)
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
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"cases": tp + fp + fn + tn, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": precision, "recall": recall, "wrong": wrong}  # type: ignore[dict-item]


def speed() -> float:
    cases = yaml.safe_load(CORPUS.read_text())
    db = default_db()
    observations = [Observation(c["field"], str(c["value"]), "corpus") for c in cases]
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        match_observations(observations, db)
    return rounds * len(observations) / (time.perf_counter() - started)


def main() -> None:
    for level in ("vendor", "model"):
        r = evaluate(level)
        print(f"{level:6}: precision {r['precision']:.1%}  recall {r['recall']:.1%}  "
              f"(tp {r['tp']}, fp {r['fp']}, fn {r['fn']}, tn {r['tn']}; {r['cases']} cases)")
        for line in r["wrong"]:  # type: ignore[union-attr]
            print(f"        wrong: {line}")
    print(f"engine: {speed():,.0f} observations/s matched against {len(default_db().entries)} entries")


if __name__ == "__main__":
    main()
