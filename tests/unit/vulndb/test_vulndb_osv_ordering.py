"""OSV's own version-ordering fixtures, every line, against chainwarden's comparison.

The files are osv-scalibr's ``semantic/testdata`` (see tests/fixtures/osv-scalibr/README.md),
read the way its ``compare_test.go`` reads them: one ``a OP b`` per line with OP one
of ``<``, ``=``, ``>``; blank lines and lines starting with ``# `` or ``// `` are
comments. Like osv-scalibr, each line is checked in both directions; in addition the
exact-match form (used for an advisory's ``versions`` list) must be equal exactly
when the line says ``=``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.vulndb.versions import DPKG, PEP440, SEMVER, UncomparableVersion, VersionScheme, compare

TESTDATA = Path(__file__).parents[2] / "fixtures" / "osv-scalibr" / "semantic" / "testdata"

# file -> (scheme, number of comparison lines upstream holds at the pinned commit)
FIXTURES: dict[str, tuple[VersionScheme, int]] = {
    "pypi-versions.txt": (PEP440, 37),
    "pypi-versions-generated.txt": (PEP440, 12375),
    "semver-versions.txt": (SEMVER, 86),
    "debian-versions.txt": (DPKG, 30),
    "debian-versions-generated.txt": (DPKG, 14442),
}

_EXPECTED = {"<": -1, "=": 0, ">": 1}


def fixture_lines(name: str) -> list[tuple[int, str, str, str]]:
    """(line number, a, operator, b) for every comparison line of one fixture file."""
    lines = []
    for number, line in enumerate((TESTDATA / name).read_text(encoding="utf-8").splitlines(), start=1):
        if not line or line.startswith(("# ", "// ")):
            continue
        pieces = line.split(" ")
        assert len(pieces) == 3 and pieces[1] in _EXPECTED, f"{name}:{number}: malformed line {line!r}"
        lines.append((number, pieces[0], pieces[1], pieces[2]))
    return lines


def _check(scheme: VersionScheme, left: str, op: str, right: str) -> str | None:
    expected = _EXPECTED[op]
    try:
        forward, backward = compare(scheme, left, right), compare(scheme, right, left)
    except UncomparableVersion as exc:
        return f"cannot compare: {exc}"
    if (forward, backward) != (expected, -expected):
        return f"ordered {forward:+d}/{backward:+d}"
    if (scheme.exact(left) == scheme.exact(right)) != (op == "="):
        return f"exact forms {scheme.exact(left)!r} and {scheme.exact(right)!r} disagree"
    return None


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_osv_ordering_fixture_line_passes(name: str) -> None:
    scheme, count = FIXTURES[name]
    lines = fixture_lines(name)
    assert len(lines) == count  # the whole file was read, not a truncated copy
    failures = []
    for number, left, op, right in lines:
        problem = _check(scheme, left, op, right)
        if problem is not None:
            failures.append(f"{name}:{number}: {left} {op} {right}: {problem}")
    assert failures == [], f"{len(failures)} of {len(lines)} lines fail:\n" + "\n".join(failures[:50])


def test_the_harness_itself_fails_on_a_wrong_line() -> None:
    # the check must be able to fail: a reversed line, an unparsable one, a wrong "="
    assert _check(PEP440, "1.0", ">", "2.0") is not None
    assert _check(SEMVER, "latest", "<", "1.0.0") is not None
    assert _check(DPKG, "1.0", "=", "1.0-1") is not None
    assert _check(PEP440, "1.0", "=", "1.0.0") is None
