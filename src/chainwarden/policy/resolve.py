"""Tag → digest resolution through the registry, one manifest request per distinct reference.

A tag is resolved by fetching its manifest (``GET /v2/<repo>/manifests/<tag>``) with the
registry client, which verifies the body against ``Docker-Content-Digest``; the digest
is the sha256 of the body we received, never a header taken on trust. Without a
platform, a multi-platform tag resolves to its *index* digest (what ``docker pull``
pins). With a platform, the index's entry for it is chosen; attestation manifests
(``unknown/unknown``) are never candidates. Results are cached per reference, and one
client (connection, token) is kept per repository.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chainwarden._internal.http import RetryPolicy
from chainwarden.errors import Error
from chainwarden.models import Digest
from chainwarden.sources.image import INDEX_TYPES, parse_json_blob, select_manifest
from chainwarden.sources.registry import RETRY_POLICY, ImageReference, RegistryClient, parse_reference


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a tag points at now."""

    reference: str  # normalised ``registry/repo:tag``
    digest: Digest  # the digest to pin: index digest, or the platform's manifest digest
    kind: str  # "index" | "manifest" | "platform-manifest"
    platform: str | None  # the platform chosen from an index, when --platform was given


@dataclass(frozen=True, slots=True)
class ResolveFailure:
    reference: str
    reason: str


ClientFactory = Callable[[ImageReference], RegistryClient]


class Resolver:
    """Resolve tags to digests; thread-safe, caches per reference and keeps one client per repository."""

    def __init__(
        self,
        *,
        platform: str | None = None,
        timeout: float = 30.0,
        insecure: bool = False,
        client_factory: ClientFactory | None = None,
        ttl: float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.platform = platform
        #: seconds an answer is reused (None: for the resolver's life); failures at most 10 s
        self.ttl = ttl
        self._clock = clock
        self._timeout = timeout
        self._insecure = insecure
        self._factory = client_factory
        self._retry = retry
        self._cache: dict[str, tuple[float, Resolution | ResolveFailure]] = {}
        self._clients: dict[tuple[str, str], RegistryClient] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        #: manifest requests made (one per distinct reference, by design)
        self.manifest_requests = 0

    def client(self, ref: ImageReference) -> RegistryClient:
        """The shared client for ``ref``'s repository."""
        key = (ref.registry, ref.repository)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                bare = ImageReference(ref.registry, ref.repository, ref.tag, None)
                if self._factory is not None:
                    client = self._factory(bare)
                else:
                    client = RegistryClient(
                        bare,
                        str(bare),
                        timeout=self._timeout,
                        insecure=self._insecure,
                        retry=self._retry or RETRY_POLICY,
                    )
                self._clients[key] = client
            return client

    def resolve(self, text: str) -> Resolution:
        """The current digest of tag reference ``text``; raises :class:`Error` subclasses."""
        ref = parse_reference(text)
        found = self.try_resolve(ref)
        if isinstance(found, ResolveFailure):
            raise _Failed(found.reason)
        return found

    def try_resolve(self, ref: ImageReference) -> Resolution | ResolveFailure:
        """Like :meth:`resolve` for a parsed reference; a failure is returned, not raised."""
        key = f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'}"
        with self._lock:
            cached = self._fresh(key)
            if cached is not None:
                return cached
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # two threads asking for the same tag make one request
            with self._lock:
                cached = self._fresh(key)
            if cached is not None:
                return cached
            try:
                result: Resolution | ResolveFailure = self._fetch(ref, key)
            except Error as exc:
                result = ResolveFailure(key, exc.diagnostics())
            with self._lock:
                self._cache[key] = (self._clock(), result)
            return result

    def peek(self, ref: ImageReference) -> tuple[Resolution, float] | None:
        """A fresh cached resolution of ``ref``'s tag, without any request, and until when (on
        the resolver's clock) it stays fresh; None when there is none."""
        key = f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'}"
        with self._lock:
            entry = self._cache.get(key)
            if entry is None or not isinstance(entry[1], Resolution):
                return None
            until = entry[0] + self.ttl if self.ttl is not None else math.inf
            return (entry[1], until) if self._clock() <= until else None

    def _fresh(self, key: str) -> Resolution | ResolveFailure | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        stamp, result = entry
        if self.ttl is not None:
            limit = min(self.ttl, 10.0) if isinstance(result, ResolveFailure) else self.ttl
            if self._clock() - stamp > limit:
                return None
        return result

    def _fetch(self, ref: ImageReference, key: str) -> Resolution:
        client = self.client(ref)
        with self._lock:
            self.manifest_requests += 1
        body, content_type, digest = client.get_manifest(ref.tag or "latest")
        document = parse_json_blob(body, f"{key}: manifest")
        media_type = document.get("mediaType") if isinstance(document.get("mediaType"), str) else content_type
        is_index = media_type in INDEX_TYPES or (not media_type and isinstance(document.get("manifests"), list))
        if not is_index:
            return Resolution(key, digest, "manifest", None)
        if self.platform is None:
            return Resolution(key, digest, "index", None)
        chosen = select_manifest(document, self.platform, key)
        return Resolution(key, chosen.digest, "platform-manifest", chosen.platform)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> Resolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Failed(Error):
    pass


def normalised(text: str) -> str:
    """``debian:12`` → ``registry-1.docker.io/library/debian:12`` (digest kept)."""
    return str(parse_reference(text))
