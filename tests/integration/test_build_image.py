"""The image builder's rootfs → layer diffing, end to end through chainwarden's own OCI reader.

Every rootfs here is made in tmp_path; nothing touches the network.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainwarden.sources import open_source
from chainwarden.sources.interface import EntryType, FileSystemView
from chainwarden.sources.oci_writer import ImageSpec, write_oci_layout

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.imagebuild.layerdiff import (
    LayerChanges,
    LayerRecorder,
    PathState,
    diff_snapshots,
    snapshot,
    whiteout_name,
    write_layer,
)

CLAMP = 1_600_000_000


def _write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def _base_rootfs(root: Path) -> None:
    for pseudo in ("proc", "sys", "dev"):
        (root / pseudo).mkdir(parents=True)
    _write(root / "proc/cpuinfo", "must never be packed")
    _write(root / "etc/os-release", 'ID=debian\nVERSION_ID="12"\n')
    _write(root / "usr/bin/tool", "#!/bin/sh\necho tool\n", 0o755)
    os.link(root / "usr/bin/tool", root / "usr/bin/tool-alias")
    (root / "bin").symlink_to("usr/bin")
    (root / "etc/secret").mkdir(mode=0o700)
    (root / "etc/secret").chmod(0o700)
    _write(root / "etc/secret/key", "k", 0o600)
    _write(root / "opt/old/pkg/a.py", "a = 1\n")
    _write(root / "opt/old/pkg/b.py", "b = 2\n")
    _write(root / "opt/becomes-file/child", "x")
    _write(root / "var/lib/dpkg/status", "Package: a\n")
    os.mkfifo(root / "var/fifo")


def _mutate(root: Path) -> None:
    _write(root / "var/lib/dpkg/status", "Package: a\n\nPackage: b\n")  # same path, new content
    (root / "usr/bin/tool").unlink()  # the other hard link survives
    for path in sorted((root / "opt/old").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (root / "opt/old").rmdir()
    (root / "opt/becomes-file/child").unlink()
    (root / "opt/becomes-file").rmdir()
    _write(root / "opt/becomes-file", "now a file")
    (root / "etc/secret").chmod(0o750)  # metadata-only change
    (root / "usr/lib/python3/dist-packages").mkdir(parents=True)
    (root / "usr/lib/python3/dist-packages/link").symlink_to("../../../bin/tool-alias")
    _write(root / "usr/share/doc/über/ünïcode.txt", "non-ascii names survive")


def _view_of(layout: Path) -> FileSystemView:
    with open_source(f"oci:{layout}") as source:
        return source.view(lambda _path: True)


def _disk_entries(root: Path) -> Iterator[tuple[str, EntryType, int, str | None]]:
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir.parts and rel_dir.parts[0] in ("proc", "sys", "dev"):
            dirnames.clear()
            continue
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            absolute = "/" + str(rel_dir / name).removeprefix("./")
            if stat.S_ISLNK(info.st_mode):
                yield absolute, EntryType.SYMLINK, 0, os.readlink(path)
            elif stat.S_ISDIR(info.st_mode):
                yield absolute, EntryType.DIR, stat.S_IMODE(info.st_mode), None
            elif stat.S_ISREG(info.st_mode):
                yield (
                    absolute,
                    EntryType.FILE,
                    stat.S_IMODE(info.st_mode),
                    hashlib.sha256(path.read_bytes()).hexdigest(),
                )


def _view_entries(view: FileSystemView) -> Iterator[tuple[str, EntryType, int, str | None]]:
    for entry in view.entries():
        if entry.path == "/":
            continue
        if entry.type is EntryType.SYMLINK:
            yield entry.path, entry.type, 0, entry.link_target
        elif entry.type is EntryType.DIR:
            yield entry.path, entry.type, entry.mode & 0o7777, None
        elif entry.type is EntryType.FILE:
            yield entry.path, entry.type, entry.mode & 0o7777, hashlib.sha256(view.read(entry.path)).hexdigest()


def _build(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    root = tmp_path / "rootfs"
    root.mkdir()
    recorder = LayerRecorder(root, mtime_clamp=CLAMP)
    _base_rootfs(root)
    layers = [tmp_path / "base.tar"]
    recorder.commit(layers[0])
    _mutate(root)
    layers.append(tmp_path / "change.tar")
    recorder.commit(layers[1])
    layout = tmp_path / "oci"
    write_oci_layout(layout, ImageSpec(layers=list(layers), history=["base", "change"]), tag="test")
    return root, layout, layers


def test_squashed_image_equals_final_rootfs(tmp_path: Path) -> None:
    root, layout, _ = _build(tmp_path)
    view = _view_of(layout)
    assert sorted(_view_entries(view)) == sorted(_disk_entries(root))
    assert view.entry("/opt/old") is None
    assert view.entry("/usr/bin/tool") is None
    assert view.read("/usr/bin/tool-alias") == b"#!/bin/sh\necho tool\n"
    assert view.read("/var/lib/dpkg/status") == b"Package: a\n\nPackage: b\n"
    secret = view.entry("/etc/secret")
    assert secret is not None
    assert secret.mode & 0o777 == 0o750
    # pseudo-filesystem directories ship empty
    assert view.entry("/proc") is not None
    assert view.children("/proc") == []


def test_second_layer_holds_only_changes_and_whiteouts(tmp_path: Path) -> None:
    _, _, layers = _build(tmp_path)
    with tarfile.open(layers[1]) as archive:
        members = {m.name: m for m in archive.getmembers()}
    names = set(members)
    # one whiteout for the deleted tree, none for its children
    assert "opt/.wh.old" in names
    assert not any(name.startswith("opt/old/") for name in names)
    # a directory replaced by a file needs no whiteout below it
    assert "opt/becomes-file" in names
    assert members["opt/becomes-file"].isreg()
    assert not any(".wh." in name for name in names if name.startswith("opt/becomes-file"))
    assert "usr/bin/.wh.tool" in names
    # unchanged files are not repacked
    assert "etc/os-release" not in names
    # unlinking one name changes the inode's ctime: the survivor is repacked whole
    assert members["usr/bin/tool-alias"].isreg()
    assert "etc/secret" in names
    assert "etc/secret/key" not in names
    # parents of every change are carried
    for name in ("usr", "usr/lib", "usr/lib/python3", "usr/share/doc/über"):
        assert name in names, name


def test_layer_tar_is_deterministic_and_clean(tmp_path: Path) -> None:
    _, _, layers = _build(tmp_path)
    with tarfile.open(layers[0]) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert all(m.mtime <= CLAMP for m in members)
    assert all(m.uname == "" and m.gname == "" for m in members)
    assert "proc" in names
    assert "proc/cpuinfo" not in names
    fifo = [m for m in members if m.name == "var/fifo"]
    assert len(fifo) == 1
    assert fifo[0].isfifo()
    # hard links inside one layer are stored once
    links = [m for m in members if m.name == "usr/bin/tool-alias"]
    assert links[0].islnk()
    assert links[0].linkname == "usr/bin/tool"
    again = tmp_path / "again.tar"
    root = tmp_path / "rootfs-again"
    root.mkdir()
    recorder = LayerRecorder(root, mtime_clamp=CLAMP)
    _base_rootfs(root)
    recorder.commit(again)
    with tarfile.open(again) as archive:
        again_members = archive.getmembers()
    assert [(m.name, m.mode, m.size, m.mtime, m.type) for m in again_members] == [
        (m.name, m.mode, m.size, m.mtime, m.type) for m in members
    ]


def test_sockets_and_devices_are_never_packed(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "run").mkdir(parents=True)
    (root / "dev").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "run/daemon.sock"))
        if os.geteuid() == 0:
            os.mknod(root / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            os.mknod(root / "run/sneaky-null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        _write(root / "run/ok", "ok")
        states = snapshot(root)
        assert "run/daemon.sock" not in states
        assert "run/sneaky-null" not in states
        assert "dev/null" not in states
        write_layer(root, diff_snapshots({}, states), tmp_path / "layer.tar", mtime_clamp=CLAMP)
    finally:
        sock.close()
    with tarfile.open(tmp_path / "layer.tar") as archive:
        assert sorted(archive.getnames()) == ["dev", "run", "run/ok"]


def test_unchanged_rootfs_gives_empty_layer(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    _write(root / "etc/hostname", "box\n")
    recorder = LayerRecorder(root, mtime_clamp=CLAMP)
    recorder.mark()
    stats = recorder.commit(tmp_path / "empty.tar")
    assert stats.entries == 0
    assert stats.whiteouts == 0
    with tarfile.open(tmp_path / "empty.tar") as archive:
        assert archive.getnames() == []


def test_forced_owner_and_whiteout_names(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    _write(root / "a/b", "x")
    changes = LayerChanges(changed=("a", "a/b"), deleted=("a/gone", "top"))
    write_layer(root, changes, tmp_path / "l.tar", mtime_clamp=CLAMP, owner=(0, 0))
    with tarfile.open(tmp_path / "l.tar") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == [".wh.top", "a", "a/.wh.gone", "a/b"]
    assert all((m.uid, m.gid) == (0, 0) for m in members)
    assert whiteout_name("usr/lib/foo") == "usr/lib/.wh.foo"
    assert whiteout_name("foo") == ".wh.foo"


@pytest.mark.parametrize(
    ("before_kind", "after_kind"),
    [("dir", "file"), ("dir", "symlink")],
)
def test_replaced_directory_hides_children_without_whiteouts(before_kind: str, after_kind: str) -> None:
    def state(kind: str, inode: int) -> PathState:
        return PathState(kind, 0o755, 0, 0, 0, 0, 0, inode)

    before = {"d": state(before_kind, 1), "d/x": state("file", 2), "d/y/z": state("file", 3), "d/y": state("dir", 4)}
    after = {"d": state(after_kind, 5)}
    changes = diff_snapshots(before, after)
    assert changes.changed == ("d",)
    assert changes.deleted == ()


def _tiny_wheel(directory: Path) -> Path:
    import zipfile

    wheel = directory / "tiny_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tiny_pkg/__init__.py", "VALUE = 1\n")
        archive.writestr("tiny_pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tiny-pkg\nVersion: 1.0\n")
        archive.writestr(
            "tiny_pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr("tiny_pkg-1.0.dist-info/entry_points.txt", "[console_scripts]\ntiny = tiny_pkg:main\n")
        archive.writestr("tiny_pkg-1.0.dist-info/RECORD", "")
        archive.writestr("tiny_pkg-1.0.data/scripts/tiny-sh", "#!python\nprint('hi')\n")
    return wheel


def test_wheel_install_then_uninstall_is_a_whiteout(tmp_path: Path) -> None:
    from tasks.imagebuild import wheels

    root = tmp_path / "rootfs"
    root.mkdir()
    recorder = LayerRecorder(root, mtime_clamp=CLAMP)
    dist_info = wheels.install_wheel(_tiny_wheel(tmp_path), root)
    site = "usr/local/lib/python3.11/dist-packages"
    record = (root / site / dist_info / "RECORD").read_text().splitlines()
    assert "tiny_pkg/__init__.py,sha256=" in "\n".join(record)
    assert any(line.startswith("../../../bin/tiny,") for line in record)
    assert (root / "usr/local/bin/tiny-sh").read_text().startswith("#!/usr/bin/python3.11\n")
    assert (root / site / dist_info / "INSTALLER").read_text() == "chainwarden-build-image\n"
    recorder.commit(tmp_path / "install.tar")
    removed = wheels.uninstall(root, "Tiny.Pkg")
    assert f"{site}/tiny_pkg/__init__.py" in removed
    recorder.commit(tmp_path / "remove.tar")
    with tarfile.open(tmp_path / "remove.tar") as archive:
        names = set(archive.getnames())
    assert f"{site}/.wh.{dist_info}" in names
    assert f"{site}/.wh.tiny_pkg" in names
    assert "usr/local/bin/.wh.tiny" in names
    layout = tmp_path / "oci"
    write_oci_layout(layout, ImageSpec(layers=[tmp_path / "install.tar", tmp_path / "remove.tar"]))
    view = _view_of(layout)
    assert view.entry(f"/{site}/{dist_info}") is None
    assert view.entry("/usr/local/bin/tiny") is None
    assert view.entry(f"/{site}") is not None


def test_uninstall_of_missing_package_fails(tmp_path: Path) -> None:
    from tasks.imagebuild import wheels

    with pytest.raises(wheels.WheelError, match="not installed"):
        wheels.uninstall(tmp_path, "absent")


def test_unsafe_wheel_member_is_refused(tmp_path: Path) -> None:
    import zipfile

    from tasks.imagebuild import wheels

    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("evil-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        archive.writestr("../../etc/passwd", "owned")
    with pytest.raises(wheels.WheelError, match="escapes"):
        wheels.install_wheel(wheel, tmp_path / "rootfs")
    assert not (tmp_path / "etc/passwd").exists()
