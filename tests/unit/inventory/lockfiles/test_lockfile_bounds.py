"""Sizes and names are bounded for every manifest and lockfile: a hostile line never becomes a package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.inventory.bounds import npm_name_problem, pypi_name_problem
from chainwarden.inventory.lockfiles import (
    NpmPackageLockCataloger,
    PyprojectCataloger,
    PythonRequirementsCataloger,
    YarnLockCataloger,
)
from chainwarden.inventory.npm import NpmInstalledCataloger
from chainwarden.inventory.python import PythonInstalledCataloger
from chainwarden.sources.rootfs import DirectoryView
from unit.inventory.lockfiles.lockfile_testing import PROJECT, catalog


def test_a_5mb_requirements_line_is_skipped_not_a_package(tmp_path: Path) -> None:
    huge = "a" * (5 * 1024 * 1024)
    result = catalog(
        PythonRequirementsCataloger(), tmp_path, {"requirements.txt": f"requests==2.32.3\n{huge}\nidna==3.7\n"}
    )
    assert sorted(p.name for p in result.packages) == ["idna", "requests"]
    assert len(result.skipped) == 1
    skipped = result.skipped[0]
    assert skipped.location is not None and skipped.location.line == 2
    assert "over the 65536 limit" in skipped.reason
    assert len(skipped.reason) < 200 and len(skipped.what) < 200


def test_an_overlong_name_on_a_short_line_is_skipped(tmp_path: Path) -> None:
    long_name = "a" * 300
    result = catalog(PythonRequirementsCataloger(), tmp_path, {"requirements.txt": f"{long_name}==1.0\nidna==3.7\n"})
    assert [p.name for p in result.packages] == ["idna"]
    assert "over 214 characters" in result.skipped[0].reason


def test_a_manifest_over_its_size_limit_is_skipped_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainwarden.inventory.lockfiles import _common

    monkeypatch.setattr(_common, "MAX_MANIFEST_BYTES", 1024)
    result = catalog(
        PythonRequirementsCataloger(),
        tmp_path,
        {"big/requirements.txt": "# padding\n" * 200 + "requests==1\n", "ok/requirements.txt": "idna==3.7\n"},
    )
    assert [p.name for p in result.packages] == ["idna"]
    assert result.skipped[0].reason == "2012 bytes, over the 1024 byte limit"


def test_invalid_npm_names_in_a_lockfile_are_skipped(tmp_path: Path) -> None:
    lock = {
        "name": "app",
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "app", "version": "1.0.0"},
            "node_modules/left-pad": {"version": "1.3.0"},
            "node_modules/ bad name": {"version": "1.0.0"},
            "node_modules/" + "x" * 300: {"version": "1.0.0"},
        },
    }
    result = catalog(NpmPackageLockCataloger(), tmp_path, {"package-lock.json": json.dumps(lock)})
    assert [p.name for p in result.packages] == ["left-pad"]
    assert len(result.skipped) == 2
    assert all("invalid npm package name" in s.reason for s in result.skipped)


def test_invalid_names_in_yarn_and_pyproject_are_skipped(tmp_path: Path) -> None:
    yarn = f'"{"y" * 300}@^1.0.0":\n  version "1.0.0"\n\nleft-pad@^1.3.0:\n  version "1.3.0"\n'
    result = catalog(YarnLockCataloger(), tmp_path / "y", {"yarn.lock": yarn})
    assert [p.name for p in result.packages] == ["left-pad"]
    assert "over 214 characters" in result.skipped[0].reason
    pyproject = f'[project]\nname = "app"\ndependencies = ["{"p" * 300}>=1", "idna>=3"]\n'
    result = catalog(PyprojectCataloger(), tmp_path / "p", {"pyproject.toml": pyproject})
    assert [p.name for p in result.packages] == ["idna"]
    assert result.skipped


def test_installed_packages_with_invalid_names_are_skipped(tmp_path: Path) -> None:
    site = tmp_path / "usr/lib/python3/dist-packages"
    (site / "good-1.0.dist-info").mkdir(parents=True)
    (site / "good-1.0.dist-info/METADATA").write_text("Name: good\nVersion: 1.0\n")
    (site / "bad-1.0.dist-info").mkdir()
    (site / "bad-1.0.dist-info/METADATA").write_text("Name: ../../etc/passwd\nVersion: 1.0\n")
    result = PythonInstalledCataloger().catalog(DirectoryView(tmp_path), PROJECT)
    assert [p.name for p in result.packages] == ["good"]
    assert "invalid Python package name '../../etc/passwd'" in result.skipped[0].reason

    modules = tmp_path / "app/node_modules"
    (modules / "ok").mkdir(parents=True)
    (modules / "ok/package.json").write_text('{"name": "ok", "version": "1.0.0"}')
    (modules / "evil").mkdir()
    (modules / "evil/package.json").write_text('{"name": "../../evil", "version": "1.0.0"}')
    npm = NpmInstalledCataloger().catalog(DirectoryView(tmp_path), PROJECT)
    assert [p.name for p in npm.packages] == ["ok"]
    assert "invalid npm package name" in npm.skipped[0].reason


@pytest.mark.parametrize(
    ("name", "valid"),
    [("requests", True), ("zope.interface", True), ("a", True), ("-bad", False), ("bad-", False), ("a b", False)],
)
def test_pypi_names_follow_pep_508(name: str, valid: bool) -> None:
    assert (pypi_name_problem(name) is None) is valid


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("left-pad", True),
        ("@babel/core", True),
        ("JSONStream", True),  # an old package: upper case allowed
        (".hidden", False),
        ("_private", False),
        ("a/b", False),
        ("@scope/", False),
        ("na me", False),
        ("x" * 215, False),
    ],
)
def test_npm_names_follow_npm_rules(name: str, valid: bool) -> None:
    assert (npm_name_problem(name) is None) is valid


def test_lint_skips_a_manifest_with_an_overlong_line_and_says_where(tmp_path: Path) -> None:
    from chainwarden.config import Config
    from chainwarden.lint import lint_path

    (tmp_path / "requirements.txt").write_text("requests>=2\n" + "a" * 100_000 + "\n")
    (tmp_path / "other-requirements.txt").write_text("requests>=2\n")
    result = lint_path(tmp_path, Config())
    assert [s.reason for s in result.skipped] == ["requirements.txt:2: line of 100000 characters, over the 65536 limit"]
    assert {f.location.path for f in result.findings if f.location} == {"other-requirements.txt"}
    assert all(len(e) < 1000 for f in result.findings for e in f.evidence)


def test_a_5mb_name_in_lockfiles_gives_short_skipped_records(tmp_path: Path) -> None:
    big = "y" * (5 * 1024 * 1024)
    lock = {"lockfileVersion": 3, "packages": {"": {}, f"node_modules/{big}": {"version": "1"}}}
    npm = catalog(NpmPackageLockCataloger(), tmp_path / "n", {"package-lock.json": json.dumps(lock)})
    yarn = catalog(YarnLockCataloger(), tmp_path / "y", {"yarn.lock": f'"{big}@^1":\n  version "1"\n'})
    for result in (npm, yarn):
        assert result.packages == []
        assert len(result.skipped) == 1
        skipped = result.skipped[0]
        assert len(skipped.what) <= 120 and len(skipped.reason) <= 400
    assert "5242880 characters" in npm.skipped[0].reason
    assert yarn.skipped[0].reason == f"line 1: {len(big) + 6} characters, over the 65536 limit"


def test_dpkg_stanzas_with_invalid_names_are_skipped(tmp_path: Path) -> None:
    from chainwarden.inventory.dpkg import DpkgCataloger
    from support.images import dpkg_status_entry

    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    big = "x" * 100_000
    status.write_text(
        "\n".join(
            [
                dpkg_status_entry("libstdc++6", "12.2.0-14"),
                dpkg_status_entry(big, "1.0"),
                dpkg_status_entry("Bad_Name", "1"),
            ]
        )
    )
    result = DpkgCataloger().catalog(DirectoryView(tmp_path), PROJECT)
    assert [p.name for p in result.packages] == ["libstdc++6"]
    assert [s.reason[:28] for s in result.skipped] == ["invalid Debian package name "] * 2
    assert all(len(s.what) < 200 and len(s.reason) < 200 for s in result.skipped)
