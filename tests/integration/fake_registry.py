"""A small, real HTTP registry on 127.0.0.1 speaking PEP 691 JSON and npm packuments.

Tests add packages they build in code (``add_pypi``/``add_npm``); the server
serves project pages (``/simple/<name>/`` with ``application/vnd.pypi.simple.v1+json``),
their files, packuments (``/npm/<name>`` with ``@scope%2fname`` support) and
tarballs. It can also be told to fail a path a number of times (retry tests).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename


def build_sdist(name: str, version: str, files: dict[str, str]) -> tuple[str, bytes]:
    """An sdist ``name-version.tar.gz`` with PKG-INFO and ``files``."""
    root = f"{name}-{version}"
    members = {"PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", **files}
    return f"{root}.tar.gz", _tgz({f"{root}/{path}": body.encode() for path, body in members.items()})


def build_wheel(name: str, version: str, files: dict[str, str], requires: tuple[str, ...] = ()) -> tuple[str, bytes]:
    dist = f"{name.replace('-', '_')}-{version}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, body in files.items():
            archive.writestr(path, body)
        metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
            f"Requires-Dist: {r}\n" for r in requires
        )
        archive.writestr(f"{dist}.dist-info/METADATA", metadata)
    return f"{dist}-py3-none-any.whl", buffer.getvalue()


def build_npm_tarball(name: str, version: str, files: dict[str, str], package_json: dict[str, Any]) -> bytes:
    manifest = {"name": name, "version": version, **package_json}
    members = {"package/package.json": json.dumps(manifest).encode()}
    members.update({f"package/{path}": body.encode() for path, body in files.items()})
    return _tgz(members)


def _tgz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, body in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(body)
            info.mode = 0o644
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(body))
    return gzip.compress(buffer.getvalue(), mtime=0)


@dataclass
class FakeRegistry:
    """State of the server: projects, packuments, blobs, and injected failures."""

    base_url: str = ""
    pypi: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    npm: dict[str, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)  # path → remaining 503 answers
    requests: list[str] = field(default_factory=list)

    @property
    def pypi_url(self) -> str:
        return f"{self.base_url}/simple"

    @property
    def npm_url(self) -> str:
        return f"{self.base_url}/npm"

    def private_pypi_url(self) -> str:
        return f"{self.base_url}/private/simple"

    def add_pypi(self, filename: str, body: bytes, *, index: str = "simple", upload_time: str | None = None) -> None:
        if filename.endswith(".whl"):
            name = str(parse_wheel_filename(filename)[0])
        else:
            name = str(parse_sdist_filename(filename)[0])
        blob_path = f"/files/{index}/{filename}"
        self.blobs[blob_path] = body
        entry: dict[str, Any] = {
            "filename": filename,
            "url": blob_path,
            "hashes": {"sha256": hashlib.sha256(body).hexdigest()},
        }
        if upload_time:
            entry["upload-time"] = upload_time
        self.pypi.setdefault(f"{index}/{name}", []).append(entry)

    def add_npm(
        self,
        name: str,
        version: str,
        tarball: bytes,
        *,
        maintainers: tuple[str, ...] = ("alice",),
        publisher: str | None = None,
        created: str = "2015-01-01T00:00:00.000Z",
    ) -> None:
        blob_path = f"/tarballs/{name.replace('/', '-')}-{version}.tgz"
        self.blobs[blob_path] = tarball
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        packument = self.npm.setdefault(
            name, {"name": name, "versions": {}, "dist-tags": {}, "time": {"created": created}}
        )
        people = [{"name": m, "email": f"{m}@example.invalid"} for m in maintainers]
        packument["versions"][version] = {
            "name": name,
            "version": version,
            "dist": {"tarball": f"{self.base_url}{blob_path}", "integrity": integrity},
            "maintainers": people,
            "_npmUser": {"name": publisher or maintainers[0]},
        }
        packument["dist-tags"]["latest"] = version
        packument["maintainers"] = people


class _Handler(BaseHTTPRequestHandler):
    registry: FakeRegistry

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest captures nothing useful
        del format, args

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        registry = self.registry
        path = self.path.split("?", 1)[0]
        registry.requests.append(path)
        if registry.fail.get(path, 0) > 0:
            registry.fail[path] -= 1
            self._send(503, b"busy")
            return
        if path in registry.blobs:
            self._send(200, registry.blobs[path], "application/octet-stream")
            return
        parts = [p for p in path.split("/") if p]
        simple: tuple[str, str] | None = None
        if len(parts) == 2 and parts[0] == "simple":
            simple = ("simple", parts[1])
        elif len(parts) == 3 and parts[:2] == ["private", "simple"]:
            simple = ("private", parts[2])
        if simple is not None:
            index, project = simple[0], str(canonicalize_name(simple[1]))
            files = registry.pypi.get(f"{index}/{project}")
            if files is None:
                self._send(404, b'{"message": "Not Found"}')
                return
            body = {"meta": {"api-version": "1.0"}, "name": project, "files": files}
            self._send(200, json.dumps(body).encode(), "application/vnd.pypi.simple.v1+json")
            return
        if parts and parts[0] == "npm":
            name = unquote("/".join(parts[1:]))
            packument = registry.npm.get(name)
            if packument is None:
                self._send(404, b'{"error": "Not found"}')
                return
            self._send(200, json.dumps(packument).encode())
            return
        self._send(404, b"{}")


@contextmanager
def serve() -> Iterator[FakeRegistry]:
    """Run the registry on an ephemeral 127.0.0.1 port for the duration of the block."""
    registry = FakeRegistry()
    handler = type("Handler", (_Handler,), {"registry": registry})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    registry.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
