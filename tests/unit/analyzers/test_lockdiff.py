"""Pairing locked versions between two revisions, and the revision range syntax of ``diff --lockfiles``."""

from __future__ import annotations

import pytest

from chainwarden.analyzers.lockdiff import pair_changes, split_range
from chainwarden.errors import UsageError
from chainwarden.models import Ecosystem, Location, Package


def test_split_range() -> None:
    assert split_range("main..HEAD") == ("main", "HEAD")
    assert split_range("v1.0..") == ("v1.0", "")
    for bad in ("main", "..HEAD", "a...b"):
        with pytest.raises(UsageError):
            split_range(bad)


def _npm(name: str, version: str, path: str = "package-lock.json") -> Package:
    return Package(Ecosystem.NPM, name, version, f"pkg:npm/{name}@{version}", "npm-package-lock", (Location(path),))


def test_nested_copies_pair_with_their_nearest_predecessor() -> None:
    base = [_npm("ms", "2.0.0"), _npm("ms", "2.1.2"), _npm("debug", "4.3.4"), _npm("gone", "1.0.0")]
    head = [_npm("ms", "2.0.1"), _npm("ms", "2.1.3"), _npm("debug", "4.3.4"), _npm("debug", "4.3.5")]
    changes = {(c.name, c.old_version, c.new_version) for c in pair_changes(base, head)}
    assert changes == {
        ("ms", "2.0.0", "2.0.1"),
        ("ms", "2.1.2", "2.1.3"),
        ("debug", "4.3.4", "4.3.5"),  # a second copy next to the kept one: reviewed against it
        ("gone", "1.0.0", None),
    }
    # versions a registry cannot serve (local paths, git) are not paired
    local = Package(Ecosystem.NPM, "mine", "file:../mine", "pkg:npm/mine", "npm-package-lock", pinned=True)
    assert pair_changes([], [local]) == []


def _pypi(name: str, version: str, path: str) -> Package:
    return Package(
        Ecosystem.PYPI, name, version, f"pkg:pypi/{name}@{version}", "python-requirements", (Location(path, line=3),)
    )


def test_same_version_in_another_lockfile_is_no_change_and_a_downgrade_is_one() -> None:
    base = [_pypi("idna", "3.7", "requirements.txt"), _pypi("urllib3", "2.2.2", "requirements.txt")]
    head = [_pypi("idna", "3.7", "requirements/prod.txt"), _pypi("urllib3", "1.26.5", "requirements.txt")]
    (change,) = pair_changes(base, head)
    assert (change.name, change.old_version, change.new_version, change.kind) == (
        "urllib3",
        "2.2.2",
        "1.26.5",
        "updated",
    )
    assert change.lockfiles == ("requirements.txt",)
    assert change.line == 3
    # an unpinned requirement has no version to review
    loose = Package(Ecosystem.PYPI, "flask", "", "pkg:pypi/flask", "python-requirements", pinned=False)
    assert pair_changes([], [loose]) == []
