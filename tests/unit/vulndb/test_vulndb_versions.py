"""Version ordering per ecosystem, checked against the reference implementations.

dpkg: generated versions are sorted with our key, then every adjacent pair is
checked with the real ``dpkg --compare-versions`` (one shell loop per example).
Because dpkg's order is total, agreeing on every adjacent pair of a sorted list
means agreeing on every pair of it: 20 versions check 190 pairs with 19 calls.
"""

from __future__ import annotations

import functools
import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from debian.debian_support import Version as DebianVersion
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from chainwarden.vulndb.versions import (
    DPKG,
    PEP440,
    SEMVER,
    UncomparableVersion,
    _dpkg_exact_slow,
    compare,
    scheme_for,
)

# -- dpkg ------------------------------------------------------------------------------------

_UPSTREAM_CHARS = "0123456789.+~-abzAZ"
_REVISION_CHARS = "0123456789.+~abz"


@st.composite
def dpkg_versions(draw: st.DrawFn) -> str:
    epoch = draw(st.one_of(st.just(""), st.sampled_from(["0:", "1:", "2:", "10:"])))
    first = draw(st.sampled_from("0123456789"))
    upstream = first + draw(st.text(alphabet=_UPSTREAM_CHARS, max_size=8))
    revision = draw(st.one_of(st.just(""), st.text(alphabet=_REVISION_CHARS, min_size=1, max_size=6)))
    if "-" in upstream and not revision:
        revision = "1"  # a hyphen in the upstream part requires a revision
    if ":" in upstream and not epoch:
        epoch = "0:"
    return f"{epoch}{upstream}-{revision}" if revision else f"{epoch}{upstream}"


def _dpkg_check(pairs: list[tuple[str, str, str]]) -> list[str]:
    """Run ``dpkg --compare-versions A OP B`` for each pair in one shell; returns failures."""
    script = 'while IFS=" " read -r a op b; do dpkg --compare-versions "$a" "$op" "$b" || echo "$a $op $b"; done'
    stdin = "".join(f"{a} {op} {b}\n" for a, op, b in pairs)
    done = subprocess.run(["sh", "-c", script], input=stdin, capture_output=True, text=True, check=True, timeout=120)
    assert "warning" not in done.stderr, done.stderr
    return done.stdout.splitlines()


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")


@needs_dpkg
@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(st.lists(dpkg_versions(), min_size=15, max_size=30, unique=True))
def test_dpkg_order_matches_dpkg_compare_versions(versions: list[str]) -> None:
    ordered = sorted(versions, key=DPKG.key)
    pairs = []
    for left, right in itertools.pairwise(ordered):
        pairs.append((left, "eq" if DPKG.key(left) == DPKG.key(right) else "lt", right))
    assert _dpkg_check(pairs) == []


@given(st.lists(dpkg_versions(), min_size=2, max_size=12))
@settings(max_examples=300, deadline=None)
def test_dpkg_order_matches_python_debian(versions: list[str]) -> None:
    for left in versions:
        for right in versions:
            expected = DebianVersion(left)._compare(DebianVersion(right))
            assert compare(DPKG, left, right) == (expected > 0) - (expected < 0), (left, right)
            # listed versions are matched through exact(): equal versions must give equal forms
            assert (DPKG.exact(left) == DPKG.exact(right)) == (expected == 0), (left, right)
        # the fast path for already canonical spellings gives what the long way gives
        assert DPKG.exact(left) == _dpkg_exact_slow(left.strip()), left


def test_dpkg_exact_form_is_dpkg_equality() -> None:
    assert DPKG.exact("0:1.0-0") == DPKG.exact("01.00") == DPKG.exact("1.0") == "1.0"
    assert DPKG.exact("1.0a0") == DPKG.exact("1.0a") == "1.0a0"
    assert DPKG.exact("1.") == "1.0"
    assert DPKG.exact("2:7.88.1-10+deb12u5") == "2:7.88.1-10+deb12u5"
    assert DPKG.exact("1.0.0") != DPKG.exact("1.0")
    assert DPKG.exact("1.0_1 ") == "1.0_1"  # not a Debian version: kept as written


