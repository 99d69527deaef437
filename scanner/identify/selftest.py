"""Proof for the fingerprint database: every entry's real examples must still match.

Used by ``cityscan fingerprints test`` and by the test suite, so an edited pattern that stops
matching the device responses it was written for fails CI.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.knowledge.fingerprints import Entry, FingerprintDB


@dataclass
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check_entry(entry: Entry) -> list[Problem]:
    problems = []
    for example in entry.examples:
        where = f"{entry.file}:{example.line or entry.line}"
        match = entry.regex.search(example.value)
        if not match:
            problems.append(Problem(where, f"entry {entry.id}: example does not match its pattern"))
            continue
        got = {k: (v or "").strip() for k, v in match.groupdict().items() if v is not None}
        for name, expected in example.captures.items():
            if got.get(name) != expected:
                problems.append(Problem(where, f"entry {entry.id}: capture {name} is {got.get(name)!r}, "
                                               f"expected {expected!r}"))
    return problems


def shadowed(db: FingerprintDB) -> list[Problem]:
    """Entries that duplicate another's field, path and pattern (one of them never adds anything)."""
    seen: dict[tuple[str, str | None, str, int], Entry] = {}
    problems = []
    for entry in db.entries:
        key = (entry.field, entry.path, entry.pattern, entry.regex.flags)
        if key in seen:
            problems.append(Problem(entry.location, f"entry {entry.id} duplicates the pattern of "
                                                    f"{seen[key].id} ({seen[key].location})"))
        else:
            seen[key] = entry
    return problems


def cross_matches(db: FingerprintDB) -> list[Problem]:
    """An example that another vendor's entry also matches would make identification ambiguous."""
    problems = []
    for entry in db.entries:
        for example in entry.examples:
            for other in db.by_field.get(entry.field, ()):
                theirs, ours = other.conclude.get("vendor"), entry.conclude.get("vendor")
                if other is entry or not theirs or not ours or theirs == ours:
                    continue
                if set(db.maker_chain(theirs)) & set(db.maker_chain(ours)):
                    continue
                if (other.path is None or other.path == (example.path or entry.path)) and other.regex.search(example.value):
                    problems.append(Problem(f"{entry.file}:{example.line or entry.line}",
                                            f"example of {entry.id} ({ours}) is also matched by {other.id} ({theirs})"))
    return problems


def check_db(db: FingerprintDB) -> list[Problem]:
    problems: list[Problem] = []
    for entry in db.entries:
        problems.extend(check_entry(entry))
    return problems + shadowed(db) + cross_matches(db)
