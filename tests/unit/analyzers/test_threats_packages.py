"""Opening package artifacts safely: wheels, sdists, npm tarballs, directories, hostile archives."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Literal

import pytest

from chainwarden.analyzers.packages import PackageOpenError, open_artifact, parse_spec
from chainwarden.errors import HostileArchiveError, SourceError, UsageError
from chainwarden.models import Ecosystem


def make_tgz(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(body))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def test_npm_tarball_identity_and_root_stripped(tmp_path: Path) -> None:
    tgz = make_tgz(
        tmp_path / "left-pad-1.3.0.tgz",
        {"package/package.json": b'{"name": "left-pad", "version": "1.3.0"}', "package/index.js": b"module.exports=1"},
    )
    artifact = open_artifact(tgz)
    assert (artifact.ecosystem, artifact.name, artifact.version, artifact.kind) == (
        Ecosystem.NPM,
        "left-pad",
        "1.3.0",
        "npm-tarball",
    )
    assert {f.path for f in artifact.files} == {"package.json", "index.js"}


def test_sdist_identity_from_pkg_info(tmp_path: Path) -> None:
    tgz = make_tgz(
        tmp_path / "Demo_Pkg-2.0.tar.gz",
        {
            "Demo_Pkg-2.0/PKG-INFO": b"Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 2.0\n",
            "Demo_Pkg-2.0/setup.py": b"",
        },
    )
    artifact = open_artifact(tgz)
    assert (artifact.ecosystem, artifact.name, artifact.version, artifact.kind) == (
        Ecosystem.PYPI,
        "demo-pkg",
        "2.0",
        "sdist",
    )


def test_wheel_keeps_heads_of_binaries(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "x = 1\n")
        archive.writestr("demo/blob.bin", b"\x7fELF" + b"\x00" * 5000)
        archive.writestr("demo-1.0.dist-info/METADATA", "Name: demo\nVersion: 1.0\n")
    artifact = open_artifact(wheel)
    assert artifact.kind == "wheel" and artifact.name == "demo" and artifact.version == "1.0"
    blob = artifact.file("demo/blob.bin")
    assert blob is not None and not blob.complete and len(blob.data) == 64 and blob.size == 5004


def test_tar_escape_is_refused(tmp_path: Path) -> None:
    tgz = make_tgz(tmp_path / "evil-1.0.tgz", {"package/../../etc/passwd": b"root"})
    with pytest.raises(HostileArchiveError, match="escapes the root"):
        open_artifact(tgz)


def test_tar_symlink_is_recorded_never_followed(tmp_path: Path) -> None:
    tgz = make_tgz(
        tmp_path / "x-1.0.tgz",
        {"package/package.json": b'{"name":"x","version":"1.0.0"}'},
        symlinks={"package/link": "../../../../etc/shadow"},
    )
    with pytest.raises(HostileArchiveError, match="points outside"):
        open_artifact(tgz)
    tgz_inside = make_tgz(
        tmp_path / "y-1.0.tgz",
        {"package/package.json": b'{"name":"y","version":"1.0.0"}'},
        symlinks={"package/l": "package.json"},
    )
    artifact = open_artifact(tgz_inside)
    assert artifact.links and all(f.path != "l" for f in artifact.files)


def test_zip_absolute_and_escape_members_are_refused(tmp_path: Path) -> None:
    for index, name in enumerate(("/etc/passwd", "a/../../x")):
        bad = tmp_path / f"bad{index}.zip"
        with zipfile.ZipFile(bad, "w") as archive:
            archive.writestr(name, "x")
        with pytest.raises(HostileArchiveError):
            open_artifact(bad)


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb-1.0-py3-none-any.whl"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/data.txt", b"\x00" * (17 * 1024 * 1024))
    with pytest.raises(HostileArchiveError, match="zip bomb"):
        open_artifact(bomb)


@pytest.mark.parametrize(
    ("name", "content"),
    [("broken.tgz", b"\x1f\x8b\x08\x00garbage"), ("broken.whl", b"PK\x03\x04nope"), ("empty.tar.gz", b"")],
)
def test_corrupt_archives_are_one_line_errors(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError) as info:
        open_artifact(path)
    assert "\n" not in info.value.diagnostics()
    assert name in info.value.diagnostics()


def test_directory_does_not_follow_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    outside = tmp_path / "secret.py"
    outside.write_text("exec(1)\n")
    os.symlink(outside, root / "link.py")
    artifact = open_artifact(root)
    assert [f.path for f in artifact.files] == ["setup.py"]
    assert artifact.links and artifact.links[0].startswith("link.py -> ")


def test_unknown_file_kind_and_missing_path(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(PackageOpenError, match="not a package archive"):
        open_artifact(other)
    with pytest.raises(PackageOpenError, match="no such file"):
        open_artifact(tmp_path / "missing.whl")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pypi:Requests", (Ecosystem.PYPI, "requests", None)),
        ("pypi:zope.interface==5.0", (Ecosystem.PYPI, "zope-interface", "5.0")),
        ("npm:lodash@4.17.21", (Ecosystem.NPM, "lodash", "4.17.21")),
        ("npm:@babel/core@7.0.0", (Ecosystem.NPM, "@babel/core", "7.0.0")),
        ("npm:@types/node", (Ecosystem.NPM, "@types/node", None)),
        ("./dist/x.whl", None),
    ],
)
def test_parse_spec(text: str, expected: tuple[Ecosystem, str, str | None] | None) -> None:
    spec = parse_spec(text)
    assert (None if spec is None else (spec.ecosystem, spec.name, spec.version)) == expected


@pytest.mark.parametrize("text", ["pypi:", "pypi:../etc", "npm:@scope", "npm:"])
def test_parse_spec_rejects_bad_names(text: str) -> None:
    with pytest.raises(UsageError):
        parse_spec(text)


def test_archive_type_comes_from_bytes_not_name(tmp_path: Path) -> None:
    # real malware publishes wheels under a .tar.gz name (pypi_malregistry: asciicolor-4.2-py3-none-any.tar.gz)
    disguised = tmp_path / "demo-1.0-py3-none-any.tar.gz"
    with zipfile.ZipFile(disguised, "w") as archive:
        archive.writestr("demo/__init__.py", "x = 1\n")
        archive.writestr("demo-1.0.dist-info/METADATA", "Name: demo\nVersion: 1.0\n")
        archive.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    artifact = open_artifact(disguised)
    assert (artifact.kind, artifact.name, artifact.version) == ("wheel", "demo", "1.0")
    sdist_as_zip = tmp_path / "other-2.0.tgz"
    with zipfile.ZipFile(sdist_as_zip, "w") as archive:
        archive.writestr("other-2.0/PKG-INFO", "Name: other\nVersion: 2.0\n")
    assert open_artifact(sdist_as_zip).kind == "sdist"
    plain = make_tgz(tmp_path / "x.tgz", {"plain-1.0/setup.py": b"setup()\n"})
    renamed = tmp_path / "plain-1.0.zip"
    renamed.write_bytes(gzip.decompress(plain.read_bytes()))  # an uncompressed tar named .zip
    assert [f.path for f in open_artifact(renamed).files] == ["setup.py"]


@pytest.mark.parametrize("compression", ["bz2", "xz"])
def test_bzip2_and_xz_sdists_are_read(tmp_path: Path, compression: Literal["bz2", "xz"]) -> None:
    path = tmp_path / f"old-1.0.tar.{compression}"
    with tarfile.open(path, "w:bz2" if compression == "bz2" else "w:xz") as archive:
        body = b"Name: old\nVersion: 1.0\n"
        info = tarfile.TarInfo("old-1.0/PKG-INFO")
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))
    artifact = open_artifact(path)
    assert (artifact.name, artifact.version, [f.path for f in artifact.files]) == ("old", "1.0", ["PKG-INFO"])
    broken = tmp_path / f"broken.tar.{compression}"
    broken.write_bytes(path.read_bytes()[:20])
    with pytest.raises(PackageOpenError, match="broken"):
        open_artifact(broken)
