"""What a reproducible, licensed install needs: the Apache-2.0 text, an SPDX licence expression,
pins for every dependency, a `requires-python` the code really runs on, and every package of the
source tree in the distribution (a non-editable install, as the container does, gets only those)."""

from __future__ import annotations

import ast
import hashlib
import re
import sys
import warnings
from pathlib import Path

import pytest
from deploy_helpers import ROOT
from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# sha256 of the Apache License 2.0 as the Apache Software Foundation publishes it (the text Debian
# ships as /usr/share/common-licenses/Apache-2.0).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_license_file_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    debian = Path("/usr/share/common-licenses/Apache-2.0")
    if debian.exists():
        assert text == debian.read_bytes()


def test_license_is_an_spdx_expression_with_its_file() -> None:
    assert PROJECT["license"] == canonicalize_license_expression("Apache-2.0")
    assert PROJECT["license-files"] == ["LICENSE"]


@pytest.mark.parametrize("bad", ["Apache 2", "Apache-2.0 OR", "ASL2"])
def test_non_spdx_licences_are_refused(bad: str) -> None:
    with pytest.raises(InvalidLicenseExpression):
        canonicalize_license_expression(bad)


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, raw in enumerate((ROOT / "constraints.txt").read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)", line)
        assert match, f"constraints.txt:{number}: not a name==version pin: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"constraints.txt:{number}: {name} pinned twice"
        pins[name] = match.group(2)
    return pins


def test_constraints_pin_every_dependency_within_its_range() -> None:
    pins = _pins()
    assert "cityscan" not in pins
    wanted = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]
    for spec in wanted:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt does not pin {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} is outside {req.specifier}"
        if "binary" in req.extras and name == "psycopg":
            assert pins.get("psycopg-binary") == pins[name]


def test_requires_python_admits_this_interpreter() -> None:
    assert SpecifierSet(PROJECT["requires-python"]).contains(".".join(map(str, sys.version_info[:3])))


# The lowest version requires-python names, and what the code would need for a lower one.
_FLOOR = re.fullmatch(r">=(\d+)\.(\d+)", PROJECT["requires-python"])
assert _FLOOR, f"requires-python {PROJECT['requires-python']!r}: expected >=X.Y"
_MIN = (int(_FLOOR.group(1)), int(_FLOOR.group(2)))
# Standard-library names that came after the minimum (3.11): a use of one needs a higher floor.
NEWER_STDLIB = {
    "tomllib": (3, 11), "typing.Self": (3, 11), "typing.LiteralString": (3, 11), "typing.Never": (3, 11),
    "typing.assert_never": (3, 11), "typing.reveal_type": (3, 11), "typing.NotRequired": (3, 11),
    "typing.Required": (3, 11), "typing.dataclass_transform": (3, 11), "typing.assert_type": (3, 11),
    "enum.StrEnum": (3, 11), "enum.verify": (3, 11), "datetime.UTC": (3, 11), "asyncio.TaskGroup": (3, 11),
    "asyncio.timeout": (3, 11), "contextlib.chdir": (3, 11), "hashlib.file_digest": (3, 11),
    "typing.override": (3, 12), "itertools.batched": (3, 12),
}
NEWER_BUILTINS = {"ExceptionGroup": (3, 11), "BaseExceptionGroup": (3, 11)}


def newer_than_min(source: str, name: str, minimum: tuple[int, int]) -> list[str]:
    """Where SOURCE needs a Python newer than MINIMUM: syntax (the parser at that version) and
    the standard-library names above."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # escape-sequence warnings are the linters' business
            tree = ast.parse(source, name, feature_version=minimum)
    except SyntaxError as exc:
        return [f"{name}:{exc.lineno}: syntax newer than {minimum[0]}.{minimum[1]}: {exc.msg}"]
    found = []
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name] = alias.name
                if NEWER_STDLIB.get(alias.name, (0, 0)) > minimum:
                    found.append(f"{name}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if NEWER_STDLIB.get(node.module, (0, 0)) > minimum or NEWER_STDLIB.get(full, (0, 0)) > minimum:
                    found.append(f"{name}:{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            full = f"{imported.get(node.value.id, node.value.id)}.{node.attr}"
            if NEWER_STDLIB.get(full, (0, 0)) > minimum:
                found.append(f"{name}:{node.lineno}: {full}")
        elif isinstance(node, ast.Name) and NEWER_BUILTINS.get(node.id, (0, 0)) > minimum:
            found.append(f"{name}:{node.lineno}: {node.id}")
        elif isinstance(node, ast.TryStar):
            found.append(f"{name}:{node.lineno}: except*")
    return found


def test_the_code_runs_on_the_python_requires_python_names() -> None:
    """Every module of the package parses and imports nothing newer than the lowest version."""
    found = [p for path in sorted((ROOT / "scanner").rglob("*.py"))
             for p in newer_than_min(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), _MIN)]
    assert found == []


@pytest.mark.parametrize(("source", "expected"), [
    ("import tomllib\n", "import tomllib"),
    ("from typing import Self\n", "from typing import Self"),
    ("import datetime\nnow = datetime.datetime.now(datetime.UTC)\n", "datetime.UTC"),
    ("try:\n    pass\nexcept* ValueError:\n    pass\n", "syntax newer"),
    ("raise ExceptionGroup('x', [ValueError()])\n", "ExceptionGroup"),
])
def test_newer_python_is_caught(source: str, expected: str) -> None:
    found = newer_than_min(source, "example.py", (3, 10))
    assert any(expected in p for p in found), found


def test_the_same_code_at_its_own_version_passes() -> None:
    """The near miss: 3.11 code is fine when the floor is 3.11, and 3.10 syntax at 3.10."""
    assert newer_than_min("import tomllib\n", "example.py", (3, 11)) == []
    assert newer_than_min("match x:\n    case 1:\n        pass\n", "example.py", (3, 10)) == []


def test_every_package_of_the_source_tree_is_distributed() -> None:
    """setuptools installs only the packages pyproject lists: one left out works in the editable
    development install and is missing from a real install (the container's)."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "scanner").rglob("__init__.py")
               if "__pycache__" not in p.parts}
    assert on_disk - listed == set(), "add to [tool.setuptools] packages in pyproject.toml"
