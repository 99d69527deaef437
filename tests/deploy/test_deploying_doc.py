"""docs/deploying.md: its copy-paste commands use only commands and options cityscan has, and
it names only files that exist."""

from __future__ import annotations

import re

import pytest
from deploy_helpers import ROOT, cityscan_calls, subcommands, unknown_options

DOC = ROOT / "docs" / "deploying.md"


def doc_problems(text: str) -> list[str]:
    found = []
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    if not blocks:
        found.append("no shell commands")
    for block in blocks:
        for sub, words in cityscan_calls(block):
            if sub not in subcommands():
                found.append(f"cityscan {sub}: no such command")
            else:
                found += [f"cityscan {sub} {o}: no such option" for o in unknown_options(sub, words)]
    for link in re.findall(r"\]\((\.\./[^)#]+)\)", text):
        if not (DOC.parent / link).resolve().exists():
            found.append(f"link to {link}: no such file")
    return found


def test_commands_and_links_exist() -> None:
    assert doc_problems(DOC.read_text()) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("```sh\ncityscan scan --config x.yaml --sight depots\n```\n", "--sight: no such option"),
    ("```sh\ncityscan fleets\n```\n", "fleets: no such command"),
    ("```sh\ncityscan fleet\n```\nsee [the unit](../deploy/systemd/cityscan.services)\n", "no such file"),
    ("no commands at all\n", "no shell commands"),
])
def test_mistakes_are_caught(text: str, expected: str) -> None:
    assert any(expected in p for p in doc_problems(text)), doc_problems(text)
