"""``chainwarden mirror SRC DST``: copy an image by digest into a registry you control.

Order and checks, so that a tag in the destination only ever names something complete
and verified:

1. the source tag is resolved once, to a digest; everything after works by digest;
2. every blob (config, layers, signature payloads) is skipped when the destination has it
   (``HEAD``), mounted from another repository of the same registry when possible, or
   streamed from source to destination while being hashed — the upload is committed
   only when the bytes hash to the descriptor's digest and size;
3. manifests are pushed by digest, children before the index that lists them;
4. signatures, attestations and SBOMs (cosign's ``sha256-<hex>.sig|.att|.sbom`` tags and
   OCI referrers, via the API or the referrers tag schema) are copied with the image;
5. the tag is pushed last.

With ``--verify-key``/keyless options the source digest must carry a valid signature
before anything is copied. A second run moves no blob (idempotent); an interrupted run
resumes at blob granularity, because finished blobs are found by ``HEAD``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainwarden.errors import InvalidImageError, UsageError
from chainwarden.models import Digest
from chainwarden.policy.interface import Authority, PolicyError, SignatureVerifier
from chainwarden.policy.push import CHUNK, RegistrySession
from chainwarden.sources.image import INDEX_TYPES, MANIFEST_TYPES, Descriptor, parse_json_blob, select_manifest
from chainwarden.sources.registry import ImageReference, parse_reference

SIGNATURE_SUFFIXES = (".sig", ".att", ".sbom")
MAX_FROM_FILE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MirrorOptions:
    all_platforms: bool = False
    platform: str = "linux/amd64"
    with_signatures: bool = True
    authority: Authority | None = None  # --verify-key / keyless: refuse unless verified
    insecure_registry: bool = False
    timeout: float = 60.0
    workers: int = 4


@dataclass
class MirrorStats:
    blobs_copied: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    bytes_copied: int = 0
    manifests_pushed: int = 0
    manifests_skipped: int = 0
    signatures: int = 0  # signature/attestation/referrer manifests copied or present


@dataclass(frozen=True, slots=True)
class MirrorResult:
    source: str
    destination: str
    digest: Digest
    stats: MirrorStats
    seconds: float
    verified_by: str | None = None


@dataclass
class _Job:
    src: ImageReference
    dst: ImageReference
    src_session: RegistrySession
    dst_session: RegistrySession
    options: MirrorOptions
    stats: MirrorStats = field(default_factory=MirrorStats)
    done_manifests: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self.stats, name, getattr(self.stats, name) + amount)


class Mirror:
    """Copies images; keeps one session per registry across images (``--from-file``)."""

    def __init__(self, options: MirrorOptions, verifier: SignatureVerifier | None = None) -> None:
        if options.authority is not None and verifier is None:
            raise UsageError("--verify-key and keyless verification need the signing package, missing from this build")
        self.options = options
        self.verifier = verifier
        self._sessions: dict[str, RegistrySession] = {}

    def session(self, registry: str) -> RegistrySession:
        if registry not in self._sessions:
            self._sessions[registry] = RegistrySession(
                registry, timeout=self.options.timeout, insecure=self.options.insecure_registry
            )
        return self._sessions[registry]

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mirror(self, source: str, destination: str) -> MirrorResult:
        """Copy ``source`` to ``destination`` (a repository, with or without a tag)."""
        started = time.monotonic()
        src = parse_reference(source)
        dst = _destination(src, destination)
        job = _Job(src, dst, self.session(src.registry), self.session(dst.registry), self.options)
        found = job.src_session.get_manifest(src.repository, src.manifest_reference)
        if found is None:
            raise PolicyError(f"{source}: no such image in the source registry")
        body, media_type, digest = found
        verified_by = None
        if self.options.authority is not None:
            assert self.verifier is not None
            check = self.verifier.verify_signatures(
                f"{src.registry}/{src.repository}@{digest}", digest, self.options.authority
            )
            if check.reason is not None or check.verified < self.options.authority.threshold:
                raise PolicyError(f"{source}: refusing to mirror an image that does not verify: {check.reason}")
            verified_by = self.options.authority.name
        document = parse_json_blob(body, f"{source}: manifest")
        media_type = str(document.get("mediaType") or media_type)
        if media_type in INDEX_TYPES and not self.options.all_platforms:
            chosen = select_manifest(document, self.options.platform, source)
            child = job.src_session.get_manifest(src.repository, chosen.digest)
            if child is None:
                raise PolicyError(f"{source}: {self.options.platform} manifest {chosen.digest[:19]} is missing")
            body, media_type, digest = child
        self._copy_manifest(job, body, media_type, digest)
        if self.options.with_signatures:
            self._copy_signatures(job, digest)
        tag = dst.tag
        if tag is not None and job.dst_session.manifest_digest(dst.repository, tag) != digest:
            job.dst_session.put_manifest(dst.repository, tag, body, media_type)
            job.stats.manifests_pushed += 1
        return MirrorResult(source, str(dst), digest, job.stats, time.monotonic() - started, verified_by)

    # -- manifests ------------------------------------------------------------------------------

    def _copy_manifest(self, job: _Job, body: bytes, media_type: str, digest: Digest) -> None:
        """Copy everything ``body`` references, then the manifest itself by digest."""
        if digest in job.done_manifests:
            return
        job.done_manifests.add(digest)
        if job.dst_session.manifest_digest(job.dst.repository, digest) == digest:
            job.stats.manifests_skipped += 1
            return
        document = parse_json_blob(body, f"{job.src}: manifest {digest[:19]}")
        if media_type in INDEX_TYPES or isinstance(document.get("manifests"), list):
            for entry in document.get("manifests") or []:
                child = Descriptor.from_json(entry, f"{job.src}: index")
                found = job.src_session.get_manifest(job.src.repository, child.digest)
                if found is None:
                    raise InvalidImageError(f"{job.src}: index lists {child.digest[:19]}, which is missing")
                self._copy_manifest(job, found[0], found[1] or child.media_type, child.digest)
        else:
            blobs: list[Descriptor] = []
            config = document.get("config")
            if isinstance(config, dict):
                blobs.append(Descriptor.from_json(config, f"{job.src}: config"))
            for layer in document.get("layers") or []:
                blobs.append(Descriptor.from_json(layer, f"{job.src}: layer"))
            self._copy_blobs(job, blobs)
        job.dst_session.put_manifest(job.dst.repository, digest, body, media_type or _media_type(document))
        job.stats.manifests_pushed += 1

    def _copy_blobs(self, job: _Job, blobs: list[Descriptor]) -> None:
        unique = list({blob.digest: blob for blob in blobs}.values())
        with ThreadPoolExecutor(max_workers=max(1, min(self.options.workers, len(unique)))) as pool:
            for future in [pool.submit(self._copy_blob, job, blob) for blob in unique]:
                future.result()

    def _copy_blob(self, job: _Job, blob: Descriptor) -> None:
        dst, src = job.dst_session, job.src_session
        if dst.blob_exists(job.dst.repository, blob.digest):
            job.count("blobs_skipped")
            return
        same_registry = job.src.registry == job.dst.registry and job.src.repository != job.dst.repository
        if same_registry and dst.mount_blob(job.dst.repository, blob.digest, job.src.repository):
            job.count("blobs_mounted")
            return
        response = src.open_blob(job.src.repository, blob.digest)
        try:
            sent = dst.upload_blob(job.dst.repository, blob.digest, blob.size, _chunks(response.iter_bytes(CHUNK)))
        finally:
            response.close()
        job.count("blobs_copied")
        job.count("bytes_copied", sent)

    # -- signatures -----------------------------------------------------------------------------

    def _copy_signatures(self, job: _Job, digest: Digest) -> None:
        src = job.src_session
        subject_tag = digest.replace(":", "-", 1)
        for suffix in SIGNATURE_SUFFIXES:
            found = src.get_manifest(job.src.repository, subject_tag + suffix)
            if found is None:
                continue
            body, media_type, sig_digest = found
            self._copy_manifest(job, body, media_type or _media_type(parse_json_blob(body, "signature")), sig_digest)
            if job.dst_session.manifest_digest(job.dst.repository, subject_tag + suffix) != sig_digest:
                job.dst_session.put_manifest(job.dst.repository, subject_tag + suffix, body, media_type)
            job.stats.signatures += 1
        referrers = src.referrers(job.src.repository, digest)
        tag_index = None
        if referrers is None:  # no referrers API: the tag schema
            tag_index = src.get_manifest(job.src.repository, subject_tag)
            if tag_index is not None:
                index = parse_json_blob(tag_index[0], f"{job.src}: referrers tag {subject_tag}")
                referrers = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
        for entry in referrers or []:
            descriptor = Descriptor.from_json(entry, f"{job.src}: referrer")
            found = src.get_manifest(job.src.repository, descriptor.digest)
            if found is None:
                continue
            self._copy_manifest(job, found[0], found[1] or descriptor.media_type, descriptor.digest)
            job.stats.signatures += 1
        if tag_index is not None:
            body, media_type, index_digest = tag_index
            if job.dst_session.manifest_digest(job.dst.repository, subject_tag) != index_digest:
                job.dst_session.put_manifest(job.dst.repository, subject_tag, body, media_type)


def _chunks(source: Iterator[bytes]) -> Iterator[bytes]:
    yield from source


def _media_type(document: dict[str, Any]) -> str:
    media_type = document.get("mediaType")
    if isinstance(media_type, str) and media_type in INDEX_TYPES | MANIFEST_TYPES:
        return media_type
    return (
        "application/vnd.oci.image.index.v1+json"
        if "manifests" in document
        else ("application/vnd.oci.image.manifest.v1+json")
    )


def _destination(src: ImageReference, destination: str) -> ImageReference:
    """DST as given; without tag or digest it takes the source's tag (a digest-only source stays untagged)."""
    text = destination.removeprefix("docker://")
    if "@" in text:
        raise UsageError(f"{destination}: the destination is a repository[:tag], not a digest")
    last = text.rsplit("/", 1)[-1]
    has_tag = ":" in last
    dst = parse_reference(text)
    if not has_tag:
        dst = ImageReference(dst.registry, dst.repository, src.tag, None)
    return dst


