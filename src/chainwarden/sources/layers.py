"""Image layers: what one layer blob is, and its verified tar stream.

Both readers of layers consume this one way: :mod:`chainwarden.sources.image`
squashes the streams into an in-memory view, :mod:`chainwarden.sources.materialize`
writes them to disk. Neither calls back into the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from chainwarden._internal.archives import LayerReader
from chainwarden.errors import InvalidImageError, SourceError
from chainwarden.models import Digest

#: OCI image spec, "Whiteouts": a ``.wh.NAME`` entry hides NAME of lower layers,
#: ``.wh..wh..opq`` hides every lower entry of its directory.
WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"


@dataclass(frozen=True, slots=True)
class LayerRef:
    """How to read one layer blob and what it must hash to."""

    digest: Digest  # digest of the blob as stored (compressed or not)
    diff_id: Digest | None  # digest of the uncompressed tar
    size: int
    media_type: str
    created_by: str
    open: Callable[[], IO[bytes]]
    #: cheap identity of the stored blob (stat of a local file); when a cached
    #: result was verified against the same fingerprint the blob is not re-read.
    #: None means: the digest alone identifies the content (registry pulls).
    fingerprint: Callable[[], str | None]
    #: False where only the uncompressed digest is known (docker-archive):
    #: then ``digest`` equals ``diff_id`` and the tar stream is what is verified.
    digest_is_of_blob: bool = True


@contextlib.contextmanager
def verified_layer_stream(layer: LayerRef, label: str) -> Iterator[LayerReader]:
    """The layer's uncompressed tar stream; every known digest is checked when the
    ``with`` body completes (an abandoned stream is closed unverified)."""
    raw = layer.open()
    try:
        check_tar = layer.diff_id is not None and (layer.diff_id != layer.digest or not layer.digest_is_of_blob)
        stream = LayerReader(raw, compressed_size=layer.size, label=label, hash_uncompressed=check_tar)
        stream.start_background()
        try:
            yield stream
            stream.verify(
                layer.digest if layer.digest_is_of_blob else None,
                layer.size if layer.digest_is_of_blob else None,
                layer.diff_id if check_tar else None,
            )
        finally:
            stream.close()
    except OSError as exc:
        if isinstance(exc, SourceError):
            raise
        raise InvalidImageError(f"{label}: cannot read blob ({exc})") from exc
    finally:
        raw.close()
