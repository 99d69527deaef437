"""The CI templates: valid YAML of their platform (the platforms' own JSON schemas, shipped with
check-jsonschema, when installed), a scan that fails on a severity, SARIF and JUnit handed to the
platform, and cityscan command lines that use only options `cityscan scan --help` lists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_helpers import (
    ROOT,
    cityscan_calls,
    format_outputs,
    help_choices,
    subcommands,
    unknown_options,
)

GITHUB = ROOT / "deploy" / "ci" / "github-actions.yml"
GITLAB = ROOT / "deploy" / "ci" / "gitlab-ci.yml"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: not a YAML mapping"
    return data


def scripts_github(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def scripts_gitlab(pipeline: dict[str, Any]) -> list[str]:
    return [line for job in pipeline.values() if isinstance(job, dict)
            for key in ("before_script", "script") for line in job.get(key, [])]


def call_problems(scripts: list[str]) -> list[str]:
    """What is wrong with the cityscan calls of a template's scripts."""
    found = []
    calls = [c for script in scripts for c in cityscan_calls(script)]
    scans = [words for sub, words in calls if sub == "scan"]
    if not scans:
        found.append("no `cityscan scan`")
    for sub, words in calls:
        if sub not in subcommands():
            found.append(f"cityscan {sub}: no such command")
            continue
        found += [f"cityscan {sub} {o}: no such option" for o in unknown_options(sub, words)]
    formats = help_choices(("scan",), "--format")
    for words in scans:
        if "--fail-on" not in words:
            found.append("the scan has no --fail-on")
        pairs = format_outputs(words)
        found += [f"--format {f}: not a format" for f, _ in pairs if f not in formats]
        if not any(f == "sarif" for f, _ in pairs):
            found.append("the scan writes no SARIF")
    return found


def sarif_outputs(scripts: list[str]) -> dict[str, str]:
    return {f: o for script in scripts for sub, words in cityscan_calls(script) if sub == "scan"
            for f, o in format_outputs(words)}


# GitHub Actions

def test_github_workflow_scans_fails_on_a_severity_and_uploads_sarif() -> None:
    workflow = load(GITHUB)
    assert "on" in workflow or True in workflow  # YAML 1.1 reads the key `on` as true
    job = workflow["jobs"]["scan"]
    assert "self-hosted" in job["runs-on"]  # a hosted runner cannot reach a staging lab
    assert job["permissions"]["security-events"] == "write"
    scripts = scripts_github(workflow)
    assert call_problems(scripts) == []
    outputs = sarif_outputs(scripts)
    upload = [s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert len(upload) == 1 and upload[0]["with"]["sarif_file"] == outputs["sarif"]
    assert "always()" in upload[0]["if"]  # findings must reach code scanning even when they fail the job
    scan = next(s for s in job["steps"] if s.get("id") == "scan")
    assert "-le 1" in scan["run"]  # exit 2/3 (could not run) fails at once; 1 fails after the upload
    last = job["steps"][-1]
    assert last["if"] == "steps.scan.outputs.exit == '1'" and "exit 1" in last["run"]


def test_github_actions_are_pinned() -> None:
    for step in load(GITHUB)["jobs"]["scan"]["steps"]:
        if "uses" in step:
            ref = step["uses"].partition("@")[2]
            assert re.fullmatch(r"v\d+(\.\d+)*|[0-9a-f]{40}", ref), f"{step['uses']}: not pinned to a version"


def test_github_workflow_placeholders_are_variables_not_secrets_or_addresses() -> None:
    text = GITHUB.read_text()
    assert "${{ vars.CITYSCAN_TARGETS }}" in text
    assert "secrets." not in text  # nothing in this template needs one


# GitLab CI

def test_gitlab_job_scans_fails_on_a_severity_and_reports_sarif_and_junit() -> None:
    pipeline = load(GITLAB)
    job = pipeline["cityscan"]
    assert job["tags"] == ["staging-lab"]
    scripts = scripts_gitlab(pipeline)
    assert call_problems(scripts) == []
    outputs = sarif_outputs(scripts)
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"  # reports of a failing scan are the point
    assert artifacts["reports"]["sarif"] == outputs["sarif"]
    assert artifacts["reports"]["junit"] == outputs["junit"]
    assert set(outputs.values()) <= set(artifacts["paths"])
    assert "allow_failure" not in job  # exit 1 must fail the pipeline


# Near misses and bad input: the checks catch what a template could get wrong.

@pytest.mark.parametrize(("script", "expected"), [
    ("cityscan scan 198.51.100.0/24 --fail-onn high --format sarif --output a.sarif", "--fail-onn: no such option"),
    ("cityscan scan 198.51.100.0/24 --format sarif --output a.sarif", "no --fail-on"),
    ("cityscan scan 198.51.100.0/24 --fail-on high --format junit --output a.xml", "writes no SARIF"),
    ("cityscan scan 198.51.100.0/24 --fail-on high --format sarif2 --output a.sarif", "not a format"),
    ("cityscan scann 198.51.100.0/24", "no such command"),
    ("echo nothing", "no `cityscan scan`"),
])
def test_call_checks_catch_mistakes(script: str, expected: str) -> None:
    assert any(expected in p for p in call_problems([script])), call_problems([script])


def test_a_format_without_output_is_refused() -> None:
    with pytest.raises(AssertionError, match="each --format needs its --output"):
        call_problems(["cityscan scan 198.51.100.0/24 --fail-on high --format sarif"])


def test_not_yaml_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("jobs: [unclosed\n")
    with pytest.raises(yaml.YAMLError):
        load(bad)


# The platforms' own schemas

def _check_jsonschema() -> str:
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(tool).exists():
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema): no platform schema check")
    return tool


@pytest.mark.parametrize(("path", "schema"), [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")])
def test_platform_schema(path: Path, schema: str) -> None:
    """GitHub's workflow schema and GitLab's CI schema, as vendored in check-jsonschema (offline)."""
    proc = subprocess.run([_check_jsonschema(), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("path", "schema", "change"), [
    (GITHUB, "vendor.github-workflows", ("timeout-minutes: 60", "timeout-minutes: an hour")),
    (GITLAB, "vendor.gitlab-ci", ("    when: always", "    when: sometimes")),
])
def test_platform_schema_catches_a_mistake(tmp_path: Path, path: Path, schema: str, change: tuple[str, str]) -> None:
    tool = _check_jsonschema()
    bad = tmp_path / path.name
    text = path.read_text()
    assert change[0] in text
    bad.write_text(text.replace(change[0], change[1], 1))
    proc = subprocess.run([tool, "--builtin-schema", schema, str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout
