"""Walking below one directory: the same entries as a walk of everything, never through a symlink."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.sources import open_source
from chainwarden.sources.interface import FileSystemView
from chainwarden.sources.rootfs import DirectoryView
from support.images import Content, Symlink, make_oci, make_rootfs

TREE: dict[str, Content] = {
    "manager": b"top",
    "usr/bin/a": b"1",
    "usr/bin/nested/b": b"2",
    "usr/bin/link": Symlink("a"),
    "usr/local/bin/c": b"3",
    "opt/tool/bin/d": b"4",
    "opt/tool/lib/deep/e": b"5",
    "bin": Symlink("usr/bin"),
}
TOPS = ["/", "/usr/bin", "/usr/local/bin", "/opt", "/opt/tool/lib", "/bin", "/missing", "/manager"]


def _paths(view: FileSystemView, top: str, depth: int | None) -> list[str]:
    return sorted(entry.path for entry in view.walk_files(top, depth=depth))


def _views(tmp_path: Path) -> list[FileSystemView]:
    image = make_oci(tmp_path / "img", [TREE])
    with open_source(f"oci:{image}") as source:
        layered = source.view(lambda path: False)
    return [layered, DirectoryView(make_rootfs(tmp_path / "root", TREE))]


@pytest.mark.parametrize("depth", [None, 1, 2])
def test_a_walk_below_a_directory_is_the_slice_of_a_full_walk(tmp_path: Path, depth: int | None) -> None:
    for view in _views(tmp_path):
        for top in TOPS:
            # the generic walk (through every entry) is the reference
            assert _paths(view, top, depth) == sorted(e.path for e in FileSystemView.walk_files(view, top, depth=depth))
    assert _paths(view, "/usr/bin", 1) == ["/usr/bin/a", "/usr/bin/link"]


def test_a_directory_reached_through_a_symlink_is_not_walked(tmp_path: Path) -> None:
    outside = tmp_path / "host"
    (outside / "bin").mkdir(parents=True)
    (outside / "bin" / "evil").write_bytes(b"host file")
    root = make_rootfs(tmp_path / "root", {"usr/bin/a": b"1", "usr/local": Symlink(str(outside))})
    view = DirectoryView(root)
    assert list(view.walk_files("/usr/local/bin")) == []
    assert _paths(view, "/", None) == ["/usr/bin/a", "/usr/local"]