@needs_dpkg
def test_dpkg_tricky_cases_against_dpkg() -> None:
    # each pair is (lower, higher) or equal; the real dpkg must agree on every one
    cases = [
        ("1.0~rc1", "lt", "1.0"),
        ("1.0", "lt", "1.0+b1"),
        ("1.0~", "lt", "1.0"),
        ("1.0~~", "lt", "1.0~"),
        ("1.0~~a", "lt", "1.0~"),
        ("1.0", "eq", "1.00"),
        ("1.0", "eq", "0:1.0"),
        ("1.0", "eq", "1.0-0"),
        ("1.0-1", "lt", "1.0-1+deb12u1"),
        ("1.0-1~bpo11+1", "lt", "1.0-1"),
        ("1:0.1", "gt", "9.9"),
        ("2.30-1", "gt", "2.4-1"),
        ("1.0a", "lt", "1.0+"),
        ("1.0.", "gt", "1.0"),
        ("3.0.11-1~deb12u2", "lt", "3.0.11-1~deb12u3"),
        ("3.0.11-1~deb12u2", "lt", "3.0.13-1~deb12u1"),
        ("7.88.1-10+deb12u5", "lt", "7.88.1-10+deb12u12"),
    ]
    for left, op, right in cases:
        expected = {"lt": -1, "eq": 0, "gt": 1}[op]
        assert compare(DPKG, left, right) == expected, (left, op, right)
    assert _dpkg_check(cases) == []


@pytest.mark.parametrize("bad", ["", " ", "a b", "1.0-", "x:1.0", "1.0-a-", "1:", "1.0_1", "1.0:1"])
def test_dpkg_rejects_invalid_versions(bad: str) -> None:
    with pytest.raises(UncomparableVersion):
        DPKG.key(bad)


# -- PEP 440 -----------------------------------------------------------------------------------

_PEP440_PARTS = st.builds(
    lambda epoch, release, pre, post, dev, local: f"{epoch}{'.'.join(map(str, release))}{pre}{post}{dev}{local}",
    st.sampled_from(["", "1!"]),
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "b0", "rc2", "-alpha3", ".pre1", "c1"]),
    st.sampled_from(["", ".post1", "-1", ".post0", "post2"]),
    st.sampled_from(["", ".dev0", ".dev3", "dev", ".dev12"]),
    st.sampled_from(["", "+local.1", "+ubuntu1", "+Local-7", "+1", "+01.a", "+a.1", "+2", "+1.1", "+0"]),
)


@given(st.lists(_PEP440_PARTS, min_size=2, max_size=12))
@settings(max_examples=300, deadline=None)
def test_pep440_order_and_exact_form_agree_with_packaging(versions: list[str]) -> None:
    for left in versions:
        for right in versions:
            a, b = Version(left), Version(right)
            assert compare(PEP440, left, right) == (a > b) - (a < b)
            # listed versions are matched through exact(): equal versions must give equal forms
            assert (PEP440.exact(left) == PEP440.exact(right)) == (a == b), (left, right)


def test_pep440_segments() -> None:
    ordered = ["1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0b1", "1.0rc1", "1.0", "1.0+local", "1.0.post1", "1.1"]
    assert sorted(ordered, key=PEP440.key) == ordered
    assert PEP440.exact("1.0.0") == PEP440.exact("1") == PEP440.exact("01.0")
    assert PEP440.exact("not a version") == "not a version"
    for bad in ("", " ", "not a version", "1.0\x00", "1" * 2000):
        with pytest.raises(UncomparableVersion, match="PEP 440"):
            PEP440.key(bad)


def test_pep440_legacy_versions_order_as_setuptools_below_pep440() -> None:
    # setuptools' pre-PEP 440 parse_version, below every PEP 440 version (osv-scalibr: epoch -1)
    ordered = ["trunk", "0.1-bulbasaur", "0.9-doduo", "0", "0.0.1.dev0", "1.0"]
    assert sorted(reversed(ordered), key=PEP440.key) == ordered
    assert compare(PEP440, "1.0beta6.1", "1.0b6") == -1  # legacy, however close to PEP 440
    assert compare(PEP440, "2.0-final-ish", "2.0-FINAL-ish.") == 0  # case and a trailing "." do not count
    assert compare(PEP440, "0.3m1", "0.3m2") == -1
    assert compare(PEP440, "0.3m10", "0.3m2") == 1  # numbers compare as numbers
    # equal legacy versions share their exact form; it never collides with a PEP 440 one
    assert PEP440.exact("2.0-final-ish") == PEP440.exact("2.0-FINAL-ish.")
    assert PEP440.exact("trunk") != PEP440.exact("trunk.1")
    assert "*" in PEP440.exact("trunk")


# -- SemVer (npm) ------------------------------------------------------------------------------


def test_semver_precedence_from_the_spec() -> None:
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    for left, right in itertools.pairwise(chain):
        assert compare(SEMVER, left, right) == -1, (left, right)
    assert compare(SEMVER, "1.0.0+build.1", "1.0.0+build.2") == 0
    assert compare(SEMVER, "v1.2.3", "1.2.3") == 0
    assert SEMVER.exact("v1.2.3+sha.1") == "1.2.3"
    assert compare(SEMVER, "1.0.0-2", "1.0.0-10") == -1  # numeric identifiers compare numerically
    assert compare(SEMVER, "1.0.0-10", "1.0.0-a") == -1  # numeric below alphanumeric


