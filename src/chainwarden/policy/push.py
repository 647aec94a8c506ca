"""The streaming half of the distribution API that ``mirror`` needs, in one place.

- blobs read as a stream (``GET /v2/<name>/blobs/<digest>``) and written as one
  (``POST`` an upload session, ``PATCH`` the bytes, ``PUT ?digest=`` to commit), so a
  500 MB layer is never held in memory; the commit is only sent after the bytes that
  went out hashed to the expected digest — a blob that does not verify is never
  committed, its session is cancelled (``DELETE``);
- ``HEAD`` for blobs and manifests that already exist, cross-repository mounts
  (``POST ?mount=&from=``), manifest ``PUT`` by digest and by tag, the referrers API
  and the referrers tag schema;
- token auth with the ``pull,push`` scope (or ``Basic``), credentials from
  :func:`chainwarden.sources.registry.find_credentials`, retries from
  :mod:`chainwarden._internal.http`, a timeout on every request.

The signing package carries in-memory push helpers on the shared registry client; this
module stays separate because a mirror must stream. It is the one place to change if the
shared client grows streaming uploads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from chainwarden._internal.http import RetryPolicy, send_with_retries
from chainwarden.errors import DigestMismatchError, NetworkError, RegistryError
from chainwarden.models import Digest
from chainwarden.sources.registry import (
    LOOPBACK_HOSTS,
    MANIFEST_ACCEPT,
    RETRY_POLICY,
    ImageReference,
    find_credentials,
    parse_challenges,
)

CHUNK = 1 << 20
SINGLE_ATTEMPT = RetryPolicy(attempts=1, base_delay=0.0, max_delay=0.0)
MAX_MANIFEST = 4 << 20


class RegistrySession:
    """Pull and push against one registry host, for several repositories (one connection pool)."""

    def __init__(
        self, registry: str, *, timeout: float = 60.0, insecure: bool = False, retry: RetryPolicy = RETRY_POLICY
    ) -> None:
        self.registry = registry
        host = registry.rpartition(":")[0] if registry.count(":") == 1 else registry
        self._scheme = "http" if host.lower() in LOOPBACK_HOSTS and not insecure else "https"
        self._insecure = insecure
        self._retry = retry
        self._tokens: dict[str, str] = {}  # scope → Authorization value
        self._lock = threading.Lock()
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=not insecure,
            follow_redirects=False,
            headers={"User-Agent": "chainwarden-mirror"},
        )
        #: requests sent, by method (for the summary and the benchmark)
        self.requests: dict[str, int] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RegistrySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self._scheme}://{self.registry}{path}"

    def request(
        self,
        method: str,
        path: str,
        repository: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | Callable[[], Iterator[bytes]] | None = None,
        stream: bool = False,
        push: bool = False,
        follow_redirects: bool = False,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """One authenticated request; a 401 is answered once (token for ``repository``'s scope)."""
        scope = f"repository:{repository}:{'pull,push' if push else 'pull'}"
        for round_ in range(2):
            sent = dict(headers or {})
            with self._lock:
                authorization = self._tokens.get(scope)
            if authorization:
                sent["Authorization"] = authorization

            def attempt(sent: dict[str, str] = sent) -> httpx.Response:
                body = content() if callable(content) else content
                request = self._client.build_request(method, self._url(path), headers=sent, content=body)
                return self._client.send(request, stream=True, follow_redirects=follow_redirects)

            with self._lock:
                self.requests[method] = self.requests.get(method, 0) + 1
            try:
                response = send_with_retries(attempt, retry or self._retry)
            except httpx.TransportError as exc:
                raise NetworkError(f"{self.registry}: {method} {path[:80]}: {exc or type(exc).__name__}") from exc
            if response.status_code != 401 or round_ == 1:
                if not stream:
                    response.read()
                return response
            challenges = parse_challenges(response.headers.get_list("WWW-Authenticate"))
            response.close()
            answer = self._answer(challenges, scope)
            with self._lock:
                self._tokens[scope] = answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, challenges: list[tuple[str, dict[str, str]]], scope: str) -> str:
        schemes = {scheme: params for scheme, params in reversed(challenges)}
        credentials = find_credentials(self.registry)
        if "bearer" in schemes:
            params = schemes["bearer"]
            realm = params.get("realm", "")
            parts = urllib.parse.urlsplit(realm)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise RegistryError(f"{self.registry}: token realm {realm[:80]!r} is not an http(s) URL")
            if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not self._insecure:
                raise RegistryError(f"{self.registry}: refusing to fetch a token over plain http from {parts.hostname}")
            query = {"scope": scope}
            if params.get("service"):
                query["service"] = params["service"]
            headers = {"Authorization": credentials.basic_header()} if credentials else {}
            response = self._client.get(str(httpx.URL(realm).copy_merge_params(query)), headers=headers)
            if response.status_code != 200:
                raise RegistryError(f"{self.registry}: token service answered {response.status_code} for {scope}")
            try:
                data = response.json()
            except ValueError as exc:
                raise RegistryError(f"{self.registry}: token service sent malformed JSON") from exc
            token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
            if not isinstance(token, str) or not token:
                raise RegistryError(f"{self.registry}: token service sent no token")
            return f"Bearer {token}"
        if "basic" in schemes and credentials is not None:
            if self._scheme != "https" and self.registry.split(":")[0] not in LOOPBACK_HOSTS and not self._insecure:
                raise RegistryError(f"{self.registry}: refusing to send credentials over plain http")
            return credentials.basic_header()
        raise RegistryError(f"{self.registry}: authentication required for {scope} and no credentials are configured")

    def _fail(self, response: httpx.Response, what: str) -> RegistryError:
        detail = ""
        with contextlib.suppress(Exception):
            errors = json.loads(response.read()[:65536]).get("errors") or []
            if errors and isinstance(errors[0], dict):
                detail = f": {str(errors[0].get('message') or errors[0].get('code'))[:200]}"
        response.close()
        return RegistryError(f"{self.registry}: {what}: answered {response.status_code}{detail}")

    # -- manifests -------------------------------------------------------------------------------

    def manifest_digest(self, repository: str, reference: str) -> Digest | None:
        """The digest ``reference`` has in ``repository`` (HEAD), or None when absent."""
        response = self.request(
            "HEAD", f"/v2/{repository}/manifests/{reference}", repository, headers={"Accept": MANIFEST_ACCEPT}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"HEAD manifest {repository}:{reference[:19]}")
        digest = response.headers.get("Docker-Content-Digest")
        return Digest(digest) if digest else None

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, Digest] | None:
        """(body, media type, digest) of a manifest, verified when asked by digest; None when absent."""
        response = self.request(
            "GET", f"/v2/{repository}/manifests/{reference}", repository, headers={"Accept": MANIFEST_ACCEPT}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"GET manifest {repository}:{reference[:19]}")
        body = response.content
        if len(body) > MAX_MANIFEST:
            raise RegistryError(f"{self.registry}: manifest {repository}:{reference[:19]} larger than 4 MiB")
        digest = Digest("sha256:" + hashlib.sha256(body).hexdigest())
        if reference.startswith("sha256:") and digest != reference:
            raise DigestMismatchError(f"{self.registry}: manifest {reference[:23]}… arrived as {digest[:23]}…")
        header = response.headers.get("Docker-Content-Digest")
        if header and header.startswith("sha256:") and header != digest:
            raise DigestMismatchError(f"{self.registry}: manifest {repository}:{reference} does not match its digest")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return body, media_type, digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> Digest:
        digest = Digest("sha256:" + hashlib.sha256(body).hexdigest())
        response = self.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            headers={"Content-Type": media_type},
            content=body,
            push=True,
        )
        if response.status_code not in (200, 201, 202):
            raise self._fail(response, f"PUT manifest {repository}:{reference[:19]}")
        answered = response.headers.get("Docker-Content-Digest")
        if answered and answered != digest:
            raise DigestMismatchError(f"{self.registry}: stored manifest {repository}:{reference} as {answered}")
        return digest

    def referrers(self, repository: str, subject: Digest) -> list[dict[str, Any]] | None:
        """Descriptors from the referrers API, or None when the registry has no such API."""
        response = self.request(
            "GET",
            f"/v2/{repository}/referrers/{subject}",
            repository,
            headers={"Accept": "application/vnd.oci.image.index.v1+json"},
        )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if response.status_code != 200 or content_type != "application/vnd.oci.image.index.v1+json":
            return None
        with contextlib.suppress(ValueError):
            manifests = json.loads(response.content).get("manifests")
            if isinstance(manifests, list):
                return [m for m in manifests if isinstance(m, dict) and isinstance(m.get("digest"), str)]
        raise RegistryError(f"{self.registry}: referrers of {subject[:19]}: malformed index")

    # -- blobs ----------------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: Digest) -> bool:
        response = self.request("HEAD", f"/v2/{repository}/blobs/{digest}", repository, follow_redirects=True)
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise self._fail(response, f"HEAD blob {digest[:19]}")
        return True

    def mount_blob(self, repository: str, digest: Digest, source_repository: str) -> bool:
        """Cross-repository mount; False when the registry started an upload instead (then cancelled)."""
        query = urllib.parse.urlencode({"mount": digest, "from": source_repository})
        response = self.request("POST", f"/v2/{repository}/blobs/uploads/?{query}", repository, push=True)
        if response.status_code == 201:
            return True
        if response.status_code == 202 and response.headers.get("Location"):
            self._cancel(repository, response.headers["Location"])
            return False
        raise self._fail(response, f"mount blob {digest[:19]}")

    def open_blob(self, repository: str, digest: Digest) -> httpx.Response:
        """A streamed GET of a blob (redirects to storage followed); the caller closes it."""
        response = self.request(
            "GET", f"/v2/{repository}/blobs/{digest}", repository, stream=True, follow_redirects=True
        )
        if response.status_code != 200:
            raise self._fail(response, f"GET blob {digest[:19]}")
        return response

    def upload_blob(self, repository: str, digest: Digest, size: int, chunks: Iterator[bytes]) -> int:
        """Stream ``chunks`` into an upload session; commit only if they hash to ``digest`` and ``size``."""
        response = self.request(
            "POST", f"/v2/{repository}/blobs/uploads/", repository, headers={"Content-Length": "0"}, push=True
        )
        if response.status_code != 202 or not response.headers.get("Location"):
            raise self._fail(response, f"start upload {digest[:19]}")
        location = self._absolute(response.headers["Location"])
        hasher = hashlib.sha256()
        sent = 0

        def hashed() -> Iterator[bytes]:
            # read from the source and write to the destination at the same time, hashing on the way
            nonlocal sent
            for chunk in chunks:
                hasher.update(chunk)
                sent += len(chunk)
                if sent > size >= 0:
                    raise DigestMismatchError(f"{self.registry}: blob {digest[:19]}: more than {size} bytes")
                yield chunk

        try:
            patch = self.request(
                "PATCH",
                location,
                repository,
                headers={"Content-Type": "application/octet-stream"},
                content=hashed,
                push=True,
                retry=SINGLE_ATTEMPT,  # a stream cannot be sent twice; a rerun resumes at blob level
            )
            if patch.status_code != 202 or not patch.headers.get("Location"):
                raise self._fail(patch, f"upload {digest[:19]}")
            location = self._absolute(patch.headers["Location"])
            got = "sha256:" + hasher.hexdigest()
            if got != digest or (size >= 0 and sent != size):
                raise DigestMismatchError(
                    f"blob {digest[:19]}: source sent {sent} bytes hashing to {got[:23]}…, not {digest[:23]}… "
                    f"({size} bytes); nothing was committed"
                )
            commit = httpx.URL(location).copy_merge_params({"digest": digest})
            done = self.request("PUT", str(commit), repository, headers={"Content-Length": "0"}, push=True)
            if done.status_code not in (201, 204):
                raise self._fail(done, f"commit upload {digest[:19]}")
            location = ""
            return sent
        finally:
            if location:
                self._cancel(repository, location)

    def _absolute(self, location: str) -> str:
        url = urllib.parse.urljoin(self._url("/v2/"), location)
        if httpx.URL(url).netloc.decode() != self.registry and httpx.URL(url).host != self.registry.split(":")[0]:
            raise RegistryError(f"{self.registry}: upload location {url[:80]} is on another host")
        return url

    def _cancel(self, repository: str, location: str) -> None:
        with contextlib.suppress(RegistryError, NetworkError):
            self.request("DELETE", self._absolute(location), repository, push=True)


def session_key(ref: ImageReference) -> str:
    return ref.registry
