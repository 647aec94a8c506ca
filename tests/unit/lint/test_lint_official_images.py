"""Precision on real Dockerfiles: the official images' maintainers verify what they download.

Every high/critical finding on a corpus must be one of the hand-reviewed real weaknesses in its
``expectations.json``, and every one of those must still be reported (see each corpus README). The
official images test precision; the application Dockerfiles check that real findings are kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainwarden.config import Config
from chainwarden.lint import lint_path
from chainwarden.models import Severity

DATA = Path(__file__).resolve().parents[2] / "data" / "lint"
CORPORA = ("official", "apps")
SERIOUS = (Severity.HIGH, Severity.CRITICAL)


def _load(corpus: str, name: str) -> Any:
    return json.loads((DATA / corpus / name).read_text(encoding="utf-8"))


CASES = [(corpus, entry["file"]) for corpus in CORPORA for entry in _load(corpus, "sources.json")]


def _serious(corpus: str, relative: str) -> set[tuple[str, int, str]]:
    result = lint_path(DATA / corpus / relative, Config())
    assert not result.skipped, result.skipped
    return {
        (relative, (finding.location.line or 0) if finding.location else 0, str(finding.rule_id))
        for finding in result.findings
        if finding.severity in SERIOUS
    }


@pytest.mark.parametrize(("corpus", "minimum"), [("official", 60), ("apps", 25)])
def test_corpus_is_the_documented_one(corpus: str, minimum: int) -> None:
    root = DATA / corpus
    sources = _load(corpus, "sources.json")
    files = sorted(str(p.relative_to(root)) for p in root.rglob("Dockerfile*"))
    assert files == sorted(entry["file"] for entry in sources)
    assert len(files) >= minimum
    for entry in sources:
        assert len(entry["commit"]) == 40
        assert (root / entry["file"].split("/", 1)[0] / "LICENSE").is_file()


@pytest.mark.parametrize(("corpus", "relative"), CASES)
def test_high_and_critical_findings_are_the_reviewed_real_ones(corpus: str, relative: str) -> None:
    real = _load(corpus, "expectations.json")["real"]
    expected = {(e["file"], e["line"], e["rule"]) for e in real if e["file"] == relative}
    assert _serious(corpus, relative) == expected


@pytest.mark.parametrize("corpus", CORPORA)
def test_reviewed_downgrades_keep_their_severity(corpus: str) -> None:
    for entry in _load(corpus, "expectations.json")["reviewed"]:
        result = lint_path(DATA / corpus / entry["file"], Config())
        severities = {
            f.severity.value
            for f in result.findings
            if f.rule_id == entry["rule"] and f.location is not None and f.location.line == entry["line"]
        }
        assert severities == {entry["severity"]}, entry
