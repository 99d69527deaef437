"""Policy files: which uses are banned, how severe each is, and the law behind it.

A policy is YAML, may ``extends:`` another (by built-in name or path) and override each rule's
severity and parameters. Mistakes are reported as ``file:line: what is wrong``.
"""

from __future__ import annotations

import difflib
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.errors import InputError, InputErrors
from scanner.judge.rules import RULES, RuleConfig
from scanner.knowledge import validate as v
from scanner.knowledge.loader import jurisdiction
from scanner.knowledge.paths import policies_dir
from scanner.knowledge.yamlfile import line_of, load
from scanner.model import SEVERITIES, Reference

POLICY_KEYS = ("name", "description", "extends", "rules", "fail_on")
RULE_COMMON_KEYS = ("enabled", "severity", "references", "title")
MAX_EXTENDS_DEPTH = 8


@dataclass
class Policy:
    name: str
    description: str
    rules: dict[str, RuleConfig]
    sha256: str
    files: list[str] = field(default_factory=list)
    fail_on: str | None = None
    builtin: str | None = None                                  # the name of a shipped policy
    content: dict[str, str] = field(default_factory=dict)       # file name -> its text, every layer

    def summary(self) -> dict[str, Any]:
        """What a result records of its policy, so that it can be re-judged anywhere: a built-in
        policy by name and version (``eu-gdpr-baseline@0.1.0``), a user's policy by path and
        SHA-256 plus the text of every file it is made of."""
        out: dict[str, Any] = {"name": self.name, "sha256": self.sha256, "files": self.files}
        if self.builtin:
            out["builtin"] = f"{self.builtin}@{__version__}"
        out["content"] = dict(self.content)
        return out

    def enabled_rules(self) -> list[RuleConfig]:
        return [r for r in self.rules.values() if r.enabled]


