"""docs/rules.md is generated from the rule registry and must be current; the bench corpus stays usable."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from chainwarden.config import Config
from chainwarden.lint import lint_path
from chainwarden.lint.rules import RULES

ROOT = Path(__file__).resolve().parents[3]


def test_rules_doc_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_rules_doc", ROOT / "tasks" / "gen_rules_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_rules_doc"] = module
    spec.loader.exec_module(module)
    expected = module.render()
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == expected, "docs/rules.md is stale: run `python tasks/gen_rules_doc.py`"
    for rule_id in RULES:
        assert f"### `{rule_id}`" in current


def test_bench_corpus_is_large_and_parses() -> None:
    corpus = sorted((ROOT / "bench" / "corpus" / "dockerfiles").iterdir())
    assert len(corpus) >= 50
    reported: set[str] = set()
    for path in corpus:
        result = lint_path(path, Config())
        assert not result.skipped, path
        reported.update(f.rule_id for f in result.findings)
    # the corpus exercises most Dockerfile rules
    assert len(reported) >= 30
