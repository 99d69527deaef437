from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.knowledge.yamlfile import load, loads


def test_line_numbers_are_kept() -> None:
    doc = loads("a: 1\nb:\n  c: 2\n", "f.yaml")
    assert doc.line_of("b") == 2
    assert doc["b"].line_of("c") == 3


def test_duplicate_key_is_refused_with_its_line() -> None:
    with pytest.raises(InputError) as err:
        loads("name: x\nrules: {}\nname: y\n", "p.yaml")
    assert str(err.value) == "p.yaml:3: duplicate key 'name'"


def test_tab_indentation_gives_line() -> None:
    with pytest.raises(InputError) as err:
        loads("rules:\n\tbanned-vendor: {}\n", "p.yaml")
    assert str(err.value) == "p.yaml:2: invalid YAML: tab character where YAML needs spaces"


def test_missing_file_and_bad_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"a: 1\nb: \xff\xfe\n")
    with pytest.raises(InputError) as err:
        load(bad)
    assert str(err.value) == f"{bad}:2: not valid UTF-8"


def test_python_tags_are_not_constructed() -> None:
    with pytest.raises(InputError):
        loads("a: !!python/object/apply:os.system ['true']\n", "evil.yaml")