@pytest.mark.parametrize("bad", ["latest", "", " ", "^1.2.3", "V1.2.3", "x1.2.3", "1.2.3 beta", "1" * 2000])
def test_semver_rejects_what_is_not_a_version(bad: str) -> None:
    with pytest.raises(UncomparableVersion):
        SEMVER.key(bad)


def test_semver_reads_lenient_versions_as_osv_does() -> None:
    # osv-scalibr's semver-like reading: short, long, zero-padded, hyphen-less, huge
    assert compare(SEMVER, "1.0", "1.0.0") == 0
    assert compare(SEMVER, "01.0.0", "1.0.0") == 0
    assert compare(SEMVER, "1.0.0-", "1.0.0") == 0
    assert compare(SEMVER, "1.0.0-01", "1.0.0-1") == 0
    assert compare(SEMVER, "1.0.0.0", "1.0.0") == -1  # the fourth component is a pre-release part
    assert compare(SEMVER, "1.36.0rc1", "1.36.0") == -1
    assert compare(SEMVER, "99999999999999999999999.0.0", "99999999999999999999998.9.9") == 1
    # exact forms agree with the order
    assert SEMVER.exact("1.0") == SEMVER.exact("v1.0.0") == "1.0.0"
    assert SEMVER.exact("1.0.0-01") == SEMVER.exact("1.0.0-1") == "1.0.0-1"
    assert SEMVER.exact("1.1.3.4.5") == SEMVER.exact("1.1.3-.4.5")
    assert SEMVER.exact("latest") == "latest"
    # OSV reads "-01" as the number -1 (Go's big.Int), valid SemVer calls it alphanumeric
    assert SEMVER.exact("1.0.0-a.-01") == SEMVER.exact("1.0.0-a.-1") == "1.0.0-a.-1"
    assert compare(SEMVER, "1.0.0-a.-2", "1.0.0-a.-1") == -1


_NPM_SEMVER = Path("/usr/lib/node_modules/npm/node_modules/semver")
_IDENT = st.one_of(st.integers(0, 20).map(str), st.sampled_from(["alpha", "beta", "rc", "a", "b", "x-1", "0a"]))
_SEMVERS = st.builds(
    lambda core, pre, build: f"{core[0]}.{core[1]}.{core[2]}" + (f"-{'.'.join(pre)}" if pre else "") + build,
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.lists(_IDENT, max_size=3),
    st.sampled_from(["", "+build.5", "+001"]),
)


@functools.cache
def _node() -> str | None:
    node = shutil.which("node")
    return node if node and _NPM_SEMVER.is_dir() else None


@pytest.mark.skipif(_node() is None, reason="node and npm's bundled semver are not installed")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(st.lists(st.tuples(_SEMVERS, _SEMVERS), min_size=100, max_size=250))
def test_semver_matches_node_semver(pairs: list[tuple[str, str]]) -> None:
    node = _node()
    assert node is not None
    script = (
        f"const s = require({json.dumps(str(_NPM_SEMVER))});"
        "const pairs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(pairs.map(([a, b]) => s.compare(a, b))));"
    )
    done = subprocess.run(
        [node, "-e", script], input=json.dumps(pairs), capture_output=True, text=True, check=True, timeout=60
    )
    expected = json.loads(done.stdout)
    assert [compare(SEMVER, a, b) for a, b in pairs] == expected


def test_scheme_for_ecosystems() -> None:
    assert scheme_for("PyPI") is PEP440
    assert scheme_for("npm") is SEMVER
    assert scheme_for("Debian:12") is DPKG
    assert scheme_for("Debian") is DPKG
    assert scheme_for("PyPI", "SEMVER") is SEMVER
    assert scheme_for("PyPI", "GIT") is None
    assert scheme_for("Hex") is None


_LENIENT = st.builds(
    lambda prefix, first, rest: prefix + first + rest,
    st.sampled_from(["", "v", "=", " v"]),
    st.sampled_from("0123456789"),
    st.text(alphabet="0123456789.-+aZ", max_size=12).map(lambda text: text.replace(".", ".-", text.count("0") % 2)),
)


@given(st.lists(_LENIENT, min_size=2, max_size=10))
@settings(max_examples=300, deadline=None)
def test_semver_exact_form_is_the_lenient_order_equality(versions: list[str]) -> None:
    # the strict fast path and the lenient reading must agree on what is equal
    for left in versions:
        for right in versions:
            assert (SEMVER.exact(left) == SEMVER.exact(right)) == (SEMVER.key(left) == SEMVER.key(right)), (left, right)