def resolve_policy_path(ref: str, relative_to: Path | None = None) -> Path:
    """A path, or the name of a built-in policy (``eu-gdpr-baseline``)."""
    candidates = []
    path = Path(ref).expanduser()
    if path.is_absolute():
        candidates.append(path)
    else:
        if relative_to is not None:
            candidates.append(relative_to / path)
        candidates.append(path)
        if "/" not in ref and "\\" not in ref:
            name = ref if ref.endswith((".yaml", ".yml")) else f"{ref}.yaml"
            if relative_to is not None:
                candidates.append(relative_to / name)
            candidates.append(policies_dir() / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[0]


DEFAULT_POLICY = "eu-gdpr-baseline"   # judges a scan that names no policy (``--policy none``: inventory only)


def builtin_policies() -> list[str]:
    return sorted(p.stem for p in policies_dir().glob("*.yaml"))


def load_policy(ref: str | Path) -> Policy:
    path = resolve_policy_path(str(ref))
    text = str(ref)
    if not path.exists() and "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml")):
        names = builtin_policies()
        close = difflib.get_close_matches(text, names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise InputError(f"no policy file or built-in policy named {text[:80]!r} (built-in: {', '.join(names)}){hint}")
    layers: list[tuple[Path, dict[str, Any]]] = []
    seen: set[Path] = set()
    current: Path | None = path
    while current is not None:
        real = current.resolve()
        if real in seen:
            raise InputError("policy extends itself (a cycle of 'extends')", str(current))
        if len(layers) >= MAX_EXTENDS_DEPTH:
            raise InputError(f"more than {MAX_EXTENDS_DEPTH} levels of 'extends'", str(current))
        seen.add(real)
        doc = load(current)
        if not isinstance(doc, dict):
            raise InputError("a policy must be a YAML mapping with 'name' and 'rules'", str(current), line_of(doc) or 1)
        v.check_keys(doc, POLICY_KEYS, "policy", required=("name",))
        layers.append((current, doc))
        parent = v.typed(doc, "extends", str, "policy")
        current = resolve_policy_path(parent, current.parent) if parent else None
        if current is not None and not current.is_file():
            raise v.fail(doc, "extends", f"policy.extends: no policy named {parent!r}")
    digest = hashlib.sha256()
    for file, _ in layers:
        digest.update(file.read_bytes())
    rules: dict[str, RuleConfig] = {}
    problems: list[InputError] = []
    for file, doc in reversed(layers):  # base first, each layer overrides
        raw_rules = doc.get("rules") or {}
        if not isinstance(raw_rules, dict):
            raise v.fail(doc, "rules", "policy.rules must be a mapping of rule id -> settings")
        for rule_id, settings in raw_rules.items():
            try:
                rules[rule_id] = _rule(str(rule_id), settings, raw_rules, rules.get(rule_id))
            except InputError as exc:  # report every rule's mistakes, not only the first
                problems.append(exc)
    if problems:
        raise problems[0] if len(problems) == 1 else InputErrors(problems)
    top = layers[0][1]
    fail_on = next((v.choice(doc, "fail_on", (*SEVERITIES, "none"), "policy") for _, doc in layers
                    if "fail_on" in doc), None)
    return Policy(
        name=v.typed(top, "name", str, "policy"),
        description=v.typed(top, "description", str, "policy", "") or "",
        rules=rules,
        sha256=digest.hexdigest(),
        files=[str(f) for f, _ in layers],
        fail_on=fail_on,
        builtin=path.stem if path.resolve().parent == policies_dir().resolve() else None,
        content={f.name: f.read_text(encoding="utf-8", errors="replace") for f, _ in layers},
    )


def policy_of(stored: dict[str, Any]) -> Policy:
    """The policy a stored result was judged by, on any machine: the built-in one by name, else the
    text the result carries (written to a private temporary directory and loaded from there)."""
    builtin = str(stored.get("builtin") or "").split("@", 1)[0]
    if builtin and (policies_dir() / f"{builtin}.yaml").is_file():
        return load_policy(builtin)
    content = stored.get("content") or {}
    files = stored.get("files") or []
    if not content:
        if files and Path(str(files[0])).is_file():
            return load_policy(str(files[0]))
        raise InputError("the stored scan carries no policy (an older result): give --policy")
    with tempfile.TemporaryDirectory(prefix="cityscan-policy-") as tmp:
        for name, text in content.items():
            safe = Path(str(name)).name  # a file name only: a tampered result cannot write elsewhere
            (Path(tmp) / safe).write_text(str(text), encoding="utf-8")
        first = Path(str(files[0])).name if files else next(iter(content))
        return load_policy(str(Path(tmp) / first))


def _rule(rule_id: str, settings: Any, container: dict[str, Any], base: RuleConfig | None) -> RuleConfig:
    spec = RULES.get(rule_id)
    if spec is None:
        raise v.fail(container, rule_id, f"unknown rule {rule_id!r} (known: {', '.join(sorted(RULES))})")
    if settings is None:
        settings = {}
    if isinstance(settings, bool):
        settings = {"enabled": settings}
    node = v.mapping(settings, container, rule_id, f"rules.{rule_id}")
    what = f"rules.{rule_id}"
    v.check_keys(node, (*RULE_COMMON_KEYS, *spec.params), what)
    params = dict(base.params) if base else {name: p.default for name, p in spec.params.items()}
    for name, param in spec.params.items():
        if name in node:
            params[name] = param.read(node, name, what)
    refs = list(base.references) if base else list(jurisdiction().references.get(rule_id, []))
    if "references" in node:
        own = _references(node, what)
        refs = own + [r for r in refs if r.url not in {x.url for x in own}]
    return RuleConfig(
        id=rule_id,
        spec=spec,
        enabled=v.typed(node, "enabled", bool, what, base.enabled if base else True),
        severity=v.choice(node, "severity", SEVERITIES, what, base.severity if base else spec.severity)
        or spec.severity,
        params=params,
        references=refs,
        title=v.typed(node, "title", str, what, base.title if base else spec.title),
    )


def _references(node: dict[str, Any], what: str) -> list[Reference]:
    raw = node["references"]
    if not isinstance(raw, list):
        raise v.fail(node, "references", f"{what}.references must be a list of {{title, url}}")
    out = []
    for index, item in enumerate(raw):
        item = v.mapping(item, raw, index, f"{what}.references item")
        v.check_keys(item, ("title", "url"), f"{what}.references item", required=("title", "url"))
        url = v.typed(item, "url", str, f"{what}.references")
        if not url.startswith(("https://", "http://")):
            raise v.fail(item, "url", f"{what}.references url must start with https://")
        out.append(Reference(v.typed(item, "title", str, f"{what}.references"), url))
    return out
