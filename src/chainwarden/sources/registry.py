"""Images pulled from an OCI distribution registry: ``registry:HOST[:PORT]/REPO[:TAG|@sha256:…]``.

The pull side of the distribution API (distribution-spec "Pulling manifests" /
"Pulling blobs"): ``GET /v2/<repo>/manifests/<ref>`` and
``GET /v2/<repo>/blobs/<digest>``; and, for signatures and other artifacts, the
push side (blob upload, manifest PUT) with OCI 1.1 referrers — the referrers
API where the registry has one, the ``sha256-<hex>`` referrers tag schema where
it does not. What an image *means* (index → platform →
manifest → config → layers) is resolved by the shared code in ``oci.py`` over a
blob reader that fetches from the registry, so a pulled image is checked exactly
like a local layout: every manifest and config against the digest it was
referenced by, every layer against its descriptor digest and size *before* it is
read, and again (uncompressed) against the config's diff_ids while it is read.

Layers are fetched lazily, when a view or materialisation opens them; a layer
whose digest already has an entry in the per-layer cache is never downloaded.
Credentials come from ``CHAINWARDEN_REGISTRY_USERNAME``/``_PASSWORD`` or the
``auths`` of ``~/.docker/config.json`` (``$DOCKER_CONFIG``) and are only sent
after the registry asks for them (anonymous first, like docker).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
import os
import re
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from chainwarden import __version__
from chainwarden._internal.archives import MAX_DECOMPRESSED
from chainwarden._internal.cachefile import write_bytes_atomically
from chainwarden._internal.http import RetryPolicy, caused_by, retry_transport_errors, send_with_retries
from chainwarden._internal.recent import Recent
from chainwarden.errors import (
    ConfigError,
    DigestMismatchError,
    InvalidImageError,
    NetworkError,
    RegistryError,
    UsageError,
)
from chainwarden.models import Digest, TargetInfo
from chainwarden.sources.image import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_JSON_BLOB,
    MEDIA_DOCKER_LIST,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    parse_json_blob,
    verify_bytes,
)
from chainwarden.sources.interface import SourceOptions
from chainwarden.sources.oci import REF_NAME, BlobReader, ResolvedImage

DOCKER_HUB_REGISTRY = "registry-1.docker.io"
#: Names docker treats as Docker Hub; credentials may be stored under any of them.
DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
#: Hosts reached over plain http without ``--insecure-registry`` (docker does the same).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
ENV_USERNAME = "CHAINWARDEN_REGISTRY_USERNAME"
ENV_PASSWORD = "CHAINWARDEN_REGISTRY_PASSWORD"  # noqa: S105 - the variable's name, not a secret

MANIFEST_ACCEPT = ", ".join((MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST))
#: Connection errors and 429/5xx (the registry or something in front of it is busy):
#: three attempts, 0.25 s then 0.5 s apart, or what ``Retry-After`` asks (at most 5 s).
RETRY_POLICY = RetryPolicy(attempts=3, base_delay=0.25, max_delay=5.0)
MAX_TOKEN_RESPONSE = 1024 * 1024
MAX_ERROR_BODY = 64 * 1024
MAX_DOCKER_CONFIG = 4 * 1024 * 1024
CHUNK = 1 << 20

# distribution/reference grammar (reference/regexp.go), sha256 only.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::(?P<port>[0-9]+))?")
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
MAX_NAME_LENGTH = 255

# RFC 7235 auth-param: token "=" ( token / quoted-string )
_AUTH_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.!#$%&\'*+^`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
_UNPRINTABLE_RE = re.compile(r"[^\x20-\x7e]")
_NOT_REFERENCE_CHAR_RE = re.compile(r"[^\x21-\x7e]")


# -- references -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A parsed image reference; ``registry`` is the ``host[:port]`` to contact."""

    registry: str
    repository: str
    tag: str | None
    digest: Digest | None

    @property
    def host(self) -> str:
        """``registry`` without its port (IPv6 literals keep their brackets)."""
        if self.registry.startswith("["):
            return self.registry[: self.registry.index("]") + 1]
        return self.registry.partition(":")[0]

    @property
    def manifest_reference(self) -> str:
        """What to ask ``/manifests/`` for: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def is_loopback(self) -> bool:
        return self.host.lower() in LOOPBACK_HOSTS

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> ImageReference:
    """Parse ``[HOST[:PORT]/]REPO[:TAG][@sha256:HEX]`` the way docker does.

    A first path component is a registry host when it contains ``.`` or ``:``,
    is ``localhost`` or an IPv6 literal; otherwise the image is on Docker Hub,
    and a single-component name gets the ``library/`` prefix (``debian:12`` →
    ``registry-1.docker.io/library/debian:12``). Without tag or digest the tag
    is ``latest``. Raises :class:`UsageError` naming what is wrong.
    """
    if not text or _NOT_REFERENCE_CHAR_RE.search(text):
        raise UsageError(f"{_printable(text)!r}: not an image reference (empty or contains spaces/control characters)")
    name, at, digest_text = text.partition("@")
    digest: Digest | None = None
    if at:
        if not digest_text.startswith("sha256:"):
            raise UsageError(f"{text}: only sha256 digests are supported, got {digest_text.split(':')[0]!r}")
        if not _DIGEST_RE.fullmatch(digest_text):
            raise UsageError(f"{text}: invalid digest {digest_text!r} (want sha256: and 64 lowercase hex digits)")
        digest = Digest(digest_text)
    tag: str | None = None
    colon, slash = name.rfind(":"), name.rfind("/")
    if colon > slash and not name.endswith("]"):
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise UsageError(f"{text}: invalid tag {tag!r} (letters, digits, '_', '.', '-'; at most 128)")
    first, sep, remainder = name.partition("/")
    if sep and (
        "." in first or ":" in first or first == "localhost" or first.startswith("[") or first != first.lower()
    ):
        domain, path = first, remainder
    else:
        domain, path = "docker.io", name
    match = _DOMAIN_RE.fullmatch(domain)
    if match is None:
        raise UsageError(f"{text}: invalid registry host {domain!r}")
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise UsageError(f"{text}: invalid port {port} in registry host {domain!r}")
    if domain.lower() in DOCKER_HUB_NAMES:
        domain = DOCKER_HUB_REGISTRY
        if path and "/" not in path:
            path = f"library/{path}"
    if not path:
        raise UsageError(f"{text}: no repository name")
    for component in path.split("/"):
        if not _PATH_COMPONENT_RE.fullmatch(component):
            hint = " (repository names must be lowercase)" if component.lower() != component else ""
            raise UsageError(f"{text}: invalid repository name component {component!r}{hint}")
    if len(domain) + 1 + len(path) > MAX_NAME_LENGTH:
        raise UsageError(f"{text}: repository name longer than {MAX_NAME_LENGTH} characters")
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(domain, path, tag, digest)


# -- credentials ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password; the password never appears in ``repr``."""

    username: str
    password: str = field(repr=False)
    origin: str = ""  # where they came from, for messages ("~/.docker/config.json")

    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    environ = os.environ if environ is None else environ
    directory = environ.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


