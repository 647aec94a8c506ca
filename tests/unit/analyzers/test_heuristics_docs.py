"""docs/heuristics.md is generated from the heuristic rules and their test samples, and must be current."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from chainwarden.analyzers.heuristics import RULES

ROOT = Path(__file__).resolve().parents[3]


def test_heuristics_doc_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_heuristics_doc", ROOT / "tasks" / "gen_heuristics_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_heuristics_doc"] = module
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "heuristics.md").read_text(encoding="utf-8")
    assert current == module.render(), "docs/heuristics.md is stale: run `python tasks/gen_heuristics_doc.py`"
    for rule_id in RULES:
        assert f"### `{rule_id}`" in current
