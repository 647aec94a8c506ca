"""Write sample files into a temporary repository and lint them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chainwarden.config import Config, parse_config
from chainwarden.lint import LintResult, lint_path
from chainwarden.models import Finding


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def lint_tree(
    root: Path, files: Mapping[str, str | bytes], config: Config | Mapping[str, Any] | None = None
) -> LintResult:
    write_tree(root, files)
    if config is None:
        config = Config()
    elif not isinstance(config, Config):
        config = parse_config(dict(config), "test")
    return lint_path(root, config)


def ids(result: LintResult) -> list[str]:
    return [f.rule_id for f in result.findings]


def only(result: LintResult, rule_id: str) -> list[Finding]:
    return [f for f in result.findings if f.rule_id == rule_id]


def lint_dockerfile(root: Path, text: str, config: Config | Mapping[str, Any] | None = None) -> LintResult:
    return lint_tree(root, {"Dockerfile": text}, config)
