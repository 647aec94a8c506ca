"""In-use prioritisation from a runtime profile, with a hand-written profile of the documented schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainwarden.models import Digest, Ecosystem, Finding, Inventory, Location, Package, RuleId, Severity, TargetInfo
from chainwarden.runtime.interface import ProfileError
from chainwarden.runtime.profile import Profile, load_profile, validate_profile
from chainwarden.vulndb import (
    InUse,
    ProfileIndex,
    ScanResult,
    import_osv,
    in_use_of,
    is_in_use,
    match_inventory,
    open_database,
    prioritise,
    tag_in_use,
)

DIGEST = Digest("sha256:" + "a" * 64)


def package(ecosystem: Ecosystem, name: str, version: str, *, location: str, files: tuple[str, ...] = ()) -> Package:
    return Package(
        ecosystem=ecosystem,
        name=name,
        version=version,
        purl=f"pkg:{ecosystem.value}/{name}@{version}",
        found_by="test",
        locations=(Location(location),),
        files=files,
    )


CURL = package(Ecosystem.PYPI, "curlish", "1.0", location="/srv/venv/lib/curlish-1.0.dist-info/METADATA")
TOOL = package(Ecosystem.PYPI, "tool", "1.0", location="/srv/venv/lib/tool-1.0.dist-info/METADATA")
DATA = package(Ecosystem.PYPI, "certs", "1.0", location="/srv/venv/lib/certs-1.0.dist-info/METADATA")
IDLE = package(Ecosystem.PYPI, "idle", "1.0", location="/srv/venv/lib/idle-1.0.dist-info/METADATA")
GHOST = package(Ecosystem.PYPI, "ghost", "1.0", location="/srv/venv/lib/ghost-1.0.dist-info/METADATA")
# one release in two virtualenvs: only the copy in /srv/a was imported
COPY_A = package(
    Ecosystem.PYPI, "twin", "1.0", location="/srv/a/lib/twin-1.0.dist-info/METADATA", files=("/srv/a/lib/twin.py",)
)
COPY_B = package(
    Ecosystem.PYPI, "twin", "1.0", location="/srv/b/lib/twin-1.0.dist-info/METADATA", files=("/srv/b/lib/twin.py",)
)
PACKAGES = (CURL, TOOL, DATA, IDLE, GHOST, COPY_A, COPY_B)


def profile_package(pkg: Package, status: str, files: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "purl": pkg.purl,
        "name": pkg.name,
        "version": pkg.version,
        "ecosystem": pkg.ecosystem.value,
        "status": status,
        "files": files,
    }


def profile_document(digest: str | None = DIGEST) -> dict[str, Any]:
    """A profile as ``chainwarden profile`` writes it (docs/profile-schema.md), written by hand."""
    return {
        "format": "chainwarden-profile/1",
        "target": {"reference": "oci:app", "kind": "oci", "digest": digest, "config_digest": None},
        "net": "none",
        "probes": [
            {
                "name": "probe-1",
                "spec": {"kind": "command", "command": ["tool"], "requests": [], "port": None},
                "argv": ["/srv/venv/bin/tool"],
                "exit_code": 0,
                "signal": None,
                "timed_out": False,
                "stdout_sha256": "sha256:" + "0" * 64,
                "stderr_sha256": "sha256:" + "0" * 64,
            }
        ],
        "programs": [{"pid": 2, "path": "/srv/venv/bin/tool", "resolved": "/srv/venv/bin/tool", "argv": ["tool"]}],
        "files": [{"path": "/srv/venv/bin/tool", "access": ["executed"], "aliases": [], "missing": False}],
        "network": [],
        "processes": [
            {"pid": 2, "parent": None, "probe": "probe-1", "exe": "/srv/venv/bin/tool", "argv": ["tool"]}
            | {"exit_code": 0, "signal": None}
        ],
        "packages": [
            profile_package(
                TOOL, "executed", {"executed": ["/srv/venv/bin/tool"], "loaded": ["/srv/venv/lib/tool.py"]}
            ),
            profile_package(CURL, "loaded", {"loaded": ["/srv/venv/lib/curlish/__init__.py"]}),
            profile_package(DATA, "read", {"read": ["/srv/venv/lib/certs/cacert.pem"]}),
            profile_package(IDLE, "unused", {}),
            profile_package(COPY_A, "loaded", {"loaded": ["/srv/a/lib/twin.py"]}),
            profile_package(COPY_B, "unused", {}),
        ],
        "summary": {"pypi": {"total": 6, "used": 4}},
        "image_files": {},
        "notes": [],
    }


def write_profile(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def result(tmp_path: Path) -> ScanResult:
    advisories = tmp_path / "advisories"
    advisories.mkdir()
    for index, pkg in enumerate(PACKAGES):
        if pkg is COPY_B:
            continue  # same name as COPY_A
        record = {
            "id": f"PYSEC-2024-{index}",
            "modified": "2024-01-01T00:00:00Z",
            "aliases": [f"CVE-2024-{1000 + index}"],
            "summary": f"{pkg.name} is vulnerable",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": pkg.name},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
                }
            ],
            # the executed package gets the mildest severity: in-use order must beat severity
            "database_specific": {"severity": "LOW" if pkg is TOOL else "CRITICAL"},
        }
        (advisories / f"{record['id']}.json").write_text(json.dumps(record))
    db = tmp_path / "osv.sqlite3"
    import_osv([advisories], db)
    inventory = Inventory(TargetInfo("oci", "oci:app", digest=DIGEST), PACKAGES)
    with open_database(db) as database:
        return match_inventory(inventory, database)


def test_hand_written_profile_is_valid() -> None:
    validate_profile(profile_document())  # the schema that harden/drift/watch enforce


def test_levels_tags_and_order(result: ScanResult, tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, profile_document()))
    prioritised = prioritise(result, profile, target=TargetInfo("oci", "oci:app", digest=DIGEST))
    levels = [
        (m.package.name, m.package.locations[0].path.split("/")[2], in_use_of(m.finding)) for m in prioritised.matches
    ]
    assert levels == [
        ("tool", "venv", InUse.EXECUTED),  # low severity, yet first: it ran
        ("curlish", "venv", InUse.LOADED),
        ("twin", "a", InUse.LOADED),  # the copy that was imported
        ("certs", "venv", InUse.READ),
        ("ghost", "venv", InUse.UNKNOWN),  # not in the profile's package view
        ("idle", "venv", InUse.NOT_OBSERVED),
        ("twin", "b", InUse.NOT_OBSERVED),  # the other copy of the same purl
    ]
    tool = prioritised.matches[0].finding
    assert "in-use:executed" in tool.tags
    assert tool.evidence[0] == "in use: executed /srv/venv/bin/tool"
    twin_b = prioritised.matches[-1].finding
    assert twin_b.evidence[0].startswith("in use: not observed")
    assert "another copy of this release was used" in twin_b.evidence[0]
    assert [is_in_use(m.finding) for m in prioritised.matches] == [True] * 5 + [False] * 2
    extra = prioritised.extra()
    assert extra["in_use"]["counts"] == {"executed": 1, "loaded": 2, "read": 1, "unknown": 1, "not-observed": 2}
    assert any("does not list" in warning for warning in prioritised.warnings)
    # the unprioritised result is untouched, and has no in-use section
    assert all(in_use_of(m.finding) is None for m in result.matches)
    assert "in_use" not in result.extra()


def test_prioritising_twice_keeps_one_level(result: ScanResult, tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, profile_document()))
    twice = prioritise(prioritise(result, profile), profile)
    for match in twice.matches:
        assert sum(tag.startswith("in-use:") for tag in match.finding.tags) == 1
        assert sum(item.startswith("in use: ") for item in match.finding.evidence) == 1


def test_profile_of_another_image_warns(result: ScanResult, tmp_path: Path) -> None:
    profile = Profile.from_json(profile_document(digest="sha256:" + "b" * 64))
    prioritised = prioritise(result, profile, target=TargetInfo("oci", "oci:app", digest=DIGEST), profile_name="p.json")
    assert any(w.startswith("p.json was recorded for sha256:bbbb") for w in prioritised.warnings)


def test_profile_without_package_view_marks_everything_unknown(result: ScanResult) -> None:
    document = profile_document()
    document["packages"] = []
    prioritised = prioritise(result, Profile.from_json(document))
    assert {in_use_of(m.finding) for m in prioritised.matches} == {InUse.UNKNOWN}
    assert any("no package view" in warning for warning in prioritised.warnings)
    assert all(is_in_use(m.finding) for m in prioritised.matches)  # unknown is never waved through


def test_merged_usr_paths_and_node_module_directories() -> None:
    deb = Package(
        Ecosystem.DEBIAN, "coreutils", "9.1-1", "pkg:deb/debian/coreutils@9.1-1", "dpkg-status",
        locations=(Location("/var/lib/dpkg/status"),), files=("/bin/ls",),
    )  # fmt: skip
    other = Package(
        Ecosystem.DEBIAN, "coreutils", "9.1-1", "pkg:deb/debian/coreutils@9.1-1", "dpkg-status",
        locations=(Location("/other/var/lib/dpkg/status"),), files=("/other/bin/ls",),
    )  # fmt: skip
    module = package(Ecosystem.NPM, "left-pad", "1.3.0", location="/app/node_modules/left-pad/package.json")
    twin = package(Ecosystem.NPM, "left-pad", "1.3.0", location="/lib/node_modules/left-pad/package.json")
    index = ProfileIndex.from_profile(
        Profile.from_json(
            profile_document()
            | {
                "packages": [
                    profile_package(deb, "executed", {"executed": ["/usr/bin/ls"]}),  # merged-/usr real path
                    profile_package(other, "unused", {}),
                    profile_package(module, "loaded", {"loaded": ["/app/node_modules/left-pad/index.js"]}),
                    profile_package(twin, "unused", {}),
                ]
            }
        )
    )
    assert index.use_of(deb).level is InUse.EXECUTED
    assert index.use_of(other).level is InUse.NOT_OBSERVED
    assert index.use_of(module).level is InUse.LOADED
    assert index.use_of(twin).level is InUse.NOT_OBSERVED


def test_ambiguous_copies_take_the_strongest_use() -> None:
    first = package(Ecosystem.PYPI, "lib", "1.0", location="/x/lib-1.0.dist-info/METADATA")
    second = package(Ecosystem.PYPI, "lib", "1.0", location="/y/lib-1.0.dist-info/METADATA")
    index = ProfileIndex(
        Profile.from_json(
            profile_document()
            | {
                "packages": [
                    profile_package(first, "read", {"read": ["/z/elsewhere"]}),
                    profile_package(second, "loaded", {"loaded": ["/z/other.py"]}),
                ]
            }
        ).packages
    )
    verdict = index.use_of(first)
    assert verdict.level is InUse.LOADED  # cannot tell which copy: never under-rate
    assert "2 copies" in verdict.note


def test_findings_of_any_analyzer_can_be_tagged() -> None:
    loose = Finding(RuleId("dockerfile-unpinned-base"), Severity.LOW, "no package")
    malicious = Finding(RuleId("malicious-code"), Severity.CRITICAL, "install hook", package=IDLE)
    index = ProfileIndex.from_profile(Profile.from_json(profile_document()))
    tagged = tag_in_use([loose, malicious], index)
    assert tagged[0] is loose
    assert in_use_of(tagged[1]) is InUse.NOT_OBSERVED


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a JSON profile"),
        (json.dumps({"format": "chainwarden-profile/1"}), "invalid profile"),
        (json.dumps(profile_document() | {"packages": [{"purl": 1}]}), "invalid profile at packages/0"),
        (json.dumps([1, 2, 3]), "invalid profile"),
    ],
)
def test_malformed_profiles_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message) as caught:
        load_profile(path)
    assert "\n" not in str(caught.value)
