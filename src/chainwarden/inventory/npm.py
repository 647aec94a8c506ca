"""Installed npm packages: every ``node_modules/[@scope/]name/package.json``.

Nested and scoped installs, global modules (``/usr/lib/node_modules``) alike.
A package owns its directory minus nested ``node_modules`` (those are packages
of their own).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import replace
from typing import Any

from packageurl import PackageURL

from chainwarden._internal.recent import Recent
from chainwarden.inventory.bounds import npm_name_problem
from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Digest, Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import EntryType, FileSystemView

NODE_MODULES = "/node_modules/"
#: Debian installs node modules shipped by ``node-*`` .debs here; they are on
#: node's require path just like node_modules (Debian's nodejs builtin paths).
DEBIAN_NODE_DIRS = ("/usr/share/nodejs/", "/usr/lib/nodejs/")
DEBIAN_ARCH_NODE_DIR = re.compile(r"^/usr/lib/[a-z0-9_]+-linux-[a-z0-9_]+/nodejs/")
DEBIAN_FOUND_BY = "npm-debian"
#: (path, layer, digest of the manifest) -> what it declares (see NpmInstalledCataloger._manifest), in a 1-tuple
_READ: Recent[tuple[str, str | None, bytes], tuple[Package | Skipped | None]] = Recent(50_000)


def _modules_end(path: str) -> int:
    """Index where the package name starts inside a module directory, or -1."""
    index = path.rfind(NODE_MODULES)
    if index >= 0:
        return index + len(NODE_MODULES)
    for directory in DEBIAN_NODE_DIRS:
        if path.startswith(directory):
            return len(directory)
    match = DEBIAN_ARCH_NODE_DIR.match(path)
    return match.end() if match else -1


def package_root(path: str) -> str | None:
    """The ``…/node_modules/[@scope/]name`` directory containing ``path``, if any."""
    start = _modules_end(path)
    if start < 0:
        return None
    rest = path[start:].split("/")
    if rest[0].startswith("@"):
        if len(rest) < 2 or not rest[1]:
            return None
        return path[:start] + rest[0] + "/" + rest[1]
    return path[:start] + rest[0] if rest[0] and not rest[0].startswith(".") else None


def is_manifest(path: str) -> bool:
    return path.endswith("/package.json") and package_root(path) == path[: -len("/package.json")]


def licenses_of(manifest: dict[str, Any]) -> tuple[str, ...]:
    value = manifest.get("license")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return (value["type"],)
    found = []
    for item in manifest.get("licenses") or []:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            found.append(item["type"])
        elif isinstance(item, str):
            found.append(item)
    return tuple(found)


def npm_purl(name: str, version: str) -> str:
    """``pkg:npm/%40scope/name@version`` (no version part when ``version`` is empty)."""
    namespace, _, short = name.rpartition("/")
    return PackageURL(type="npm", namespace=namespace or None, name=short, version=version or None).to_string()


class NpmInstalledCataloger(Cataloger):
    id = "npm-installed"

    def wants(self, path: str) -> bool:
        return path.endswith("/package.json") and is_manifest(path)

    def walks(self, path: str) -> bool:
        # every file under a package directory is one of its files
        return package_root(path) is not None

    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        owned: dict[str, list[str]] = {}
        manifests: list[str] = []
        for entry in view.entries():
            if entry.type is EntryType.DIR or ("nodejs/" not in entry.path and NODE_MODULES not in entry.path):
                continue
            root = package_root(entry.path)
            if root is None:
                continue
            owned.setdefault(root, []).append(entry.path)
            if entry.type is EntryType.FILE and entry.path == root + "/package.json":
                manifests.append(entry.path)
        for path in sorted(manifests):
            package = self._package(view, path, owned.get(posixpath.dirname(path), []), result)
            if package is not None:
                result.packages.append(package)
        return result

    def _package(self, view: FileSystemView, path: str, files: list[str], result: CatalogResult) -> Package | None:
        entry = view.entry(path)
        layer = entry.layer if entry else None
        try:
            body = view.read(path)
        except Exception as exc:
            result.skipped.append(Skipped("npm package.json", Location(path, layer), f"unreadable: {exc}"))
            return None
        # the same module in many images (a base's global modules) is read once
        key = (path, layer, hashlib.sha256(body).digest())
        remembered = _READ.get(key)
        if remembered is None:
            remembered = (self._manifest(path, layer, body),)
            _READ.put(key, remembered)
        known = remembered[0]
        if isinstance(known, Skipped):
            result.skipped.append(known)
            return None
        if not isinstance(known, Package):
            return None
        return replace(known, files=tuple(sorted(files)))

    def _manifest(self, path: str, layer: Digest | None, body: bytes) -> Package | Skipped | None:
        """The package a manifest declares (without files), why it is skipped, or None for a placeholder."""
        try:
            manifest = json.loads(body)
        except Exception as exc:
            return Skipped("npm package.json", Location(path, layer), f"unreadable: {exc}")
        if not isinstance(manifest, dict):
            return Skipped("npm package.json", Location(path, layer), "not a JSON object")
        name, version = manifest.get("name"), manifest.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            # placeholder manifests (npm writes some without name/version) are not packages
            return None
        problem = npm_name_problem(name)
        if problem is not None:
            return Skipped("npm package.json", Location(path, layer), problem)
        return Package(
            ecosystem=Ecosystem.NPM,
            name=name,
            version=version,
            purl=npm_purl(name, version),
            # a Debian-shipped module is updated (and patched) through its .deb
            found_by=self.id if NODE_MODULES in path else DEBIAN_FOUND_BY,
            locations=(Location(path, layer),),
            licenses=licenses_of(manifest),
        )
