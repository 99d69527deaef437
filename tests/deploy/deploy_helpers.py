"""Shared helpers of the deployment tests: the repository root, the CLI's real option names, and
the cityscan command lines written in shell scripts (CI templates, systemd units, docs)."""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


@functools.lru_cache(maxsize=None)
def help_text(*command: str) -> str:
    """What ``cityscan COMMAND --help`` prints, from a fresh interpreter as a user runs it."""
    proc = subprocess.run([sys.executable, "-m", "scanner", *command, "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"cityscan {' '.join(command)} --help failed: {proc.stderr[-400:]}"
    return proc.stdout


@functools.lru_cache(maxsize=None)
def help_options(*command: str) -> frozenset[str]:
    """The option names ``cityscan COMMAND --help`` lists, so that a template cannot use an
    option the CLI no longer has."""
    options: set[str] = set()
    for line in help_text(*command).splitlines():
        stripped = line.strip()
        if stripped.startswith("-"):
            # "--offline / --online", "-q, --quiet", "--format [a|b]": every name before the text
            head = re.split(r"\s{2,}", stripped)[0]
            options.update(m.group(1) for m in _OPTION.finditer(head.split("[")[0]))
    return frozenset(options)


def help_choices(command: tuple[str, ...], option: str) -> frozenset[str]:
    """The choices ``--help`` lists for OPTION, e.g. the formats of ``--format [csv|json|...]``."""
    match = re.search(re.escape(option) + r" \[([^\]]+)\]", help_text(*command))
    return frozenset(match.group(1).split("|")) if match else frozenset()


@functools.lru_cache(maxsize=None)
def subcommands() -> frozenset[str]:
    """The subcommands ``cityscan --help`` lists."""
    body = help_text().split("Commands:", 1)[1]
    return frozenset(line.split()[0] for line in body.splitlines() if line.startswith("  ") and line.strip())


_CITYSCAN_CALL = re.compile(r"(?m)(?:^[ \t]*|[;&|(`'\"=][ \t]*)(?:[\w./${}-]*/)?cityscan[ \t]+([a-z][a-z-]*)([^;&|\n'`)]*)")
_COMMENT = re.compile(r"(^|\s)#.*$", re.M)


def cityscan_calls(script: str) -> list[tuple[str, list[str]]]:
    """Every ``cityscan SUBCOMMAND ...`` in a shell script: the subcommand and its words, with
    line continuations joined. Shell variables stay as they are (``$CITYSCAN_TARGETS``)."""
    script = _COMMENT.sub("", script).replace("\\\n", " ")
    calls = []
    for match in _CITYSCAN_CALL.finditer(script):
        words = shlex.split(match.group(2), comments=True, posix=True) if match.group(2).strip() else []
        calls.append((match.group(1), words))
    return calls


def unknown_options(sub: str, words: list[str]) -> list[str]:
    """The ``--option`` words of one call that ``cityscan SUB --help`` does not list."""
    known = help_options(sub)
    used = {w.split("=", 1)[0] for w in words if w.startswith("-") and not w.startswith("-$")}
    return sorted(used - known)


def format_outputs(words: list[str]) -> list[tuple[str, str]]:
    """The (format, output file) pairs of a call: the n-th --output takes the n-th --format."""
    formats = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--format"]
    outputs = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--output"]
    assert len(formats) == len(outputs), f"each --format needs its --output: {formats} / {outputs}"
    return list(zip(formats, outputs))
