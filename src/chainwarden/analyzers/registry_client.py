"""Client for the public package registries: PyPI's JSON simple API (PEP 691) and npm packuments.

Every request has a timeout, transient failures (connection errors, 429, 5xx)
are retried with backoff (the shared :class:`~chainwarden._internal.http.RetryPolicy`,
which also honours ``Retry-After``), and JSON answers are cached on disk under the user
cache directory for ``cache_ttl`` seconds. ``pypi_url``/``npm_url`` point the
client at mirrors (``--pypi-url``/``--npm-url``). Downloads are retried the same
way (a connection dropped mid-body starts over), size-capped and checked against
the hashes the registry published.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
import platformdirs
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from chainwarden._internal.cachefile import write_bytes_atomically
from chainwarden._internal.http import RetryPolicy, read_with_retries, send_with_retries
from chainwarden.errors import NetworkError

DEFAULT_PYPI: Final = "https://pypi.org/simple"
DEFAULT_NPM: Final = "https://registry.npmjs.org"
PEP691_JSON: Final = "application/vnd.pypi.simple.v1+json"
MAX_JSON_BYTES: Final = 64 * 1024 * 1024
MAX_DOWNLOAD_BYTES: Final = 512 * 1024 * 1024


class RegistryClientError(NetworkError):
    """A package registry could not be reached or answered unusably."""


@dataclass(frozen=True, slots=True)
class DistributionFile:
    filename: str
    url: str
    version: str | None
    sha256: str | None
    yanked: bool
    kind: str  # "wheel", "sdist", "other"


@dataclass(frozen=True, slots=True)
class PypiProject:
    """A project page from a PEP 691 index."""

    name: str
    index: str
    files: tuple[DistributionFile, ...]
    versions: tuple[str, ...]

    def latest(self) -> str | None:
        return max_version(self.versions)

    def files_for(self, version: str) -> list[DistributionFile]:
        wanted = _parse_version(version)
        return [f for f in self.files if f.version is not None and _parse_version(f.version) == wanted]


def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def max_version(versions: tuple[str, ...] | list[str]) -> str | None:
    """Highest PEP 440 version (pre-releases count: an attacker can publish 99.0a1)."""
    parsed = [(v, _parse_version(v)) for v in versions]
    valid = [(text, version) for text, version in parsed if version is not None]
    if not valid:
        return None
    return max(valid, key=lambda item: item[1])[0]


def npm_max_version(versions: list[str]) -> str | None:
    """Highest semver (prerelease tags sort below their release)."""

    def key(text: str) -> tuple[int, int, int, int, str]:
        match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?", text)
        if not match:
            return (-1, -1, -1, 0, text)
        major, minor, patch, pre = match.groups()
        return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")

    return max(versions, key=key) if versions else None


def _file_version(filename: str) -> tuple[str | None, str]:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1]), "wheel"
        return str(parse_sdist_filename(filename)[1]), "sdist"
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        match = re.match(r"^.+?-(\d[^-]*?)(\.tar\.gz|\.zip|\.tar\.bz2|\.egg|\.exe)$", filename)
        return (match.group(1), "other") if match else (None, "other")


class RegistryClient:
    """Talks to one PyPI-style index and one npm registry.

    ``retries`` is how many times a transient failure is retried (0: never);
    ``backoff`` is the first wait in seconds, doubled for each further retry.
    """

    def __init__(
        self,
        *,
        pypi_url: str = DEFAULT_PYPI,
        npm_url: str = DEFAULT_NPM,
        timeout: float = 15.0,
        retries: int = 2,
        cache_dir: Path | None = None,
        cache_ttl: float = 3600.0,
        use_cache: bool = True,
        backoff: float = 0.5,
    ) -> None:
        self.pypi_url = pypi_url.rstrip("/")
        self.npm_url = npm_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.cache_ttl = cache_ttl
        self.cache_dir = (cache_dir or Path(platformdirs.user_cache_dir("chainwarden", appauthor=False))) / "registry"
        self.use_cache = use_cache
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            headers={"User-Agent": "chainwarden (+https://github.com/chainwarden)"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ http

    @property
    def retry_policy(self) -> RetryPolicy:
        """The shared retry policy, built from ``retries`` and ``backoff``."""
        return RetryPolicy(attempts=max(self.retries, 0) + 1, base_delay=self.backoff)

    def _request(self, url: str, accept: str) -> httpx.Response:
        policy = self.retry_policy
        try:
            response = send_with_retries(lambda: self._client.get(url, headers={"Accept": accept}), policy)
        except httpx.TransportError as exc:
            raise RegistryClientError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in policy.retry_statuses:
            raise RegistryClientError(f"{url}: HTTP {response.status_code}")
        return response

    def _cache_path(self, url: str) -> Path:
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest() + ".json")

    def get_json(self, url: str, accept: str = "application/json") -> Any | None:
        """Parsed JSON at ``url``; None on 404. Cached on disk."""
        cache = self._cache_path(url)
        if self.use_cache and cache.is_file():
            try:
                entry = json.loads(cache.read_text(encoding="utf-8"))
                if time.time() - float(entry["fetched"]) < self.cache_ttl:
                    return entry["body"]
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a corrupt cache entry is simply refetched
        response = self._request(url, accept)
        if response.status_code == 404:
            body: Any = None
        elif response.status_code != 200:
            raise RegistryClientError(f"{url}: HTTP {response.status_code}")
        else:
            if len(response.content) > MAX_JSON_BYTES:
                raise RegistryClientError(f"{url}: answer larger than {MAX_JSON_BYTES // 1024**2} MiB")
            try:
                body = response.json()
            except ValueError as exc:
                raise RegistryClientError(f"{url}: answer is not JSON ({exc})") from exc
        if self.use_cache:
            # caching is an optimisation: a read-only cache dir must not fail the scan
            # (the write is atomic, with a unique temp name, and False on failure)
            write_bytes_atomically(cache, json.dumps({"fetched": time.time(), "body": body}).encode())
        return body

    # ------------------------------------------------------------------ PyPI

    def pypi_project(self, name: str, index: str | None = None) -> PypiProject | None:
        """The project page (PEP 691 JSON), or None when the index has no such project."""
        base = (index or self.pypi_url).rstrip("/")
        normalized = canonicalize_name(name)
        url = f"{base}/{normalized}/"
        body = self.get_json(url, accept=PEP691_JSON)
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("files"), list):
            raise RegistryClientError(f"{url}: not a PEP 691 project page (no 'files' list)")
        files: list[DistributionFile] = []
        for entry in body["files"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
                continue
            version, kind = _file_version(entry["filename"])
            hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
            assert isinstance(hashes, dict)
            files.append(
                DistributionFile(
                    filename=entry["filename"],
                    url=str(httpx.URL(url).join(str(entry.get("url", "")))),
                    version=version,
                    sha256=hashes.get("sha256"),
                    yanked=bool(entry.get("yanked")),
                    kind=kind,
                )
            )
        versions = body.get("versions")
        if not isinstance(versions, list):
            versions = sorted({f.version for f in files if f.version})
        return PypiProject(normalized, base, tuple(files), tuple(str(v) for v in versions))

    def download_pypi(self, name: str, version: str, directory: Path) -> Path:
        """Download the sdist of ``name==version`` (its setup code is what runs), else a wheel."""
        project = self.pypi_project(name)
        if project is None:
            raise RegistryClientError(f"pypi:{name}: no such project on {self.pypi_url}")
        candidates = project.files_for(version)
        if not candidates:
            raise RegistryClientError(f"pypi:{name}=={version}: no files for this version on {self.pypi_url}")
        order = {"sdist": 0, "wheel": 1, "other": 2}
        candidates.sort(key=lambda f: (order[f.kind], "none-any" not in f.filename, f.filename))
        chosen = candidates[0]
        return self.download(chosen.url, directory / chosen.filename, sha256=chosen.sha256)

    # ------------------------------------------------------------------- npm

    def npm_packument(self, name: str, registry: str | None = None) -> dict[str, Any] | None:
        """The packument (all versions' metadata), or None when unpublished/unknown."""
        base = (registry or self.npm_url).rstrip("/")
        url = f"{base}/{quote(name, safe='@')}"
        body = self.get_json(url)
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("versions", {}), dict):
            raise RegistryClientError(f"{url}: not an npm packument")
        return body

    def download_npm(self, name: str, version: str, directory: Path) -> Path:
        packument = self.npm_packument(name)
        if packument is None:
            raise RegistryClientError(f"npm:{name}: no such package on {self.npm_url}")
        manifest = packument.get("versions", {}).get(version)
        if not isinstance(manifest, dict):
            raise RegistryClientError(f"npm:{name}@{version}: no such version on {self.npm_url}")
        dist = manifest.get("dist") if isinstance(manifest.get("dist"), dict) else {}
        assert isinstance(dist, dict)
        tarball = dist.get("tarball")
        if not isinstance(tarball, str):
            raise RegistryClientError(f"npm:{name}@{version}: packument has no dist.tarball")
        filename = f"{name.replace('/', '-').lstrip('@')}-{version}.tgz"
        integrity = dist.get("integrity") if isinstance(dist.get("integrity"), str) else None
        return self.download(tarball, directory / filename, integrity=integrity)

    # -------------------------------------------------------------- download

    def download(self, url: str, dest: Path, *, sha256: str | None = None, integrity: str | None = None) -> Path:
        """Stream ``url`` to ``dest``, size-capped, verifying the published hash.

        Transient failures (a connection error, 429/5xx, a connection dropped
        mid-body) start the download over, as :attr:`retry_policy` says. The
        file appears at ``dest`` only once it is complete and verified; a failed
        or interrupted download leaves nothing behind.
        """
        algorithm, _, expected_b64 = (integrity or "").partition("-")
        sri_algorithm = algorithm if algorithm in ("sha512", "sha384", "sha256", "sha1") else None
        partial = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)

        def read(response: httpx.Response) -> tuple[str, str | None]:
            """(sha256 hex, SRI digest base64) of one complete download into ``partial``."""
            if response.status_code != 200:
                raise RegistryClientError(f"{url}: HTTP {response.status_code}")
            digest_sha256 = hashlib.sha256()
            digest_sri = hashlib.new(sri_algorithm) if sri_algorithm is not None else None
            size = 0
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes(1 << 20):
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise RegistryClientError(f"{url}: larger than {MAX_DOWNLOAD_BYTES // 1024**2} MiB")
                    digest_sha256.update(chunk)
                    if digest_sri is not None:
                        digest_sri.update(chunk)
                    handle.write(chunk)
            sri = base64.b64encode(digest_sri.digest()).decode() if digest_sri is not None else None
            return digest_sha256.hexdigest(), sri

        def send() -> httpx.Response:
            return self._client.send(self._client.build_request("GET", url), stream=True)

        try:
            got_sha256, got_sri = read_with_retries(send, read, self.retry_policy)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            partial.unlink(missing_ok=True)
            raise RegistryClientError(f"{url}: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            partial.unlink(missing_ok=True)  # an HTTP status, the size cap, Ctrl-C: no half file left
            raise
        if sha256 and got_sha256 != sha256.lower():
            partial.unlink(missing_ok=True)
            raise RegistryClientError(f"{url}: sha256 {got_sha256[:16]}… differs from the index's")
        if got_sri is not None and got_sri != expected_b64:
            partial.unlink(missing_ok=True)
            raise RegistryClientError(f"{url}: {algorithm} integrity differs from the packument's")
        partial.replace(dest)
        return dest


def npm_maintainers(packument: dict[str, Any], version: str | None = None) -> frozenset[str]:
    """Maintainer names of a packument, or of one version (``maintainers`` + ``_npmUser``)."""
    source: Any = packument
    if version is not None:
        source = packument.get("versions", {}).get(version, {})
    names: set[str] = set()
    if isinstance(source, dict):
        for person in source.get("maintainers", []) or []:
            if isinstance(person, dict) and isinstance(person.get("name"), str):
                names.add(person["name"])
            elif isinstance(person, str):
                names.add(person.split("<", 1)[0].strip())
    return frozenset(names)


def npm_publisher(packument: dict[str, Any], version: str) -> str | None:
    manifest = packument.get("versions", {}).get(version, {})
    user = manifest.get("_npmUser") if isinstance(manifest, dict) else None
    if isinstance(user, dict) and isinstance(user.get("name"), str):
        return str(user["name"])
    return None