def _auth_key_host(key: str) -> str:
    """``https://index.docker.io/v1/`` → ``index.docker.io``."""
    key = key.strip()
    for prefix in ("https://", "http://"):
        if key.lower().startswith(prefix):
            key = key[len(prefix) :]
    return key.split("/", 1)[0].lower()


def find_credentials(registry: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for ``registry`` (``host[:port]``): environment first, then docker's config.

    ``credsStore``/``credHelpers`` are not consulted: they would mean running a
    helper program, and chainwarden runs nothing it was not asked to run.
    """
    environ = os.environ if environ is None else environ
    username, password = environ.get(ENV_USERNAME), environ.get(ENV_PASSWORD)
    if username or password:
        if not (username and password):
            raise ConfigError(f"set both {ENV_USERNAME} and {ENV_PASSWORD}, or neither")
        return Credentials(username, password, "environment")
    path = docker_config_path(environ)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCKER_CONFIG + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(raw) > MAX_DOCKER_CONFIG:
        raise ConfigError(f"{path}: larger than {MAX_DOCKER_CONFIG} bytes")
    try:
        config = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: malformed JSON ({exc})") from exc
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = {registry.lower()}
    if registry.lower() in DOCKER_HUB_NAMES:
        wanted |= DOCKER_HUB_NAMES
    for key, entry in auths.items():
        if not isinstance(key, str) or _auth_key_host(key) not in wanted or not isinstance(entry, dict):
            continue
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: auths[{key!r}].auth is not base64 of 'user:password'") from exc
            user, colon, secret = decoded.partition(":")
            if not colon or not user:
                raise ConfigError(f"{path}: auths[{key!r}].auth is not base64 of 'user:password'")
            return Credentials(user, secret, str(path))
        plain_user, plain_secret = entry.get("username"), entry.get("password")
        if isinstance(plain_user, str) and isinstance(plain_secret, str) and plain_user:
            return Credentials(plain_user, plain_secret, str(path))
    return None


# -- the HTTP side ----------------------------------------------------------


def parse_challenges(headers: list[str]) -> list[tuple[str, dict[str, str]]]:
    """``WWW-Authenticate`` values → [(scheme lowercased, params)], in order."""
    challenges = []
    for header in headers:
        scheme, _, rest = header.strip().partition(" ")
        params: dict[str, str] = {}
        for match in _AUTH_PARAM_RE.finditer(rest):
            value = match.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[match.group(1).lower()] = value
        if scheme:
            challenges.append((scheme.lower(), params))
    return challenges


def _printable(text: str, limit: int = 200) -> str:
    """Server-supplied text made safe for a one-line terminal message."""
    cleaned = _UNPRINTABLE_RE.sub("?", text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


def _user_agent() -> str:
    return f"chainwarden/{__version__}"


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return _printable(text, 120)


@functools.cache
def _verified_context() -> ssl.SSLContext:
    """One default TLS context per process: loading the CA bundle costs ~40 ms, and a
    fleet sync opens a client per repository and per image."""
    return httpx.create_ssl_context()


_http_clients: dict[tuple[bool, float], httpx.Client] = {}
_http_clients_lock = threading.Lock()


def _http_client(insecure: bool, timeout: float) -> httpx.Client:
    """The process's HTTP client for these settings: its connections are kept alive across
    registry clients (a fleet sync opens one per image; a new connection costs both sides).

    It holds no credentials: every request carries its client's own Authorization header.
    """
    key = (insecure, timeout)
    with _http_clients_lock:
        client = _http_clients.get(key)
        if client is None or client.is_closed:
            client = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                verify=_verified_context() if not insecure else False,
                follow_redirects=False,
                headers={"User-Agent": _user_agent()},
            )
            _http_clients[key] = client
        return client


#: manifests fetched lately, by (registry, repository, digest), only once their sha256 was checked against
#: that digest: a scan of ``REPO@DIGEST`` right after a listing fetched ``REPO:TAG`` (``fleet sync``) asks
#: the registry once, not twice, and gets the very content the registry sent
_recent_manifests: Recent[tuple[str, str, str], tuple[bytes, str]] = Recent(4096)


def _remember(key: tuple[str, str, str], body: bytes, media_type: str) -> None:
    if "sha256:" + hashlib.sha256(body).hexdigest() == key[2]:
        _recent_manifests.put(key, (body, media_type))


def remember_manifest(registry: str, repository: str, digest: str, body: bytes, media_type: str) -> None:
    """Let a later ``REPO@DIGEST`` lookup in this process use ``body`` (checked against ``digest``)
    instead of asking the registry again: a ``fleet worker`` is handed what the sync fetched."""
    _remember((registry, repository, digest), body, media_type)


class RegistryClient:
    """Client for one repository: manifests, blobs, pushes, referrers, token auth, retries.

    Every request has a timeout; connection errors and 429/5xx answers are
    retried as ``retry`` says (:data:`RETRY_POLICY`). Anonymous access is tried first; a 401 challenge
    (``Bearer`` token service or ``Basic``) is answered once with credentials
    from :func:`find_credentials`.
    """

    def __init__(
        self,
        ref: ImageReference,
        where: str,
        *,
        timeout: float = 30.0,
        insecure: bool = False,
        environ: Mapping[str, str] | None = None,
        retry: RetryPolicy = RETRY_POLICY,
    ) -> None:
        self.ref = ref
        self.where = where
        self.retry = retry
        self._insecure = insecure
        self._environ = environ
        # Loopback registries are plain http (docker does the same); an insecure
        # registry is tried over unverified TLS first and over http if TLS fails.
        self._scheme = "http" if ref.is_loopback and not insecure else "https"
        self._http_fallback = insecure
        self._authorization: str | None = None
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self._client = _http_client(insecure, timeout)

    @property
    def base_url(self) -> str:
        """``http(s)://host[:port]`` that requests currently go to."""
        return self._url("")

    def close(self) -> None:
        """Nothing to release: connections stay in the process's pool for the next client."""

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public operations ---------------------------------------------------

    def get_manifest(self, reference: str) -> tuple[bytes, str, Digest]:
        """(body, media type, digest) of ``/manifests/<reference>``, verified.

        The body's sha256 must equal ``Docker-Content-Digest`` when the registry
        sends one, and the requested digest when ``reference`` is a digest.
        """
        what = f"manifest {reference[:19]}" if reference.startswith("sha256:") else "manifest"
        if reference.startswith("sha256:"):
            known = _recent_manifests.get((self.ref.registry, self.ref.repository, reference))
            if known is not None:
                return known[0], known[1], Digest(reference)
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        with contextlib.closing(self._request("GET", path, {"Accept": MANIFEST_ACCEPT})) as response:
            self._check_status(response, what)
            body = self._read_bounded(response, MAX_JSON_BLOB, what)
            header_digest = response.headers.get("Docker-Content-Digest")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        digest = Digest("sha256:" + hashlib.sha256(body).hexdigest())
        if header_digest is not None and header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatchError(
                f"{self.where}: {what}: content digest {digest[:23]}… does not match "
                f"Docker-Content-Digest {_printable(header_digest, 23)}…"
            )
        if reference.startswith("sha256:") and digest != reference:
            raise DigestMismatchError(
                f"{self.where}: {what}: content digest {digest[:23]}… does not match the requested {reference[:23]}…"
            )
        _remember((self.ref.registry, self.ref.repository, digest), body, content_type)
        return body, content_type, digest

    def list_tags(self) -> list[str]:
        """Every tag of the repository (``/tags/list``, following ``Link`` pages)."""
        return self._paged(f"/v2/{self.ref.repository}/tags/list?n=1000", "tags", "tag list")

    def catalog(self) -> list[str]:
        """Every repository the registry lists (``/v2/_catalog``, following ``Link`` pages)."""
        return self._paged("/v2/_catalog?n=1000", "repositories", "catalog")

    def _paged(self, path: str, key: str, what: str) -> list[str]:
        found: list[str] = []
        for _ in range(10_000):  # a registry that links in circles is cut off
            with contextlib.closing(self._request("GET", path, {"Accept": "application/json"})) as response:
                if response.status_code == 404 and key == "tags":
                    return found  # a repository without tags
                self._check_status(response, what)
                body = self._read_bounded(response, MAX_JSON_BLOB, what)
                link = response.headers.get("Link", "")
            try:
                data = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise RegistryError(f"{self.where}: {what}: malformed JSON") from exc
            items = data.get(key) if isinstance(data, dict) else None
            if items is not None and not (isinstance(items, list) and all(isinstance(i, str) for i in items)):
                raise RegistryError(f"{self.where}: {what}: {key!r} is not a list of names")
            found.extend(items or [])
            match = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', link)
            if match is None:
                return found
            target = match.group(1)
            if not target.startswith("/v2/"):
                raise RegistryError(f"{self.where}: {what}: next page {_printable(target)!r} leaves the registry")
            path = target
        raise RegistryError(f"{self.where}: {what}: more than 10000 pages")

    def download_blob(self, digest: Digest, size: int, dest: Path, *, max_size: int = MAX_DECOMPRESSED) -> None:
        """Stream blob ``digest`` into ``dest``, verified against ``digest`` and ``size``.

        ``size`` < 0 means unknown; the download then stops at ``max_size``. The
        file only appears at ``dest`` once it has been verified.
        """
        label = f"{self.where}: blob {digest[:19]}"
        limit = size if size >= 0 else max_size
        partial = dest.with_name(dest.name + ".part")
        path = f"/v2/{self.ref.repository}/blobs/{digest}"

        def fetch() -> tuple[str, int]:
            """(sha256 hex, byte count) of one complete download into ``partial``."""
            with contextlib.closing(self._request("GET", path, {}, follow_redirects=True)) as response:
                self._check_status(response, f"blob {digest[:19]}")
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and size >= 0 and int(declared) != size:
                    raise DigestMismatchError(
                        f"{label}: registry sends {declared} bytes but the descriptor says {size}"
                    )
                hasher, count = hashlib.sha256(), 0
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        count += len(chunk)
                        if count > limit:
                            raise DigestMismatchError(f"{label}: more than the descriptor's {limit} bytes")
                        hasher.update(chunk)
                        out.write(chunk)
            return hasher.hexdigest(), count

        try:
            # a connection dropped mid-body starts the download over
            hexdigest, count = retry_transport_errors(fetch, self.retry)
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise NetworkError(f"{label}: download failed: {_transport_reason(exc)}") from exc
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise RegistryError(f"{label}: cannot write temporary file ({exc.strerror})") from exc
        except BaseException:
            partial.unlink(missing_ok=True)  # an HTTP error, Ctrl-C or SIGTERM: no half blob left behind
            raise
        got = "sha256:" + hexdigest
        if got != digest:
            partial.unlink(missing_ok=True)
            raise DigestMismatchError(f"{label}: content digest {got[:23]}… does not match {digest[:23]}…")
        if size >= 0 and count != size:
            partial.unlink(missing_ok=True)
            raise DigestMismatchError(f"{label}: size {count} differs from descriptor size {size}")
        partial.replace(dest)

    # -- push side (distribution-spec "Pushing blobs" / "Pushing manifests") ---------------

    def find_manifest(self, reference: str) -> tuple[bytes, str, Digest] | None:
        """Like :meth:`get_manifest`, but None when the registry answers 404 (no such tag)."""
        what = f"manifest {reference[:19]}" if reference.startswith("sha256:") else f"manifest {reference}"
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        with contextlib.closing(self._request("HEAD", path, {"Accept": MANIFEST_ACCEPT})) as response:
            if response.status_code == 404:
                return None
            self._check_status(response, what)
        return self.get_manifest(reference)

    def get_blob(self, digest: Digest, *, max_size: int = MAX_JSON_BLOB) -> bytes:
        """A small blob, read into memory and verified against ``digest``."""
        what = f"blob {digest[:19]}"
        path = f"/v2/{self.ref.repository}/blobs/{digest}"
        with contextlib.closing(self._request("GET", path, {}, follow_redirects=True)) as response:
            self._check_status(response, what)
            data = self._read_bounded(response, max_size, what)
        verify_bytes(data, digest, f"{self.where}: {what}")
        return data

    def blob_exists(self, digest: Digest) -> bool:
        path = f"/v2/{self.ref.repository}/blobs/{digest}"
        with contextlib.closing(self._request("HEAD", path, {}, follow_redirects=True)) as response:
            if response.status_code == 404:
                return False
            self._check_status(response, f"blob {digest[:19]}")
        return True

    def push_blob(self, data: bytes) -> Digest:
        """Upload ``data`` (monolithic POST then PUT) unless the registry has it; return its digest."""
        digest = Digest("sha256:" + hashlib.sha256(data).hexdigest())
        if self.blob_exists(digest):
            return digest
        what = f"blob upload {digest[:19]}"
        start = f"/v2/{self.ref.repository}/blobs/uploads/"
        with contextlib.closing(self._request("POST", start, {"Content-Length": "0"})) as response:
            self._check_push_status(response, what, (202,))
            location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.where}: {what}: registry sent no upload Location")
        url = httpx.URL(urllib.parse.urljoin(self.base_url + start, location)).copy_merge_params({"digest": digest})
        if url.host != httpx.URL(self.base_url).host:
            raise RegistryError(f"{self.where}: {what}: upload location {_printable(str(url))} is on another host")
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
        with contextlib.closing(self._request("PUT", str(url), headers, content=data)) as response:
            self._check_push_status(response, what, (201, 204))
            answered = response.headers.get("Docker-Content-Digest")
        if answered is not None and answered != digest:
            raise DigestMismatchError(f"{self.where}: {what}: registry stored {_printable(answered, 80)}")
        return digest

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> tuple[Digest, bool]:
        """PUT a manifest under a tag or its digest; (digest, whether the registry set ``OCI-Subject``)."""
        digest = Digest("sha256:" + hashlib.sha256(body).hexdigest())
        what = f"manifest PUT {reference[:19] if reference.startswith('sha256:') else reference}"
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        headers = {"Content-Type": media_type, "Content-Length": str(len(body))}
        with contextlib.closing(self._request("PUT", path, headers, content=body)) as response:
            self._check_push_status(response, what, (201, 204))
            answered = response.headers.get("Docker-Content-Digest")
            subject_handled = response.headers.get("OCI-Subject") is not None
        if answered is not None and answered != digest:
            raise DigestMismatchError(f"{self.where}: {what}: registry stored {_printable(answered, 80)}")
        return digest, subject_handled

    def referrers(self, subject: Digest) -> list[dict[str, Any]]:
        """Descriptors of the manifests whose ``subject`` is ``subject`` (OCI distribution 1.1).

        The referrers API when the registry has one, else the referrers tag
        schema (tag ``sha256-<hex>`` holding an image index), as the spec's
        fallback says. Each descriptor is returned as the index lists it; the
        caller fetches and verifies the manifest it names.
        """
        path = f"/v2/{self.ref.repository}/referrers/{subject}"
        with contextlib.closing(self._request("GET", path, {"Accept": MEDIA_OCI_INDEX})) as response:
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            if response.status_code == 200 and content_type == MEDIA_OCI_INDEX:
                body = self._read_bounded(response, MAX_JSON_BLOB, "referrers")
                return _index_manifests(body, f"{self.where}: referrers of {subject[:19]}")
            if response.status_code not in (404, 405, 400, 200):
                self._check_status(response, f"referrers of {subject[:19]}")
        found = self.find_manifest(referrers_tag(subject))
        if found is None:
            return []
        return _index_manifests(found[0], f"{self.where}: referrers tag {referrers_tag(subject)}")

    def attach_referrer(self, subject: Digest, body: bytes, media_type: str, artifact_type: str) -> Digest:
        """PUT a manifest whose ``subject`` is ``subject``; maintain the referrers tag if the registry does not.

        The read-modify-write of the tag index is not atomic (the spec offers no
        lock); a concurrent writer may lose an entry, which the next push restores.
        """
        digest, handled = self.put_manifest(Digest("sha256:" + hashlib.sha256(body).hexdigest()), body, media_type)
        if handled:
            return digest
        document = parse_json_blob(body, f"{self.where}: referrer manifest")
        descriptor: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(body)}
        if artifact_type:
            descriptor["artifactType"] = artifact_type
        annotations = document.get("annotations")
        if isinstance(annotations, dict) and annotations:
            descriptor["annotations"] = annotations
        tag = referrers_tag(subject)
        existing = self.find_manifest(tag)
        manifests: list[dict[str, Any]] = []
        if existing is not None:
            manifests = [
                entry
                for entry in _index_manifests(existing[0], f"{self.where}: referrers tag {tag}")
                if entry.get("digest") != digest
            ]
        manifests.append(descriptor)
        index = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": manifests}
        self.put_manifest(tag, json.dumps(index, separators=(",", ":")).encode(), MEDIA_OCI_INDEX)
        return digest

    def _check_push_status(self, response: httpx.Response, what: str, ok: tuple[int, ...]) -> None:
        if response.status_code in ok:
            return
        if response.status_code == 200:
            raise RegistryError(f"{self.where}: {what}: unexpected answer 200")
        if response.status_code == 405:
            raise RegistryError(f"{self.where}: {what}: registry does not accept pushes (405)")
        self._check_status(response, what)

    # -- requests, retries, auth ----------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self._scheme}://{self.ref.registry}{path}"

    def _request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        *,
        follow_redirects: bool = False,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send with auth; on a first 401 answer the challenge and send again."""
        for round_ in range(2):
            sent = dict(headers)
            if self._authorization:
                sent["Authorization"] = self._authorization
            response = self._send(method, path, sent, follow_redirects=follow_redirects, content=content)
            if response.status_code != 401 or round_ == 1:
                return response
            # a 401 with credentials already sent means a stale token (they last
            # minutes) or rejected credentials: one fresh answer decides which
            challenges = parse_challenges(response.headers.get_list("WWW-Authenticate"))
            authorization = self._answer_challenge(challenges)
            if authorization == self._authorization:
                return response  # the same Basic credentials again would only be refused again
            response.close()
            self._authorization = authorization
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method: str, path: str, headers: dict[str, str], *, follow_redirects: bool, content: bytes | None = None
    ) -> httpx.Response:
        """One request (streamed), retried on connection errors and 429/5xx (see :attr:`retry`)."""

        def attempt() -> httpx.Response:
            while True:
                url = path if path.startswith(("http://", "https://")) else self._url(path)
                try:
                    request = self._client.build_request(method, url, headers=headers, content=content)
                    return self._client.send(request, stream=True, follow_redirects=follow_redirects)
                except httpx.TransportError as exc:
                    if not caused_by(exc, ssl.SSLError):
                        raise
                    if self._scheme == "https" and self._http_fallback and url.startswith(self._url("/")):
                        # --insecure-registry: docker's fallback to plain http, not counted as a retry
                        self._scheme = "http"
                        self._http_fallback = False
                        continue
                    raise self._tls_error(exc) from exc

        try:
            return send_with_retries(attempt, self.retry)
        except httpx.TransportError as exc:
            raise NetworkError(
                f"{self.where}: cannot reach {self._failed_host(exc)}: {_transport_reason(exc)} "
                f"(after {self.retry.attempts} attempts)"
            ) from exc

    def _failed_host(self, exc: httpx.TransportError) -> str:
        try:
            return exc.request.url.netloc.decode("ascii", "replace")
        except RuntimeError:  # no request attached
            return self.ref.registry

    def _tls_error(self, exc: httpx.TransportError) -> NetworkError:
        # TLS failures are not transient: retrying would only repeat them
        host = self._failed_host(exc)
        if caused_by(exc, ssl.SSLCertVerificationError):
            return NetworkError(f"{self.where}: TLS certificate of {host} is not trusted ({_transport_reason(exc)})")
        return NetworkError(
            f"{self.where}: TLS handshake with {host} failed ({_transport_reason(exc)}); "
            "if it serves plain http, see --insecure-registry (dangerous)"
        )

    def _load_credentials(self) -> Credentials | None:
        if not self._credentials_loaded:
            self._credentials = find_credentials(self.ref.registry, self._environ)
            self._credentials_loaded = True
        return self._credentials

    def _answer_challenge(self, challenges: list[tuple[str, dict[str, str]]]) -> str:
        """The ``Authorization`` value that answers ``challenges`` (Bearer preferred)."""
        schemes = {scheme: params for scheme, params in reversed(challenges)}
        if "bearer" in schemes:
            return "Bearer " + self._fetch_token(schemes["bearer"])
        if "basic" in schemes:
            credentials = self._load_credentials()
            if credentials is None:
                raise RegistryError(
                    f"{self.where}: {self.ref.registry} requires a login (401); "
                    f"set {ENV_USERNAME}/{ENV_PASSWORD} or add it to {docker_config_path(self._environ)}"
                )
            self._require_secure_transport(self._scheme, self.ref.host, "send credentials to")
            return credentials.basic_header()
        offered = ", ".join(scheme for scheme, _ in challenges) or "no WWW-Authenticate challenge"
        raise RegistryError(f"{self.where}: {self.ref.registry} requires authentication we cannot answer ({offered})")

    def _require_secure_transport(self, scheme: str, host: str, action: str) -> None:
        if scheme != "https" and not self._insecure and host.lower() not in LOOPBACK_HOSTS:
            raise RegistryError(f"{self.where}: refusing to {action} {host} over plain http")

    def _fetch_token(self, params: dict[str, str]) -> str:
        realm = params.get("realm", "")
        parts = urllib.parse.urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryError(f"{self.where}: token realm {_printable(realm)!r} is not an http(s) URL")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        self._require_secure_transport(parts.scheme, host, "fetch a token from")
        query: dict[str, str] = {}
        if params.get("service"):
            query["service"] = params["service"]
        query["scope"] = params.get("scope") or f"repository:{self.ref.repository}:pull"
        headers = {}
        credentials = self._load_credentials()
        if credentials is not None:
            headers["Authorization"] = credentials.basic_header()
        url = str(httpx.URL(realm).copy_merge_params(query))
        token_host = parts.netloc.rpartition("@")[2]
        with contextlib.closing(self._send("GET", url, headers, follow_redirects=False)) as response:
            if response.status_code in (401, 403):
                who = f"the credentials from {credentials.origin}" if credentials else "anonymous access"
                raise RegistryError(f"{self.where}: token service {token_host} refused {who} ({response.status_code})")
            if response.status_code != 200:
                raise RegistryError(f"{self.where}: token service {token_host} answered {response.status_code}")
            body = self._read_bounded(response, MAX_TOKEN_RESPONSE, "token response")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{self.where}: token service {token_host} sent malformed JSON") from exc
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or _UNPRINTABLE_RE.search(token):
            raise RegistryError(f"{self.where}: token service {token_host} sent no usable token")
        return token

    # -- responses -------------------------------------------------------------

    def _read_bounded(self, response: httpx.Response, limit: int, what: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RegistryError(f"{self.where}: {what} too large ({declared} bytes > {limit // 1024**2} MiB)")
        chunks = []
        total = 0
        try:
            for chunk in response.iter_bytes(CHUNK):
                total += len(chunk)
                if total > limit:
                    raise RegistryError(f"{self.where}: {what} too large (> {limit // 1024**2} MiB)")
                chunks.append(chunk)
        except httpx.TransportError as exc:
            raise NetworkError(f"{self.where}: {what}: download failed: {_transport_reason(exc)}") from exc
        return b"".join(chunks)

    def _check_status(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status == 200:
            return
        message = self._error_message(response)
        if status == 401:
            detail = f": {message}" if message else ""
            if self._authorization is None:
                raise RegistryError(f"{self.where}: {what}: authentication required (401){detail}")
            credentials = self._load_credentials()
            if credentials is None:
                # Docker Hub answers so for private and for missing repositories alike
                raise RegistryError(
                    f"{self.where}: {what}: access denied to anonymous pulls (401){detail}; "
                    "the repository may not exist, or may need a login"
                )
            raise RegistryError(
                f"{self.where}: {what}: {self.ref.registry} refused the credentials from {credentials.origin} "
                f"(401){detail}"
            )
        if status == 403:
            raise RegistryError(f"{self.where}: {what}: access denied{f': {message}' if message else ''} (403)")
        if status == 404:
            raise RegistryError(f"{self.where}: {message or what + ' not found'} (404)")
        if status in self.retry.retry_statuses:
            raise NetworkError(
                f"{self.where}: {what}: registry keeps failing ({status} after {self.retry.attempts} attempts)"
            )
        raise RegistryError(f"{self.where}: {what}: unexpected answer {status}{f' ({message})' if message else ''}")

    def _error_message(self, response: httpx.Response) -> str:
        """The first message of a distribution-spec error body, if any."""
        try:
            body = self._read_bounded(response, MAX_ERROR_BODY, "error body")
            data = json.loads(body)
        except (RegistryError, NetworkError, UnicodeDecodeError, json.JSONDecodeError):
            return ""
        errors = data.get("errors") if isinstance(data, dict) else None
        if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
            return ""
        first = errors[0]
        text = first.get("message") or first.get("code") or ""
        return _printable(str(text)) if isinstance(text, str | int) else ""


def referrers_tag(subject: Digest | str) -> str:
    """The referrers tag schema's tag for ``subject``: ``sha256:HEX`` → ``sha256-HEX``."""
    return subject.replace(":", "-", 1)


