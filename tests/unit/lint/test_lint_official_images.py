"""Precision on real Dockerfiles: the official images' maintainers verify what they download.

Every high/critical finding on the corpus must be one of the hand-reviewed real weaknesses in
``expectations.json``, and every one of those must still be reported (see the corpus README).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.config import Config
from chainwarden.lint import lint_path
from chainwarden.models import Severity

CORPUS = Path(__file__).resolve().parents[2] / "data" / "lint" / "official"
EXPECTATIONS = json.loads((CORPUS / "expectations.json").read_text(encoding="utf-8"))
SOURCES = json.loads((CORPUS / "sources.json").read_text(encoding="utf-8"))
SERIOUS = (Severity.HIGH, Severity.CRITICAL)


def _serious(relative: str) -> set[tuple[str, int, str]]:
    result = lint_path(CORPUS / relative, Config())
    assert not result.skipped, result.skipped
    return {
        (relative, (finding.location.line or 0) if finding.location else 0, str(finding.rule_id))
        for finding in result.findings
        if finding.severity in SERIOUS
    }


def test_corpus_is_the_documented_one() -> None:
    files = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("Dockerfile*"))
    assert files == sorted(entry["file"] for entry in SOURCES)
    assert len(files) >= 60
    for entry in SOURCES:
        assert len(entry["commit"]) == 40
        assert (CORPUS / entry["file"].split("/", 1)[0] / "LICENSE").is_file()


@pytest.mark.parametrize("relative", sorted(entry["file"] for entry in SOURCES))
def test_high_and_critical_findings_are_the_reviewed_real_ones(relative: str) -> None:
    expected = {(e["file"], e["line"], e["rule"]) for e in EXPECTATIONS["real"] if e["file"] == relative}
    assert _serious(relative) == expected


def test_reviewed_downgrades_keep_their_severity() -> None:
    for entry in EXPECTATIONS["reviewed"]:
        result = lint_path(CORPUS / entry["file"], Config())
        severities = {
            f.severity.value
            for f in result.findings
            if f.rule_id == entry["rule"] and f.location is not None and f.location.line == entry["line"]
        }
        assert severities == {entry["severity"]}, entry