def read_image_list(path: Path, prefix: str | None) -> list[tuple[str, str]]:
    """``--from-file``: lines ``SRC [DST]``; without DST, ``PREFIX/<source repository>[:tag]``."""
    try:
        raw = path.read_bytes()[: MAX_FROM_FILE + 1]
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(raw) > MAX_FROM_FILE:
        raise UsageError(f"{path}: larger than 1 MiB")
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 2:
            raise UsageError(f"{path}:{number}: expected 'SRC [DST]'")
        if len(words) == 2:
            pairs.append((words[0], words[1]))
            continue
        if prefix is None:
            raise UsageError(f"{path}:{number}: no destination, and no DST prefix given on the command line")
        src = parse_reference(words[0])
        name = src.repository.removeprefix("library/")
        pairs.append((words[0], f"{prefix.rstrip('/')}/{name}"))
    if not pairs:
        raise UsageError(f"{path}: no images listed")
    return pairs


def mirror_all(
    pairs: list[tuple[str, str]],
    options: MirrorOptions,
    verifier: SignatureVerifier | None = None,
    on_result: Callable[[MirrorResult | tuple[str, str]], None] | None = None,
) -> list[MirrorResult | tuple[str, str]]:
    """Mirror each pair; a failure is recorded as ``(source, reason)`` and the rest go on."""
    from chainwarden.errors import Error

    for source, destination in pairs:  # every reference is checked before anything is copied
        _destination(parse_reference(source), destination)
    results: list[MirrorResult | tuple[str, str]] = []
    with Mirror(options, verifier) as mirror:
        for source, destination in pairs:
            try:
                outcome: MirrorResult | tuple[str, str] = mirror.mirror(source, destination)
            except Error as exc:
                outcome = (source, exc.diagnostics())
            results.append(outcome)
            if on_result is not None:
                on_result(outcome)
    return results


def summary_document(results: list[MirrorResult | tuple[str, str]]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "command": "mirror",
        "images": [
            {"source": r[0], "error": r[1]}
            if isinstance(r, tuple)
            else {
                "source": r.source,
                "destination": r.destination,
                "digest": r.digest,
                "verified_by": r.verified_by,
                "seconds": round(r.seconds, 3),
                **{key: getattr(r.stats, key) for key in MirrorStats.__dataclass_fields__},
            }
            for r in results
        ],
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)