def _index_manifests(body: bytes, label: str) -> list[dict[str, Any]]:
    index = parse_json_blob(body, label)
    manifests = index.get("manifests", [])
    if not isinstance(manifests, list):
        raise InvalidImageError(f"{label}: manifests is not a list")
    return [entry for entry in manifests if isinstance(entry, dict) and isinstance(entry.get("digest"), str)]


# -- the source -------------------------------------------------------------


class _RegistryBlobReader(BlobReader):
    """Manifests from ``/manifests/``, other blobs from ``/blobs/``, into a temp dir."""

    def __init__(self, where: str, client: RegistryClient, cache_dir: Path | None) -> None:
        super().__init__(where, self._open_blob, lambda _digest: None)
        self._client = client
        self._blob_cache = cache_dir / "registry-blobs" if cache_dir is not None else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.manifests: dict[Digest, bytes] = {}
        #: descriptor sizes of the layers, filled once the manifest is resolved
        self.expected_sizes: dict[Digest, int] = {}

    def json_blob(self, desc: Descriptor, what: str) -> dict[str, Any]:
        label = f"{self.where}: {what} {desc.digest[:19]}"
        if desc.size > MAX_JSON_BLOB:
            raise InvalidImageError(f"{label} is {desc.size} bytes, too large")
        if what in ("index", "manifest"):
            data = self.manifests.get(desc.digest)
            if data is None:
                data, _, _ = self._client.get_manifest(desc.digest)
        else:
            data = self._small_blob(desc)
        verify_bytes(data, desc.digest, label)
        if desc.size >= 0 and len(data) != desc.size:
            raise DigestMismatchError(f"{label}: size {len(data)} differs from descriptor size {desc.size}")
        return parse_json_blob(data, label)

    def _small_blob(self, desc: Descriptor) -> bytes:
        """A config blob, from the content-addressed cache when it holds a good copy."""
        cached = self._blob_cache / desc.digest.replace(":", "/") if self._blob_cache is not None else None
        if cached is not None and cached.is_file():
            try:
                data = cached.read_bytes()
            except OSError:
                data = b""
            if "sha256:" + hashlib.sha256(data).hexdigest() == desc.digest:
                return data
        with self._open_blob(desc.digest, desc.size, max_size=MAX_JSON_BLOB) as handle:
            data = handle.read(MAX_JSON_BLOB + 1)
        if cached is not None:
            write_bytes_atomically(cached, data)
        return data

    def _open_blob(self, digest: Digest, size: int | None = None, *, max_size: int = MAX_DECOMPRESSED) -> IO[bytes]:
        """The verified blob, downloaded into the temp dir on first use."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="chainwarden-registry-")
        path = Path(self._tmp.name) / digest.replace(":", "-")
        if not path.is_file():
            expected = size if size is not None else self.expected_sizes.get(digest, -1)
            self._client.download_blob(digest, expected, path, max_size=max_size)
        return path.open("rb")

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class RegistrySource(ResolvedImage):
    """``registry:HOST[:PORT]/REPO[:TAG|@sha256:…]`` — an image pulled from a registry.

    Nothing is fetched until :attr:`info` or :meth:`view` is used; layers are
    fetched only when read, and not at all when the layer cache has them.
    """

    def __init__(self, reference: str, rest: str, options: SourceOptions) -> None:
        self.ref = parse_reference(rest)
        self._client = RegistryClient(
            self.ref, reference, timeout=options.registry_timeout, insecure=options.insecure_registry
        )
        self._registry_reader = _RegistryBlobReader(reference, self._client, options.cache_dir)
        super().__init__(
            reference, "registry", self._registry_reader, {}, options.platform, self.ref.tag, options.cache_dir
        )

    def _load_info(self) -> TargetInfo:
        if not self._index:
            self._index = self._top_index()
        info = super()._load_info()
        for layer in self.layers():
            self._registry_reader.expected_sizes[layer.digest] = layer.size
        return info

    def _top_index(self) -> dict[str, Any]:
        """The tag's (or digest's) manifest, as a one-entry layout index for ``BlobReader.resolve``."""
        body, content_type, digest = self._client.get_manifest(self.ref.manifest_reference)
        manifest = parse_json_blob(body, f"{self._reference}: manifest")
        if manifest.get("schemaVersion") == 1:
            raise RegistryError(
                f"{self._reference}: schema 1 manifest (deprecated docker format) is not supported; "
                "push the image again with a current client"
            )
        media_type = manifest.get("mediaType")
        if not isinstance(media_type, str) or media_type not in INDEX_TYPES | MANIFEST_TYPES:
            media_type = content_type
        self._registry_reader.manifests[digest] = body
        entry: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(body)}
        if self.ref.tag:
            entry["annotations"] = {REF_NAME: self.ref.tag}
        return {"schemaVersion": 2, "manifests": [entry]}

    def close(self) -> None:
        self._registry_reader.close()
        self._client.close()
