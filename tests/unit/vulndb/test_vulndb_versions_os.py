"""Alpine (apk-tools) and RPM (rpmvercmp) ordering, checked against OSV's and rpm's own answers.

Every line of osv-scalibr's ``alpine-versions*.txt`` and ``redhat-versions.txt``
(tests/fixtures/osv-semantic-apk-rpm, Apache-2.0) is checked both ways round;
RPM keys are also checked against ``rpm.labelCompare`` (Debian's python3-rpm) on
generated pairs.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden.vulndb.versions import APK, RPM, SEMVER, UncomparableVersion, VersionScheme, compare, scheme_for

FIXTURES = Path(__file__).parents[2] / "fixtures" / "osv-semantic-apk-rpm"


def _fixture_lines(name: str) -> list[tuple[str, str, str]]:
    lines = []
    for line in (FIXTURES / name).read_text().splitlines():
        if not line or line.startswith(("# ", "// ")):
            continue
        left, op, right = line.split(" ")
        lines.append((left, op, right))
    return lines


def _check_fixture(scheme: VersionScheme, name: str) -> None:
    expected = {"<": -1, "=": 0, ">": 1}
    failures = []
    lines = _fixture_lines(name)
    for left, op, right in lines:
        got, back = compare(scheme, left, right), compare(scheme, right, left)
        if got != expected[op] or back != -expected[op]:
            failures.append(f"{left} {op} {right}: got {got}, reversed {back}")
    assert not failures, f"{len(failures)}/{len(lines)} lines of {name} disagree:\n" + "\n".join(failures[:20])


@pytest.mark.parametrize("name", ["alpine-versions.txt", "alpine-versions-generated.txt"])
def test_apk_ordering_matches_every_osv_fixture_line(name: str) -> None:
    assert len(_fixture_lines(name)) > 700
    _check_fixture(APK, name)


def test_rpm_ordering_matches_every_osv_fixture_line() -> None:
    assert len(_fixture_lines("redhat-versions.txt")) > 150
    _check_fixture(RPM, "redhat-versions.txt")


def test_schemes_are_chosen_by_osv_ecosystem() -> None:
    assert scheme_for("Alpine:v3.19") is APK
    for ecosystem in (
        "Red Hat:enterprise_linux:9::baseos",
        "Rocky Linux:9",
        "AlmaLinux:8",
        "SUSE:Linux Enterprise Server 15 SP5",
        "openSUSE:Leap 15.5",
    ):
        assert scheme_for(ecosystem) is RPM
    assert scheme_for("Go") is SEMVER
    assert scheme_for("Amazon Linux:2023") is None


def test_apk_sorts_real_alpine_sequences() -> None:
    ordered = ["3.0.12_alpha1-r0", "3.0.12_rc1-r0", "3.0.12-r0", "3.0.12-r1", "3.0.12_p1-r0", "3.0.12a-r0", "3.0.13-r0"]
    shuffled = list(reversed(ordered))
    assert sorted(shuffled, key=APK.key) == ordered


def test_rpm_epoch_tilde_and_caret() -> None:
    assert compare(RPM, "1:1.0-1", "2.0-1") == 1
    assert compare(RPM, "1.0~rc1-1", "1.0-1") == -1
    assert compare(RPM, "1.0^git1-1", "1.0-1") == 1
    assert compare(RPM, "1.0^git1-1", "1.0.1-1") == -1
    assert compare(RPM, "0:3.0.7-18.el9_2", "3.0.7-18.el9_2") == 0


@pytest.mark.parametrize("bad", ["", "   ", "1.0 2", "x" * 2000])
def test_unorderable_versions_are_refused(bad: str) -> None:
    for scheme in (APK, RPM):
        with pytest.raises(UncomparableVersion):
            scheme.key(bad)


# python3-rpm lives in Debian's system Python, not in the virtualenv: pairs go to it in one batch
SYSTEM_PYTHON = "/usr/bin/python3"
_LABEL_COMPARE = (
    "import json, sys, rpm\n"
    "pairs = json.load(sys.stdin)\n"
    "print(json.dumps([rpm.labelCompare(tuple(a), tuple(b)) for a, b in pairs]))\n"
)


def _has_python3_rpm() -> bool:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import rpm"], capture_output=True, check=False)
    return probe.returncode == 0


needs_rpm = pytest.mark.skipif(
    not Path(SYSTEM_PYTHON).exists() or not _has_python3_rpm(),
    reason="python3-rpm (installed by tasks/install-system-tools.sh) is missing",
)

Label = tuple[str, str, str]


def _label_compare(pairs: list[tuple[Label, Label]]) -> list[int]:
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", _LABEL_COMPARE], input=json.dumps(pairs), capture_output=True, text=True, check=True
    )
    return [int(value) for value in json.loads(done.stdout)]


def _our_compare(a: Label, b: Label) -> int:
    return compare(RPM, f"{a[0]}:{a[1]}-{a[2]}", f"{b[0]}:{b[1]}-{b[2]}")


_SEGMENT = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("0123456789abzAZ"),
    st.text(alphabet="0123456789abzAZ.~^_+", max_size=7),
)
_LABEL = st.tuples(st.sampled_from(["0", "1", "2", "10"]), _SEGMENT, _SEGMENT)


@needs_rpm
@settings(max_examples=5, deadline=None)
@given(st.lists(st.tuples(_LABEL, _LABEL), min_size=200, max_size=200))
def test_rpm_ordering_agrees_with_rpm_label_compare(pairs: list[tuple[Label, Label]]) -> None:
    expected = _label_compare(pairs)
    disagreements = [(a, b, want) for (a, b), want in zip(pairs, expected, strict=True) if _our_compare(a, b) != want]
    assert not disagreements, disagreements[:10]


@needs_rpm
def test_rpm_ordering_agrees_with_rpm_on_mutated_real_versions() -> None:
    """Real-looking versions (dist tags, tildes, carets) mutated one character at a time."""
    seeds = ["3.0.7", "1.2.3~rc1", "2.38^20230101git", "5.2.15.el9_2", "1.0a", "10.0001", "1.0.0p1", "0.9.8zh"]
    alphabet = "0123456789a~^._Z"
    generator = random.Random(14)
    pairs: list[tuple[Label, Label]] = []
    for _ in range(5000):
        left = generator.choice(seeds)
        chars = list(left)
        chars[generator.randrange(len(chars))] = generator.choice(alphabet)
        right = "".join(chars)
        if not right[0].isalnum():
            continue
        release = generator.choice(["1.el9", "1.el9_2", "01.el9", "1.el9~pre", "1^post"])
        pairs.append((("0", left, "1.el9"), ("0", right, release)))
    expected = _label_compare(pairs)
    disagreements = [(a, b, want) for (a, b), want in zip(pairs, expected, strict=True) if _our_compare(a, b) != want]
    assert len(pairs) > 4000
    assert not disagreements, disagreements[:10]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_any_string_is_ordered_or_refused(text: str) -> None:
    for scheme in (APK, RPM):
        try:
            key = scheme.key(text)
        except UncomparableVersion:
            continue
        assert key == scheme.key(text)
        assert compare(scheme, text, text) == 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}[a-z]?(_(alpha|beta|rc|p)[0-9]?)?(-r[0-9]{1,2})?", fullmatch=True),
        min_size=2,
        max_size=12,
    )
)
def test_valid_apk_versions_sort_consistently(versions: list[str]) -> None:
    """On well-formed versions without leading zeros the order is total and transitive: once sorted, every
    pair (not only neighbours) compares in order."""
    versions = [
        v for v in versions if not any(part.startswith("0") and len(part) > 1 for part in re.split(r"[._a-z-]+", v))
    ]
    ordered = sorted(versions, key=APK.key)
    for left, right in itertools.combinations(ordered, 2):
        assert compare(APK, left, right) <= 0, (left, right)
