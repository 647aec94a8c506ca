"""Build small layers, images and rootfs trees in code.

A layer is described as a mapping path → content:
``bytes``/``str`` (regular file), ``Symlink(target)``, ``Dir()``,
``Whiteout()`` (written as ``.wh.NAME``), ``Opaque()`` (the directory's
``.wh..wh..opq``), ``Hardlink(target)``, ``Device()``.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chainwarden.sources.oci_writer import ImageSpec, write_docker_archive, write_oci_layout


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Hardlink:
    target: str


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755


@dataclass(frozen=True)
class Whiteout:
    pass


@dataclass(frozen=True)
class Opaque:
    pass


@dataclass(frozen=True)
class Device:
    pass


Content = bytes | str | Symlink | Hardlink | Dir | Whiteout | Opaque | Device


def tar_layer(files: Mapping[str, Content], *, raw_names: bool = False) -> bytes:
    """An uncompressed tar. ``raw_names`` keeps names verbatim (for hostile tests)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, spec in files.items():
            arcname = name if raw_names else name.lstrip("/")
            content = spec
            if isinstance(content, Whiteout):
                head, _, tail = arcname.rpartition("/")
                arcname = f"{head}/.wh.{tail}" if head else f".wh.{tail}"
                content = b""
            elif isinstance(content, Opaque):
                arcname = arcname.rstrip("/") + "/.wh..wh..opq"
                content = b""
            info = tarfile.TarInfo(arcname)
            info.mtime = 0
            if isinstance(content, Symlink):
                info.type = tarfile.SYMTYPE
                info.linkname = content.target
                archive.addfile(info)
            elif isinstance(content, Hardlink):
                info.type = tarfile.LNKTYPE
                info.linkname = content.target
                archive.addfile(info)
            elif isinstance(content, Dir):
                info.type = tarfile.DIRTYPE
                info.mode = content.mode
                archive.addfile(info)
            elif isinstance(content, Device):
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
                archive.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size = len(data)
                info.mode = 0o755 if "/bin/" in name else 0o644
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_oci(
    dest: Path,
    layers: Sequence[Mapping[str, Content] | bytes],
    *,
    config: dict[str, object] | None = None,
    tag: str | None = "latest",
    compression: str | None = "gzip",
    history: Sequence[str] = (),
    created: str | None = None,
) -> Path:
    blobs = [layer if isinstance(layer, bytes) else tar_layer(layer) for layer in layers]
    spec = ImageSpec(blobs, dict(config or {}), history=history)
    if created is not None:
        spec = ImageSpec(blobs, dict(config or {}), history=history, created=created)
    write_oci_layout(dest, spec, tag=tag, compression=compression)
    return dest


def make_docker_archive(dest: Path, layers: Sequence[Mapping[str, Content] | bytes]) -> Path:
    blobs = [layer if isinstance(layer, bytes) else tar_layer(layer) for layer in layers]
    write_docker_archive(dest, ImageSpec(blobs))
    return dest


def make_rootfs(root: Path, files: Mapping[str, Content]) -> Path:
    for name, content in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Symlink):
            path.symlink_to(content.target)
        elif isinstance(content, Dir):
            path.mkdir(exist_ok=True)
        elif isinstance(content, bytes | str):
            path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


# -- realistic package metadata -------------------------------------------------


def dpkg_status_entry(
    name: str, version: str, *, arch: str = "amd64", source: str | None = None, status: str = "install ok installed"
) -> str:
    lines = [f"Package: {name}", f"Status: {status}", "Priority: optional", f"Architecture: {arch}"]
    if source:
        lines.append(f"Source: {source}")
    lines += [f"Version: {version}", "Maintainer: Test <test@example.invalid>", f"Description: {name} test package"]
    return "\n".join(lines) + "\n"


def dist_info(
    name: str,
    version: str,
    files: Sequence[str] = (),
    *,
    site: str = "/usr/lib/python3/dist-packages",
    license_: str = "MIT",
) -> dict[str, Content]:
    """A ``*.dist-info`` directory plus the files its RECORD lists."""
    base = f"{site}/{name.replace('-', '_')}-{version}.dist-info"
    record_lines = [
        f"{name.replace('-', '_')}-{version}.dist-info/METADATA,,",
        f"{name.replace('-', '_')}-{version}.dist-info/RECORD,,",
    ]
    tree: dict[str, Content] = {
        f"{base}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: {license_}\n",
        f"{base}/INSTALLER": "pip\n",
    }
    for rel in files:
        tree[f"{site}/{rel}"] = f"# {rel}\n"
        record_lines.append(f"{rel},sha256=x,1")
    tree[f"{base}/RECORD"] = "\n".join(record_lines) + "\n"
    return tree


def npm_package(
    root: str, name: str, version: str, files: Sequence[str] = ("index.js",), extra: str = ""
) -> dict[str, Content]:
    base = f"{root}/node_modules/{name}"
    tree: dict[str, Content] = {
        f"{base}/package.json": f'{{"name": "{name}", "version": "{version}", "license": "MIT"{extra}}}',
    }
    for rel in files:
        tree[f"{base}/{rel}"] = "module.exports = 1;\n"
    return tree
