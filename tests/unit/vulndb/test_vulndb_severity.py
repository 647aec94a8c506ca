"""Severity: CVSS v4/v3 base scores first, the database's label next, then v2, else unknown."""

from __future__ import annotations

from typing import Any

import pytest

from chainwarden.models import Severity
from chainwarden.vulndb.severity import cvss_band, severity_from_osv

V3_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V3_MEDIUM = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"  # 6.1
V4_HIGH = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"  # 8.7
V2_HIGH = "AV:N/AC:L/Au:N/C:P/I:P/A:P"  # 7.5


@pytest.mark.parametrize(
    ("severity", "database_specific", "expected", "score"),
    [
        ([{"type": "CVSS_V3", "score": V3_CRITICAL}], None, Severity.CRITICAL, 9.8),
        ([{"type": "CVSS_V3", "score": V3_MEDIUM}], {"severity": "HIGH"}, Severity.MEDIUM, 6.1),
        ([{"type": "CVSS_V3", "score": V3_MEDIUM}, {"type": "CVSS_V4", "score": V4_HIGH}], None, Severity.HIGH, 8.7),
        ([{"type": "CVSS_V3", "score": "CVSS:3.1/garbage"}], {"severity": "MODERATE"}, Severity.MEDIUM, None),
        ([{"type": "CVSS_V2", "score": V2_HIGH}], {"severity": "LOW"}, Severity.LOW, None),
        ([{"type": "CVSS_V2", "score": V2_HIGH}], None, Severity.HIGH, 7.5),
        ([{"type": "Ubuntu", "score": "medium"}], None, Severity.MEDIUM, None),
        (None, {"severity": "critical"}, Severity.CRITICAL, None),
        (None, {"severity": "whatever"}, Severity.UNKNOWN, None),
        ("not a list", ["not a mapping"], Severity.UNKNOWN, None),
        ([{"type": 7, "score": None}, "junk"], None, Severity.UNKNOWN, None),
    ],
)
def test_severity_preference(severity: Any, database_specific: Any, expected: Severity, score: float | None) -> None:
    info = severity_from_osv(severity, database_specific)
    assert info.severity is expected
    assert info.score == score


def test_cvss_bands() -> None:
    assert [cvss_band(s) for s in (0.0, 0.1, 3.9, 4.0, 6.9, 7.0, 8.9, 9.0, 10.0)] == [
        Severity.INFO,
        Severity.LOW,
        Severity.LOW,
        Severity.MEDIUM,
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.HIGH,
        Severity.CRITICAL,
        Severity.CRITICAL,
    ]
