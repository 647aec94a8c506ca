"""Real registry components on 127.0.0.1 for the registry source's tests.

- :func:`start_registry`: Debian's ``docker-registry`` (CNCF distribution)
  serving a filesystem store under a temp dir.
- :func:`skopeo_push`: push an OCI layout made in code with ``skopeo copy``.
- :class:`PushClient`: the push half of the distribution API (blob upload,
  manifest PUT), for what skopeo cannot build: a hand-made multi-platform index.
- :class:`AuthProxy`: a reverse proxy in front of the registry, with its own
  token service. It challenges like Docker Hub (``Bearer realm=…/token``) or with
  ``Basic``, counts the requests that reach it, and can misbehave on purpose
  (serve fixed answers, fail N times, redirect blobs elsewhere) to test the
  client against hostile or flaky registries.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

REGISTRY_BINARY = "docker-registry"
SKOPEO_BINARY = "skopeo"
_REPO_PATH_RE = re.compile(r"^/v2/(?P<repo>.+?)/(?:manifests|blobs|tags)/")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def missing_tools() -> list[str]:
    return [tool for tool in (REGISTRY_BINARY, SKOPEO_BINARY) if shutil.which(tool) is None]


# -- the registry -------------------------------------------------------------


@dataclass
class RunningRegistry:
    address: str  # "127.0.0.1:PORT"
    storage: Path
    log: Path
    process: subprocess.Popen[bytes]

    def blob_data(self, digest: str) -> Path:
        """Where the registry's filesystem driver keeps blob ``digest``."""
        hexpart = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_registry(workdir: Path) -> RunningRegistry:
    """Start ``docker-registry serve`` on a free loopback port and wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    storage = workdir / "storage"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = workdir / "registry.log"
    with log.open("wb") as log_handle:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log_handle, stderr=subprocess.STDOUT)
    registry = RunningRegistry(f"127.0.0.1:{port}", storage, log, process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://{registry.address}/v2/", timeout=1).status_code == 200:
                return registry
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    registry.stop()
    raise RuntimeError(f"docker-registry did not answer within 20 s: {log.read_text()[-2000:]}")


def skopeo_push(layout: Path, tag: str, destination: str, *, manifest_format: str | None = None) -> None:
    """``skopeo copy oci:LAYOUT:TAG docker://DESTINATION`` over plain http.

    ``manifest_format="v2s2"`` converts to Docker's schema 2 media types on the way.
    """
    result = subprocess.run(
        [
            SKOPEO_BINARY,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            *([f"--format={manifest_format}"] if manifest_format else []),
            f"oci:{layout}:{tag}",
            f"docker://{destination}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"skopeo copy to {destination} failed: {result.stderr.strip()}")


class PushClient:
    """The push side of the distribution API, for fixtures skopeo cannot make."""

    def __init__(self, address: str) -> None:
        self._base = f"http://{address}"
        self._client = httpx.Client(timeout=10)

    def close(self) -> None:
        self._client.close()

    def put_blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = self._client.post(f"{self._base}/v2/{repository}/blobs/uploads/")
        started.raise_for_status()
        location = urllib.parse.urljoin(self._base, started.headers["Location"])
        # keep the upload's own query (its _state secret): httpx's params= would replace it
        separator = "&" if "?" in location else "?"
        done = self._client.put(
            f"{location}{separator}{urllib.parse.urlencode({'digest': digest})}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        done.raise_for_status()
        return digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        response = self._client.put(
            f"{self._base}/v2/{repository}/manifests/{reference}", content=body, headers={"Content-Type": media_type}
        )
        response.raise_for_status()
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        """(body, media type) as stored."""
        response = self._client.get(
            f"{self._base}/v2/{repository}/manifests/{reference}",
            headers={
                "Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
                "application/vnd.docker.distribution.manifest.v2+json"
            },
        )
        response.raise_for_status()
        return response.content, response.headers["Content-Type"]


# -- the proxy with a token service -----------------------------------------------------


@dataclass
class CannedResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class AuthProxy:
    """A reverse proxy to ``upstream`` that authenticates like a real registry front end.

    ``auth``: ``"none"``, ``"bearer"`` (tokens from this server's ``/token`` for
    the right ``repository:NAME:pull`` scope) or ``"basic"``. ``username``/
    ``password`` are what the token service (or Basic) accepts; an empty
    username lets the token service issue anonymous tokens.
    """

    upstream: str
    auth: str = "none"
    username: str = ""
    password: str = ""
    host: str = "127.0.0.1"
    service: str = "chainwarden-test"
    #: realm announced in Bearer challenges (default: this server's /token)
    realm: str | None = None
    #: a token stops working after this many registry requests (like expiry)
    max_token_uses: int | None = None
    #: path → fixed answer instead of the upstream's
    canned: dict[str, CannedResponse] = field(default_factory=dict)
    #: path → how many more times to answer 503 before passing through
    failures: dict[str, int] = field(default_factory=dict)
    #: blob GETs answered with a 307 to this base URL (another origin)
    redirect_blobs_to: str | None = None
    #: (method, path, Authorization header or None) of every registry-side request
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: query parameters of every /token request
    token_requests: list[dict[str, str]] = field(default_factory=list)
    _tokens: dict[str, tuple[set[str], int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> AuthProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            def do_HEAD(self) -> None:
                proxy._handle(self)

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"{self.host}:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> AuthProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def blob_requests(self) -> list[str]:
        return [path for method, path, _ in self.requests if method == "GET" and "/blobs/" in path]

    # -- handling ----------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        if parts.path == "/token":
            self._token(handler, dict(urllib.parse.parse_qsl(parts.query)))
            return
        authorization = handler.headers.get("Authorization")
        with self._lock:
            self.requests.append((handler.command, parts.path, authorization))
        match = _REPO_PATH_RE.match(parts.path)
        repo = match.group("repo") if match else None
        if not self._authorized(authorization, repo):
            challenge = (
                f'Bearer realm="{self.realm or f"http://{self.address}/token"}",service="{self.service}"'
                + (f',scope="repository:{repo}:pull"' if repo else "")
                if self.auth == "bearer"
                else 'Basic realm="chainwarden-test"'
            )
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
            self._reply(
                handler, 401, {"WWW-Authenticate": challenge, "Content-Type": "application/json"}, body.encode()
            )
            return
        with self._lock:
            remaining = self.failures.get(parts.path, 0)
            if remaining:
                self.failures[parts.path] = remaining - 1
        if remaining:
            self._reply(handler, 503, {"Content-Type": "text/plain"}, b"busy\n")
            return
        canned = self.canned.get(parts.path)
        if canned is not None:
            self._reply(handler, canned.status, canned.headers, canned.body)
            return
        if self.redirect_blobs_to and "/blobs/sha256:" in parts.path:
            self._reply(handler, 307, {"Location": self.redirect_blobs_to + handler.path}, b"")
            return
        self._forward(handler)

    def _authorized(self, authorization: str | None, repo: str | None) -> bool:
        if self.auth == "none":
            return True
        if self.auth == "basic":
            return authorization == _basic(self.username, self.password)
        if not authorization or not authorization.startswith("Bearer "):
            return False
        token = authorization.removeprefix("Bearer ")
        with self._lock:
            grant = self._tokens.get(token)
            if grant is None:
                return False
            scopes, uses = grant
            if self.max_token_uses is not None and uses >= self.max_token_uses:
                return False
            self._tokens[token] = (scopes, uses + 1)
        return repo is None or f"repository:{repo}:pull" in scopes

    def _token(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        with self._lock:
            self.token_requests.append(query)
        authorization = handler.headers.get("Authorization")
        anonymous_allowed = not self.username
        if not (anonymous_allowed and authorization is None) and authorization != _basic(self.username, self.password):
            body = json.dumps({"details": "incorrect username or password"}).encode()
            self._reply(handler, 401, {"Content-Type": "application/json"}, body)
            return
        if query.get("service") != self.service:
            self._reply(handler, 400, {"Content-Type": "application/json"}, b'{"details": "unknown service"}')
            return
        scopes: set[str] = set()
        for scope in query.get("scope", "").split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and "pull" in actions.split(","):
                scopes.add(f"repository:{name}:pull")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (scopes, 0)
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        self._reply(handler, 200, {"Content-Type": "application/json"}, body)

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        host, _, port = self.upstream.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            headers = {"Accept": handler.headers.get("Accept", "*/*")}
            connection.request(handler.command, handler.path, headers=headers)
            upstream = connection.getresponse()
            body = upstream.read()
            relayed = {k: v for k, v in upstream.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}}
            self._reply(handler, upstream.status, relayed, body, head=handler.command == "HEAD")
        finally:
            connection.close()

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes, *, head: bool = False
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        if "Content-Length" not in headers:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not head and handler.command != "HEAD":
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                handler.wfile.write(body)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
