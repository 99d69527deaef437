"""Load YAML written by people in a hurry: line numbers kept, duplicate keys refused.

Every mapping comes back as a :class:`Node` dict that remembers the line of each key, so the
validators can say ``file:line: what is wrong`` for a value deep inside the file.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import InputError
from scanner.files import read_bounded

MAX_YAML_BYTES = 8 * 1024 * 1024


class Node(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers where it and each of its keys came from."""

    file: str = ""
    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class Seq(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers the line of each item."""

    file: str = ""
    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def _checked(loader: yaml.SafeLoader, node: yaml.Node, plain: Any, filename: str) -> Any:
    """A scalar YAML converts (a date, a number): an impossible one (2027-02-30) is the user's
    mistake at a line, not a crash."""
    try:
        return plain(loader, node)
    except (ValueError, OverflowError) as exc:
        kind = str(node.tag).rsplit(":", 1)[-1]  # the value is not echoed: it may be a password
        raise InputError(f"not a valid {kind} ({exc}); quote it if it is meant as text", filename,
                         node.start_mark.line + 1) from None


# libyaml's parser when PyYAML has it (its nodes carry the same line marks): the fingerprint
# database is 70 files of examples, and the pure-Python parser made loading it a second per run.
_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _make_loader(filename: str) -> type[yaml.SafeLoader]:
    class Loader(_BASE):  # type: ignore[valid-type,misc]
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Node:
        loader.flatten_mapping(node)
        result = Node()
        result.file, result.line, result.key_lines = filename, node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise InputError("mapping keys must be plain values", filename, key_node.start_mark.line + 1)
            if key in result:
                raise InputError(f"duplicate key {key!r}", filename, key_node.start_mark.line + 1)
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[str(key)] = key_node.start_mark.line + 1
        return result

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> Seq:
        result = Seq(loader.construct_object(child, deep=True) for child in node.value)
        result.file, result.line = filename, node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result

    for tag in ("timestamp", "int", "float"):
        full = f"tag:yaml.org,2002:{tag}"
        Loader.add_constructor(full, functools.partial(_checked, plain=yaml.SafeLoader.yaml_constructors[full],
                                                       filename=filename))
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def loads(text: str, filename: str = "<string>") -> Any:
    """Parse YAML text; any syntax problem becomes an :class:`InputError` with its line."""
    try:
        return yaml.load(text, Loader=_make_loader(filename))  # noqa: S506 - SafeLoader subclass
    except InputError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        where = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        if "\t" in problem or "tab" in problem or "\t" in where[: mark.column + 1 if mark else 0]:
            problem = "tab character where YAML needs spaces"  # libyaml does not say so itself
        raise InputError(f"invalid YAML: {problem}", filename, line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", filename) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", filename) from None


def load(path: str | Path) -> Any:
    """Read and parse a YAML file, bounded in size; unreadable files are input errors."""
    name = str(path)
    data = read_bounded(name, MAX_YAML_BYTES)
    if len(data) > MAX_YAML_BYTES:
        raise InputError(f"file larger than {MAX_YAML_BYTES} bytes", name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError("not valid UTF-8", name, line) from None
    return loads(text, name)


def entries(path: Path, key: str, what: str, entry: str, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """The list of mappings under ``key`` of a data file, each with every ``required`` key set;
    else the input error "``what`` data needs a '``key``' list" or "``entry``: ``{item}``"."""
    doc = load(path)
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{what} data needs a '{key}' list", str(path))
    for item in items:
        if not isinstance(item, dict) or not all(item.get(name) for name in required):
            raise InputError(f"{entry}: {item!r}", str(path))
    return items


def line_of(container: Any, key: Any = None) -> int | None:
    """Best line number for ``container[key]`` (or the container itself)."""
    if isinstance(container, Node):
        return container.line_of(str(key)) if key is not None else container.line
    if isinstance(container, Seq):
        return container.line_of(key) if isinstance(key, int) else container.line
    return None


def file_of(container: Any) -> str | None:
    return getattr(container, "file", None)
