"""Fetch wheels from PyPI and install them into a rootfs as pip would.

Wheels are picked for the *image's* interpreter (CPython 3.11, glibc 2.36,
x86_64), not the host's, using PyPI's JSON API and ``packaging.tags``; every
download is checked against PyPI's sha256. Installation follows the binary
distribution format spec: ``.data/`` scheme directories, console scripts from
``entry_points.txt``, and a RECORD rewritten with the installed paths, hashes
and sizes, plus INSTALLER and REQUESTED.
"""

from __future__ import annotations

import base64
import configparser
import csv
import hashlib
import io
import posixpath
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

PYPI = "https://pypi.org/pypi"
#: bookworm's glibc is 2.36: every manylinux_2_N with N ≤ 36 runs there.
GLIBC_MINOR = 36
INSTALLER_NAME = "chainwarden-build-image"


class WheelError(RuntimeError):
    """A wheel could not be found, downloaded or installed."""


@dataclass(frozen=True, slots=True)
class Interpreter:
    """The image's Python: where its packages go and what its shebang is."""

    version: tuple[int, int] = (3, 11)
    prefix: str = "/usr/local"
    site: str = "/usr/local/lib/python3.11/dist-packages"  # Debian's pip location
    executable: str = "/usr/bin/python3.11"

    def tags(self) -> list[Tag]:
        platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_MINOR, 4, -1)]
        platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
        abi = f"cp{self.version[0]}{self.version[1]}"
        return [
            *cpython_tags(self.version, [abi, "abi3", "none"], platforms),
            *compatible_tags(self.version, abi, platforms),
        ]


def _best_wheel(files: list[dict[str, object]], interpreter: Interpreter) -> dict[str, object] | None:
    priority = {tag: rank for rank, tag in enumerate(interpreter.tags())}
    best: tuple[int, dict[str, object]] | None = None
    for item in files:
        filename = str(item.get("filename", ""))
        if item.get("packagetype") != "bdist_wheel" or item.get("yanked"):
            continue
        _, _, _, tags = parse_wheel_filename(filename)
        ranks = [priority[tag] for tag in tags if tag in priority]
        if ranks and (best is None or min(ranks) < best[0]):
            best = (min(ranks), item)
    return best[1] if best else None


def fetch_wheels(pins: list[str], cache: Path, interpreter: Interpreter | None = None) -> list[Path]:
    """One wheel per ``name==version`` pin, downloaded once into ``cache``."""
    interpreter = interpreter or Interpreter()
    cache.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    with httpx.Client(timeout=60.0, follow_redirects=True) as client:
        for pin in pins:
            name, _, version = pin.partition("==")
            if not version:
                raise WheelError(f"{pin}: the image builder needs exact pins (name==version)")
            wanted = canonicalize_name(name)
            for existing in sorted(cache.glob("*.whl")):
                dist, found_version, _, _ = parse_wheel_filename(existing.name)
                if dist == wanted and str(found_version) == version:
                    paths.append(existing)
                    break
            else:
                paths.append(_download(client, name, version, cache, interpreter))
    return paths


def _download(client: httpx.Client, name: str, version: str, cache: Path, interpreter: Interpreter) -> Path:
    # The project document, not /{name}/{version}/json: some PyPI mirrors serve only the former.
    response = client.get(f"{PYPI}/{name}/json")
    if response.status_code != 200:
        raise WheelError(f"{name}: PyPI answered {response.status_code}")
    releases = response.json().get("releases", {})
    if version not in releases:
        raise WheelError(f"{name}=={version}: no such release on PyPI")
    chosen = _best_wheel(releases[version], interpreter)
    if chosen is None:
        raise WheelError(f"{name}=={version}: no wheel for CPython {interpreter.version} on manylinux x86_64")
    # Mirrors may give file URLs relative to the JSON document.
    download = client.get(response.url.join(str(chosen["url"])))
    if download.status_code != 200:
        raise WheelError(f"{chosen['filename']}: download answered {download.status_code}")
    body = download.content
    expected = dict(chosen.get("digests") or {}).get("sha256")  # type: ignore[call-overload]
    if hashlib.sha256(body).hexdigest() != expected:
        raise WheelError(f"{chosen['filename']}: sha256 does not match PyPI's")
    dest = cache / str(chosen["filename"])
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(body)
    tmp.replace(dest)
    return dest


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _safe_member(name: str) -> str:
    normalized = posixpath.normpath(name)
    if normalized.startswith(("/", "../")) or normalized == "..":
        raise WheelError(f"wheel member {name!r} escapes the install root")
    return normalized


