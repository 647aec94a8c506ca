"""Modification times survive materialisation and hardening.

Python validates ``__pycache__`` bytecode against the source file's mtime: a
rootfs written with fresh mtimes recompiled (and rewrote) every imported
module on each run, and a hardened layer with zeroed mtimes made the new
image recompile its whole standard library at every start.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from chainwarden.api import open_target
from chainwarden.runtime.harden import tar_rootfs
from chainwarden.sources.image import ImageSource
from chainwarden.sources.materialize import copy_rootfs, materialize_layers
from support.images import make_oci

SOURCE_MTIME = 1_700_000_000


def _layer() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, mtime in (
            ("usr/lib/python3.11", tarfile.DIRTYPE, SOURCE_MTIME - 10),
            ("usr/lib/python3.11/os.py", tarfile.REGTYPE, SOURCE_MTIME),
            ("usr/lib/python3.11/alias.py", tarfile.SYMTYPE, SOURCE_MTIME - 5),
            ("usr/lib/python3.11/future.py", tarfile.REGTYPE, 1 << 40),  # hostile: year 36812
        ):
            info = tarfile.TarInfo(name)
            info.type, info.mtime, info.mode = kind, mtime, 0o755 if kind == tarfile.DIRTYPE else 0o644
            data = b"# os\n" if kind == tarfile.REGTYPE else b""
            if kind == tarfile.SYMTYPE:
                info.linkname = "os.py"
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_materialised_files_keep_their_mtimes(tmp_path: Path) -> None:
    image = make_oci(tmp_path / "oci", [_layer()])
    rootfs = tmp_path / "rootfs"
    with open_target(f"oci:{image}") as source:
        assert isinstance(source, ImageSource)
        materialize_layers(source, rootfs, None)
    base = rootfs / "usr/lib/python3.11"
    assert os.lstat(base / "os.py").st_mtime == SOURCE_MTIME
    assert os.lstat(base / "alias.py").st_mtime == SOURCE_MTIME - 5
    assert os.lstat(base).st_mtime == SOURCE_MTIME - 10  # set after its children were written
    assert os.lstat(base / "future.py").st_mtime < 1 << 40  # out of range: left as written

    copy = tmp_path / "copy"
    copy_rootfs(rootfs, copy)
    assert os.lstat(copy / "usr/lib/python3.11/os.py").st_mtime == SOURCE_MTIME
    assert os.lstat(copy / "usr/lib/python3.11").st_mtime == SOURCE_MTIME - 10


def test_hardened_layer_keeps_mtimes_and_stamps_what_it_changed(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "lib").mkdir(parents=True)
    (rootfs / "lib/old.py").write_text("# old\n")
    os.utime(rootfs / "lib/old.py", (SOURCE_MTIME, SOURCE_MTIME))
    changed_since = SOURCE_MTIME + 100
    (rootfs / "lib/status").write_text("rewritten\n")
    os.utime(rootfs / "lib/status", (changed_since + 5, changed_since + 5))
    layer = tmp_path / "layer.tar"
    tar_rootfs(rootfs, layer, changed_since=changed_since, stamp=SOURCE_MTIME - 1)
    with tarfile.open(layer) as archive:
        mtimes = {member.name: member.mtime for member in archive.getmembers()}
    assert mtimes["lib/old.py"] == SOURCE_MTIME
    assert mtimes["lib/status"] == SOURCE_MTIME - 1
