"""Install npm packages into a rootfs: with the host's npm, or straight from the registry.

The registry path is for machines without npm (a fresh Debian): it installs an
exactly pinned, already complete set (transitive dependencies listed too) flat
under ``node_modules``, verifying each tarball's ``dist.integrity``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import posixpath
import shutil
import subprocess
import tarfile
from pathlib import Path

import httpx

REGISTRY = "https://registry.npmjs.org"


class NpmError(RuntimeError):
    """A package could not be fetched or installed."""


def _split_spec(spec: str) -> tuple[str, str]:
    name, _, version = spec.rpartition("@")
    if not name or not version:
        raise NpmError(f"{spec}: the image builder needs exact pins (name@version)")
    return name, version


def npm_install(app_dir: Path, specs: list[str], cache: Path, *, pinned_closure: list[str]) -> str:
    """Install ``specs`` into ``app_dir``; returns the method used ("npm" or "registry").

    ``pinned_closure`` is the full set (``specs`` plus their dependencies) used
    when the host has no npm.
    """
    app_dir.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is not None:
        env = {**os.environ, "npm_config_update_notifier": "false"}
        result = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(app_dir),
                "--cache",
                str(cache),
                "--prefer-offline",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--save-exact",
                "--loglevel=error",
                *specs,
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if result.returncode != 0:
            raise NpmError(f"npm install {' '.join(specs)}: exit {result.returncode}: {result.stderr[-1000:]}")
        return "npm"
    install_from_registry(app_dir, pinned_closure, cache, direct=specs)
    return "registry"


def _fetch_tarball(client: httpx.Client, name: str, version: str, cache: Path) -> bytes:
    cached = cache / "tarballs" / f"{name.replace('/', '+')}-{version}.tgz"
    if cached.is_file():
        return cached.read_bytes()
    meta = client.get(f"{REGISTRY}/{name}/{version}")
    if meta.status_code != 200:
        raise NpmError(f"{name}@{version}: registry answered {meta.status_code}")
    dist = meta.json()["dist"]
    body = client.get(dist["tarball"]).content
    algorithm, _, expected = str(dist.get("integrity", "")).partition("-")
    if algorithm not in ("sha512", "sha256") or base64.b64decode(expected) != hashlib.new(algorithm, body).digest():
        raise NpmError(f"{name}@{version}: tarball does not match its registry integrity")
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(body)
    return body


def _unpack(body: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not (member.isfile() or member.isdir()):
                continue
            # npm strips the first component, whatever it is called ("package/" usually)
            relative = posixpath.normpath(member.name.split("/", 1)[1] if "/" in member.name else "")
            if relative in ("", ".") or relative.startswith(("/", "..")):
                continue
            target = dest / relative
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())
                target.chmod(0o755 if member.mode & 0o111 else 0o644)


def install_from_registry(app_dir: Path, closure: list[str], cache: Path, *, direct: list[str]) -> None:
    """Flat ``node_modules`` from exact pins, plus the app's ``package.json``."""
    with httpx.Client(timeout=60.0, follow_redirects=True) as client:
        for spec in closure:
            name, version = _split_spec(spec)
            dest = app_dir / "node_modules" / name
            shutil.rmtree(dest, ignore_errors=True)
            _unpack(_fetch_tarball(client, name, version, cache), dest)
    dependencies = dict(_split_spec(spec) for spec in direct)
    (app_dir / "package.json").write_text(json.dumps({"dependencies": dependencies}, indent=2) + "\n")
