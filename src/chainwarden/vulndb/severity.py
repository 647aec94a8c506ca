"""Severity of an OSV record: CVSS base score first, the database's own label next.

Order of preference: a CVSS v4 vector, a CVSS v3.x vector (base score computed
with the ``cvss`` library, never trusted from a free-text field), then the
record's ``database_specific.severity`` (GitHub's LOW/MODERATE/HIGH/CRITICAL,
Ubuntu's priorities), then a CVSS v2 vector, else :attr:`Severity.UNKNOWN`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chainwarden.models import Severity


@dataclass(frozen=True, slots=True)
class SeverityInfo:
    """A severity with where it came from."""

    severity: Severity
    score: float | None = None  # CVSS base score, when computed from a vector
    vector: str | None = None
    source: str = "none"  # "CVSS_V4", "CVSS_V3", "database_specific", "CVSS_V2", "none"


UNKNOWN = SeverityInfo(Severity.UNKNOWN)

_LABELS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
    "none": Severity.INFO,
}


def cvss_band(score: float) -> Severity:
    """CVSS v3/v4 qualitative rating of a base score (FIRST's table)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


def _cvss2_band(score: float) -> Severity:
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if score > 0 else Severity.INFO


@functools.lru_cache(maxsize=4096)
def cvss_score(kind: str, vector: str) -> float | None:
    """Base score of a CVSS vector, or None when it does not parse."""
    import cvss

    try:
        if kind == "CVSS_V4":
            return float(cvss.CVSS4(vector).base_score)
        if kind == "CVSS_V3":
            return float(cvss.CVSS3(vector).base_score)
        if kind == "CVSS_V2":
            return float(cvss.CVSS2(vector).base_score)
    except (cvss.CVSSError, ValueError, KeyError, TypeError, ArithmeticError):
        return None
    return None


def severity_from_osv(entries: Any, database_specific: Any = None) -> SeverityInfo:
    """The severity of an OSV record (or of one ``affected`` entry).

    ``entries`` is the OSV ``severity`` list; malformed items are ignored.
    """
    vectors: dict[str, str] = {}
    if isinstance(entries, list):
        for item in entries:
            if isinstance(item, Mapping):
                kind, score = item.get("type"), item.get("score")
                if isinstance(kind, str) and isinstance(score, str) and kind not in vectors:
                    vectors[kind] = score.strip()
    for kind in ("CVSS_V4", "CVSS_V3"):
        vector = vectors.get(kind)
        if vector:
            score = cvss_score(kind, vector)
            if score is not None:
                return SeverityInfo(cvss_band(score), score, vector, kind)
    label = _label_of(database_specific)
    if label is None and "Ubuntu" in vectors:
        label = _LABELS.get(vectors["Ubuntu"].lower())
    if label is not None:
        return SeverityInfo(label, source="database_specific")
    vector = vectors.get("CVSS_V2")
    if vector:
        score = cvss_score("CVSS_V2", vector)
        if score is not None:
            return SeverityInfo(_cvss2_band(score), score, vector, "CVSS_V2")
    return UNKNOWN


def _label_of(database_specific: Any) -> Severity | None:
    if not isinstance(database_specific, Mapping):
        return None
    value = database_specific.get("severity")
    if isinstance(value, str):
        return _LABELS.get(value.strip().lower())
    return None
