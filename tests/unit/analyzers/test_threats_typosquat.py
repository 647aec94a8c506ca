"""Typosquat tables: each technique, its explanation, and the false positives we avoid."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.analyzers.popularity import (
    PopularityDataError,
    load_popular,
    npm_from_tsv,
    parse_popular,
    pypi_from_tsv,
    refresh,
)
from chainwarden.analyzers.typosquat import TyposquatDetector, describe_edit, detector_for, skeleton
from chainwarden.models import Ecosystem, Severity


@pytest.fixture(scope="module")
def pypi() -> TyposquatDetector:
    return detector_for(Ecosystem.PYPI)


@pytest.fixture(scope="module")
def npm() -> TyposquatDetector:
    return detector_for(Ecosystem.NPM)


PYPI_SQUATS = [
    # name, target, technique, words expected in the explanation
    ("reqeusts", "requests", "adjacent-swap", "swapped"),
    ("requets", "requests", "omitted-character", "omitted"),
    ("requestss", "requests", "repeated-character", "repeated"),
    ("requesys", "requests", "keyboard-neighbour", "QWERTY"),
    ("jeIlyfish", "jellyfish", "look-alike", "look-alike"),
    ("setup-tools", "setuptools", "separator", "separators"),
    ("python3-dateutil", "python-dateutil", "added-character", "inserted"),
    ("urllib4", "urllib3", "keyboard-neighbour", "QWERTY"),
    ("boto3-python", "boto3", "affix", "affix"),
    ("numpy-dev", "numpy", "combosquat", "lure"),
    ("requests-toolbelt2", "requests-toolbelt", "added-character", "appended"),
    ("beautifulsoup-requests", "requests", "combosquat", "'beautifulsoup4'"),  # the anchor without its 4
    ("beautifulsop", "beautifulsoup", "omitted-character", "omitted"),
    ("beautifulsoup-4x", "beautifulsoup4", "edit-distance-2", "two edits"),
    ("dateutil-python", "python-dateutil", "word-order", "order"),
    ("telnet", "telnetlib", "stdlib-name", "standard-library"),
]

NPM_SQUATS = [
    ("lodahs", "lodash", "adjacent-swap", "swapped"),
    ("crossenv", "cross-env", "separator", "separators"),
    ("types-node", "@types/node", "scope-confusion", "scope"),
    ("@typescript_eslinter/eslint", "@typescript-eslint/", "scope-typo", "scope"),
    ("jquery.js", "jquery", "affix", "affix"),
    ("mongose", "mongoose", "omitted-character", "written once"),
    ("electorn", "electron", "adjacent-swap", "swapped"),
]


@pytest.mark.parametrize(("name", "target", "technique", "word"), PYPI_SQUATS)
def test_pypi_squats(pypi: TyposquatDetector, name: str, target: str, technique: str, word: str) -> None:
    match = pypi.check(name)
    assert match is not None, name
    assert match.target.startswith(target)
    assert match.technique == technique
    assert word in match.explanation


@pytest.mark.parametrize(("name", "target", "technique", "word"), NPM_SQUATS)
def test_npm_squats(npm: TyposquatDetector, name: str, target: str, technique: str, word: str) -> None:
    match = npm.check(name)
    assert match is not None, name
    assert match.target.startswith(target)
    assert match.technique == technique
    assert word in match.explanation


def test_unicode_confusable_is_high(pypi: TyposquatDetector) -> None:
    match = pypi.check("rеquests")  # Cyrillic 'е'
    assert match is not None
    assert match.technique == "unicode-confusable"
    assert "U+0435" in match.explanation
    assert match.severity is Severity.HIGH


@pytest.mark.parametrize(
    ("ecosystem", "name"),
    [
        # popular names close to other popular names are established projects
        (Ecosystem.PYPI, "requests"),
        (Ecosystem.PYPI, "pyyaml"),
        (Ecosystem.PYPI, "Requests"),
        (Ecosystem.PYPI, "zope.interface"),  # dotted: normalised, not a separator game
        (Ecosystem.NPM, "react-dom"),
        (Ecosystem.NPM, "babel-core"),  # popular itself (Babel 6), although @babel/core exists
        (Ecosystem.NPM, "@babel/cli"),
        (Ecosystem.NPM, "@babel/corex"),  # same scope as the anchor: only Babel can publish there
        # short and unrelated names
        (Ecosystem.PYPI, "xq"),
        (Ecosystem.PYPI, "my-internal-tool"),
        (Ecosystem.NPM, "left-pad-but-different"),
    ],
)
def test_not_squats(ecosystem: Ecosystem, name: str) -> None:
    assert detector_for(ecosystem).check(name) is None


def test_allow_list_and_same_publisher_excuse() -> None:
    popular = load_popular(Ecosystem.NPM)
    allowed = TyposquatDetector(popular, allow=["lodahs"])
    assert allowed.check("lodahs") is None
    same = TyposquatDetector(popular, same_publisher=lambda a, b: (a, b) == ("lodahs", "lodash"))
    assert same.check("lodahs") is None
    assert same.check("axois") is not None


def test_findings_carry_package_and_explanation(pypi: TyposquatDetector) -> None:
    from chainwarden.analyzers.typosquat import bare_package

    findings = pypi.findings([bare_package(Ecosystem.PYPI, "reqeusts"), bare_package(Ecosystem.NPM, "lodahs")])
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule_id == "typosquat"
    assert finding.package is not None and finding.package.purl == "pkg:pypi/reqeusts"
    assert any("swapped" in e for e in finding.evidence)
    assert any("download rank" in e for e in finding.evidence)


@pytest.mark.parametrize(
    ("candidate", "target", "technique"),
    [
        ("abdc", "abcd", "adjacent-swap"),
        ("abd", "abcd", "omitted-character"),
        ("abccd", "abcd", "repeated-character"),
        ("abxcd", "abcd", "added-character"),
        ("abcf", "abcd", "keyboard-neighbour"),
        ("abcz", "abcd", "substituted-character"),
        ("abcl", "abci", "look-alike"),
    ],
)
def test_describe_edit(candidate: str, target: str, technique: str) -> None:
    assert describe_edit(candidate, target)[0] == technique


def test_skeleton_folds_lookalikes() -> None:
    assert skeleton("rnodern") == skeleton("modem")
    assert skeleton("vvheel") == skeleton("wheel")
    assert skeleton("t0rch") == skeleton("torch")


# -- popularity data -------------------------------------------------------------------


def test_bundled_data_sizes() -> None:
    pypi = load_popular(Ecosystem.PYPI)
    npm = load_popular(Ecosystem.NPM)
    assert len(pypi.names) >= 14_900  # 15,000 ranks minus projects deleted since
    assert len(npm.names) >= 10_000
    assert pypi.position("boto3") == 1
    assert npm.scores["lodash"] > 1_000_000


def test_parse_popular_rejects_malformed_lines() -> None:
    with pytest.raises(PopularityDataError, match=r"data:3: expected"):
        parse_popular("# header\n1\tboto3\nnot a number\tx\n", Ecosystem.PYPI, "data")
    with pytest.raises(PopularityDataError, match="expected"):
        parse_popular("12 no tab\n", Ecosystem.NPM, "data")


def test_refresh_from_tsv_snapshots(tmp_path: Path) -> None:
    pypi_tsv = tmp_path / "pypi.tsv"
    npm_tsv = tmp_path / "npm.tsv"
    pypi_rows = "".join(f"Pkg_{i}\t1.0\t2026-01\t{i}\tsummary\n" for i in range(1, 15_001))
    pypi_tsv.write_text(
        "name\tversion\tmonth\trank_among_15000_most_downloaded\tsummary\n" + pypi_rows + "x\t1\t\t\t\n"
    )
    npm_rows = "".join(f"pkg-{i}\t1.0.0\t{100_000 - i}\ts\n" for i in range(12_000))
    npm_tsv.write_text("name\tversion\tdownloads_a_month\tsummary\n" + npm_rows)
    assert pypi_from_tsv(pypi_tsv)[0] == (1, "pkg-1")
    assert npm_from_tsv(npm_tsv, limit=5)[0] == (100_000, "pkg-0")
    out = tmp_path / "data"
    result = refresh(out, pypi_tsv=pypi_tsv, npm_tsv=npm_tsv)
    assert result.pypi_count == 15_000
    assert result.npm_count == 12_000
    load_popular.cache_clear()
    try:
        mine = load_popular(Ecosystem.PYPI, out)
        assert mine.source == str(out / "popular-pypi.txt")
        assert mine.position("pkg-2") == 2
    finally:
        load_popular.cache_clear()


def test_refresh_refuses_short_or_malformed_snapshots(tmp_path: Path) -> None:
    pypi_tsv = tmp_path / "pypi.tsv"
    npm_tsv = tmp_path / "npm.tsv"
    pypi_tsv.write_text("name\trank_among_15000\nboto3\t1\n")
    npm_tsv.write_text("name\tdownloads\nx\t5\n")
    with pytest.raises(PopularityDataError, match="refusing to write short data"):
        refresh(tmp_path / "out", pypi_tsv=pypi_tsv, npm_tsv=npm_tsv)
    assert not (tmp_path / "out" / "popular-pypi.txt").exists()
    bad = tmp_path / "bad.tsv"
    bad.write_text("nothing here\n")
    with pytest.raises(PopularityDataError, match="no 'name' column"):
        pypi_from_tsv(bad)


@pytest.mark.parametrize(
    ("name", "target"),
    [
        # two edits from the very top (pypi_malregistry names): insertion + transposition, doubled letter +
        # omission, a digit for a letter, a doubled short anchor
        ("selemiumm", "selenium"),
        ("tensofklow", "tensorflow"),
        ("matplottlab", "matplotlib"),
        ("r3quests", "requests"),
        ("coloranam", "colorama"),
        ("cffii", "cffi"),
        ("selenyum", "selenium"),  # a vowel for a vowel
    ],
)
def test_two_edits_from_the_top_are_squats(pypi: TyposquatDetector, name: str, target: str) -> None:
    match = pypi.check(name)
    assert match is not None and match.target == target, (name, match)


def test_edits_are_weighed_against_the_targets_rank() -> None:
    from chainwarden.analyzers.typosquat import edit_is_suspicious

    # the same two edits: suspicious from rank 30, not from rank 9,000
    assert edit_is_suspicious("selemiumm", "selenium", "edit-distance-2", 2, 30)
    assert not edit_is_suspicious("selemiumm", "selenium", "edit-distance-2", 2, 9_000)
    # a different first letter or two letters glued on make a different word
    assert not edit_is_suspicious("oxtest", "pytest", "edit-distance-2", 2, 10)
    assert not edit_is_suspicious("dmsqlalchemy", "sqlalchemy", "edit-distance-2", 2, 50)
    # a typing slip stays suspicious far down; an inserted letter on a short name does not
    assert edit_is_suspicious("pycarlo", "pycalro", "adjacent-swap", 1, 9_000)
    assert not edit_is_suspicious("prouter", "router", "added-character", 1, 5_000)