def _script(interpreter: Interpreter, module: str, func: str) -> bytes:
    # pip's launcher template (pip/_internal/operations/install/wheel.py)
    import_name = func.split(".", maxsplit=1)[0]
    return (
        f"#!{interpreter.executable}\n"
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n"
        f"from {module} import {import_name}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({func}())\n"
    ).encode()


def install_wheel(wheel: Path, root: Path, interpreter: Interpreter | None = None) -> str:
    """Install ``wheel`` under ``root``; returns the dist-info directory name."""
    interpreter = interpreter or Interpreter()
    site = interpreter.site.lstrip("/")
    prefix = interpreter.prefix.lstrip("/")
    dist, _, _, _ = parse_wheel_filename(wheel.name)
    installed: dict[str, bytes] = {}  # path relative to root → content (for RECORD)
    modes: dict[str, int] = {}
    with zipfile.ZipFile(wheel) as archive:
        names = [info for info in archive.infolist() if not info.is_dir()]
        dist_info = next(
            (n.filename.split("/")[0] for n in names if n.filename.endswith(".dist-info/WHEEL")),
            None,
        )
        if dist_info is None:
            raise WheelError(f"{wheel.name}: no .dist-info/WHEEL inside")
        data_dir = dist_info.removesuffix(".dist-info") + ".data"
        for info in names:
            member = _safe_member(info.filename)
            body = archive.read(info)
            mode = (info.external_attr >> 16) & 0o777 or 0o644
            if member.startswith(data_dir + "/"):
                _, scheme, rest = member.split("/", 2)
                if scheme in ("purelib", "platlib"):
                    target = f"{site}/{rest}"
                elif scheme == "scripts":
                    target = f"{prefix}/bin/{rest}"
                    if body.startswith(b"#!python"):
                        body = f"#!{interpreter.executable}".encode() + body[len(b"#!python") :]
                    mode = 0o755
                elif scheme == "headers":
                    target = f"{prefix}/include/python{interpreter.version[0]}.{interpreter.version[1]}/{dist}/{rest}"
                else:
                    target = f"{prefix}/{rest}"
            elif member == f"{dist_info}/RECORD":
                continue
            else:
                target = f"{site}/{member}"
            installed[target] = body
            modes[target] = mode
        entry_points = f"{dist_info}/entry_points.txt"
        if entry_points in archive.namelist():
            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(archive.read(entry_points).decode())
            if parser.has_section("console_scripts"):
                for script, spec in parser.items("console_scripts"):
                    module, _, func = spec.replace(" ", "").partition(":")
                    target = f"{prefix}/bin/{script}"
                    installed[target] = _script(interpreter, module, func)
                    modes[target] = 0o755
    installed[f"{site}/{dist_info}/INSTALLER"] = f"{INSTALLER_NAME}\n".encode()
    installed[f"{site}/{dist_info}/REQUESTED"] = b""
    for target, body in installed.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        path.chmod(modes.get(target, 0o644))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for target, body in sorted(installed.items()):
        writer.writerow([posixpath.relpath(target, site), _record_hash(body), len(body)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    (root / site / dist_info / "RECORD").write_text(record.getvalue())
    return dist_info


def uninstall(root: Path, dist_name: str, interpreter: Interpreter | None = None) -> list[str]:
    """``pip uninstall``: remove every file RECORD lists, then empty directories."""
    interpreter = interpreter or Interpreter()
    site = root / interpreter.site.lstrip("/")
    wanted = canonicalize_name(dist_name)
    for dist_info in sorted(site.glob("*.dist-info")):
        if canonicalize_name(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]) != wanted:
            continue
        removed = []
        with (dist_info / "RECORD").open(newline="") as handle:
            for row in csv.reader(handle):
                path = (site / row[0]).resolve()
                if path.is_relative_to(root.resolve()) and (path.is_file() or path.is_symlink()):
                    path.unlink()
                    removed.append(str(path.relative_to(root.resolve())))
        parents = {(root / p).parent for p in removed}
        for parent in sorted(parents, key=lambda p: -len(p.parts)):
            directory = parent
            # like pip: prune emptied package directories, never bin/ or the site itself
            while directory.is_relative_to(site) and directory != site and not any(directory.iterdir()):
                directory.rmdir()
                directory = directory.parent
        shutil.rmtree(dist_info, ignore_errors=True)
        return removed
    raise WheelError(f"{dist_name}: not installed in {interpreter.site}")


__all__ = ["Interpreter", "WheelError", "fetch_wheels", "install_wheel", "uninstall"]
