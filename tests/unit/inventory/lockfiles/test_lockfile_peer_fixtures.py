"""The peers' own lockfile fixtures, each against the (name, version) set their tests assert.

Fixtures and expectations come from osv-scalibr's extractor testdata and osv-scanner's pip
fixtures (tests/fixtures/*/README.md; ``tasks/import_peer_lockfile_fixtures.py`` extracts the
expected sets from upstream's ``*_test.go``). Every fixture a test there reads, for every format
chainwarden catalogs, runs here through the real cataloger on the committed file, under its
upstream name (the cataloger is told that this one file is its lockfile).

Where chainwarden deliberately differs, the difference is listed in :data:`DIFFERENCES` with the
exact packages on each side and one of the kinds documented in the README ("Where chainwarden and
osv-scalibr differ"); each kind is checked for what it promises (an unpinned package has no
version and is marked unpinned, a refused line is a skipped record …). Any other difference fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.inventory.lockfiles import (
    NpmPackageLockCataloger,
    PdmLockCataloger,
    PipfileLockCataloger,
    PnpmLockCataloger,
    PoetryLockCataloger,
    PyprojectCataloger,
    PythonRequirementsCataloger,
    UvLockCataloger,
    YarnLockCataloger,
)
from chainwarden.models import Ecosystem
from chainwarden.sources.rootfs import DirectoryView

FIXTURES = Path(__file__).parents[3] / "fixtures"
LANGUAGE = "extractor/filesystem/language"

#: upstream fixture directory -> chainwarden's cataloger for that format
CATALOGERS: dict[str, type[Cataloger]] = {
    f"{LANGUAGE}/javascript/packagelockjson": NpmPackageLockCataloger,
    f"{LANGUAGE}/javascript/pnpmlock": PnpmLockCataloger,
    f"{LANGUAGE}/javascript/yarnlock": YarnLockCataloger,
    f"{LANGUAGE}/python/poetrylock": PoetryLockCataloger,
    f"{LANGUAGE}/python/pipfilelock": PipfileLockCataloger,
    f"{LANGUAGE}/python/pdmlock": PdmLockCataloger,
    f"{LANGUAGE}/python/requirements": PythonRequirementsCataloger,
    f"{LANGUAGE}/python/uvlock": UvLockCataloger,
    f"{LANGUAGE}/python/pyprojecttoml": PyprojectCataloger,
    "pkg/lockfile/fixtures/pip": PythonRequirementsCataloger,
}

# The kinds of documented difference (README, "Where chainwarden and osv-scalibr differ").
#: a range or a missing version is no version: empty, marked unpinned (upstream: the bound, 0.0.0, or dropped)
UNPINNED = "unpinned"
#: a URL, wheel or path requirement is reported by its name, unpinned (upstream drops it)
DIRECT_REFERENCE = "direct-reference"
#: a yarn berry workspace member is the project itself (upstream: version 0.0.0-use.local)
WORKSPACE = "workspace"
#: a line pip would reject is a skipped record, not a package with a guessed version
REFUSED_LINE = "refused-line"
#: a missing -r include costs that include only (upstream fails the whole file)
MISSING_INCLUDE = "missing-include"
#: backslash continuations are joined as pip joins them (upstream keeps a literal backslash)
PIP_CONTINUATION = "pip-continuation"


@dataclass(frozen=True)
class Difference:
    kind: str
    upstream_only: frozenset[tuple[str, str]] = frozenset()
    chainwarden_only: frozenset[tuple[str, str]] = frozenset()


def _diff(kind: str, upstream: set[tuple[str, str]], ours: set[tuple[str, str]]) -> Difference:
    return Difference(kind, frozenset(upstream), frozenset(ours))


SCALIBR_REQUIREMENTS = f"osv-scalibr/{LANGUAGE}/python/requirements/testdata"
SCALIBR_PYPROJECT = f"osv-scalibr/{LANGUAGE}/python/pyprojecttoml/testdata"
SCANNER_PIP = "osv-scanner/pkg/lockfile/fixtures/pip"

#: fixture -> every documented difference in it, with the packages on each side
DIFFERENCES: dict[str, list[Difference]] = {
    f"osv-scalibr/{LANGUAGE}/javascript/yarnlock/testdata/exclude-root.v2.lock": [
        _diff(WORKSPACE, {("@ws/ansi-regex", "0.0.0-use.local")}, set()),
    ],
    f"osv-scalibr/{LANGUAGE}/python/pipfilelock/testdata/no-version.json": [
        _diff(UNPINNED, set(), {("itsdangerous", ""), ("markupsafe", "")}),
    ],
    f"{SCALIBR_REQUIREMENTS}/example.txt": [
        _diff(UNPINNED, {("keyring", "4.1.1"), ("mopidy-dirble", "1.1")}, {("keyring", ""), ("mopidy-dirble", "")}),
        _diff(DIRECT_REFERENCE, set(), {("urllib3", ""), ("numpy", ""), ("wxpython-phoenix", "")}),
    ],
    f"{SCALIBR_REQUIREMENTS}/with_versions.txt": [
        _diff(
            UNPINNED,
            {("newspaper3k", "0.2.2"), ("combination-also-valid", "3.5"), ("pkg", "1.2.3")},
            {("newspaper3k", ""), ("combination-also-valid", ""), ("pkg", "")},
        ),
    ],
    f"{SCALIBR_REQUIREMENTS}/invalid.txt": [
        _diff(DIRECT_REFERENCE, set(), {("urllib3", "")}),
    ],
    f"{SCALIBR_REQUIREMENTS}/per_req_options.txt": [
        _diff(REFUSED_LINE, {("foo7", "1.0 unexpected_text_before_options_stays_around")}, set()),
    ],
    f"{SCALIBR_PYPROJECT}/simple_deps.toml": [_diff(UNPINNED, {("flask", "3.0.0")}, {("flask", "")})],
    f"{SCALIBR_PYPROJECT}/optional_deps.toml": [
        _diff(UNPINNED, {("pytest", "7.0.0"), ("aiohttp", "3.8.0")}, {("pytest", ""), ("aiohttp", "")}),
    ],
    f"{SCALIBR_PYPROJECT}/env_markers.toml": [_diff(UNPINNED, {("requests", "2.20.0")}, {("requests", "")})],
    f"{SCALIBR_PYPROJECT}/extras_syntax.toml": [_diff(UNPINNED, {("requests", "2.20.0")}, {("requests", "")})],
    f"{SCANNER_PIP}/one-package-unconstrained.txt": [
        _diff(UNPINNED, {("flask", "0.0.0")}, {("flask", "")}),
    ],
    f"{SCANNER_PIP}/multiple-packages-mixed.txt": [
        _diff(
            UNPINNED,
            {(name, "0.0.0") for name in ("flask", "flask-cors", "gevent", "requests", "sklearn")},
            {(name, "") for name in ("flask", "flask-cors", "gevent", "requests", "sklearn")},
        ),
    ],
    f"{SCANNER_PIP}/with-multiple-r-options.txt": [
        _diff(
            UNPINNED,
            {(name, "0.0.0") for name in ("flask", "flask-cors", "gevent", "requests", "sklearn")},
            {(name, "") for name in ("flask", "flask-cors", "gevent", "requests", "sklearn")},
        ),
    ],
    f"{SCANNER_PIP}/file-format-example.txt": [
        _diff(
            UNPINNED,
            {
                *((name, "0.0.0") for name in ("beautifulsoup4", "coverage", "green", "pytest", "pytest-cov")),
                ("rejected", "0.0.0"),
                ("keyring", "4.1.1"),
                ("mopidy-dirble", "1.1"),
            },
            {
                (name, "")
                for name in (
                    "beautifulsoup4",
                    "coverage",
                    "green",
                    "pytest",
                    "pytest-cov",
                    "rejected",
                    "keyring",
                    "mopidy-dirble",
                )
            },
        ),
        _diff(DIRECT_REFERENCE, set(), {("numpy", ""), ("wxpython-phoenix", "")}),
    ],
    f"{SCANNER_PIP}/with-per-requirement-options.txt": [
        _diff(UNPINNED, {("barproject", "1.2")}, {("barproject", "")}),
    ],
    f"{SCANNER_PIP}/with-bad-r-option.txt": [
        _diff(MISSING_INCLUDE, set(), {("requests", "1.2.3")}),
    ],
    f"{SCANNER_PIP}/line-continuation.txt": [
        # "bar == 4.5\\" then ".6": pip strips the backslashes of a continued line (req_file.join_lines)
        _diff(PIP_CONTINUATION, {("bar", "4.5\\\\")}, {("bar", "4.5.6")}),
    ],
}


#: upstream reads a registry tarball's "#sha1" URL fragment as a git commit; it is a registry release
REGISTRY_HASH_NOT_COMMIT = {(f"osv-scalibr/{LANGUAGE}/javascript/yarnlock/testdata/commits.v1.lock", "minimist")}


@dataclass(frozen=True)
class Fixture:
    id: str  # repository-relative path under tests/fixtures
    expected: frozenset[tuple[str, str]]
    commits: frozenset[tuple[str, str, str]]  # (name, version, commit) of git dependencies
    upstream_error: bool


def _load() -> list[Fixture]:
    fixtures = []
    for repository in ("osv-scalibr", "osv-scanner"):
        document: dict[str, Any] = json.loads((FIXTURES / repository / "lockfile-expectations.json").read_text())
        for path, expected in document["fixtures"].items():
            if not (FIXTURES / repository / path).is_file():
                continue  # upstream tests a missing file; nothing to read here
            packages = expected["packages"]
            python = "/python/" in path or "/pip/" in path
            fixtures.append(
                Fixture(
                    f"{repository}/{path}",
                    frozenset((canonicalize_name(n) if python else n, v) for n, v, _c in packages),
                    frozenset((canonicalize_name(n) if python else n, v, c) for n, v, c in packages if c),
                    bool(expected["error"]),
                )
            )
    return fixtures


ALL = _load()


def _cataloger_for(fixture: Fixture) -> type[Cataloger]:
    directory = fixture.id.split("/", 1)[1].rsplit("/", 1)[0].removesuffix("/testdata")
    return CATALOGERS[directory]


def run(fixture: Fixture) -> CatalogResult:
    """Catalog exactly this fixture file (and what it includes), as a project directory."""
    path = FIXTURES / fixture.id
    target = "/" + path.name
    base = _cataloger_for(fixture)

    class ThisFileOnly(base):  # type: ignore[valid-type,misc]
        def is_lockfile(self, candidate: str) -> bool:
            return candidate == target

    return ThisFileOnly().catalog(DirectoryView(path.parent), CatalogContext(is_image=False))  # type: ignore[no-any-return]


def reported(result: CatalogResult) -> set[tuple[str, str]]:
    return {(p.name, p.version) for p in result.packages}


def test_every_supported_fixture_is_run() -> None:
    # 10 formats: osv-scalibr's extractor tables read 138 files, osv-scanner's pip test 17 (one absent on purpose)
    assert len(ALL) == 154
    assert {_cataloger_for(f) for f in ALL} == set(CATALOGERS.values())
    assert set(DIFFERENCES) <= {f.id for f in ALL}


@pytest.mark.parametrize("fixture", ALL, ids=[f.id.split("/language/")[-1] for f in ALL])
def test_fixture_gives_upstreams_packages(fixture: Fixture) -> None:
    result = run(fixture)
    got = reported(result)
    differences = DIFFERENCES.get(fixture.id, [])
    upstream_only = set().union(*(d.upstream_only for d in differences)) if differences else set()
    chainwarden_only = set().union(*(d.chainwarden_only for d in differences)) if differences else set()
    assert fixture.expected - got == upstream_only
    assert got - fixture.expected == chainwarden_only

    by_key = {(p.name, p.version): p for p in result.packages}
    for difference in differences:
        ours = [by_key[key] for key in difference.chainwarden_only]
        if difference.kind in {UNPINNED, DIRECT_REFERENCE}:
            # no version is made up: empty, and the package says it is not pinned
            assert all(p.version == "" and p.pinned is False for p in ours)
            if difference.kind == UNPINNED and difference.upstream_only:
                # the same packages, only the version differs
                assert {n for n, _v in difference.upstream_only} == {n for n, _v in difference.chainwarden_only}
        elif difference.kind == WORKSPACE:
            assert not ours
        elif difference.kind == REFUSED_LINE:
            refused = {name for name, _v in difference.upstream_only}
            assert refused <= {s.what.split("==", 1)[0] for s in result.skipped}
        elif difference.kind == MISSING_INCLUDE:
            assert any("no such file in the target" in s.reason for s in result.skipped)
        elif difference.kind == PIP_CONTINUATION:
            assert {n for n, _v in difference.upstream_only} == {n for n, _v in difference.chainwarden_only}
        else:
            raise AssertionError(f"undocumented kind {difference.kind}")

    if fixture.upstream_error:
        # what upstream refuses, chainwarden reports as skipped (never silently)
        assert result.skipped
    # a git dependency's commit is never reported as its version
    assert not {commit for _n, _v, commit in fixture.commits} & {p.version for p in result.packages}
    for name, version, _commit in fixture.commits:
        if "/javascript/" in fixture.id and (fixture.id, name) not in REGISTRY_HASH_NOT_COMMIT:
            # npm git dependencies: reported, but no registry release backs their version
            assert by_key[(name, version)].pinned is False, (name, version)
    for package in result.packages:
        if package.ecosystem is Ecosystem.PYPI:
            assert package.name == canonicalize_name(package.name)


@pytest.mark.parametrize(
    "fixture",
    [f for f in ALL if f.commits and "/python/" in f.id],
    ids=lambda f: f.id.rsplit("/", 1)[-1],
)
def test_python_git_dependencies_pinned_by_their_commit(fixture: Fixture) -> None:
    packages = {(p.name, p.version): p for p in run(fixture).packages}
    assert fixture.commits
    assert all(packages[(name, version)].pinned for name, version, _commit in fixture.commits)
