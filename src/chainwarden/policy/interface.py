"""The contracts of the policy package: its base error and the signature-verifier protocol.

``admit`` (signature authorities, required attestations) and ``mirror --verify-key`` need
to know whether an image digest carries valid signatures. That knowledge lives in the
signing package; this protocol is the narrow seam between the two, so the policy code is
written (and unit-tested) against the contract and wired to the real verifier in one place
(:mod:`chainwarden.policy.verifier`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chainwarden.errors import Error
from chainwarden.models import Digest


class PolicyError(Error):
    """A policy file, a reference to pin or a mirror request cannot be used as given."""


@dataclass(frozen=True, slots=True)
class Authority:
    """Who must have signed: a public key (PEM file) or a keyless identity + issuer."""

    name: str
    key_path: str | None = None  # a PEM file, or "inline:<hash>" for key_data
    key_data: str | None = field(default=None, repr=False)
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    threshold: int = 1


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome of checking one image digest against one authority."""

    verified: int
    reason: str | None  # None when verified >= threshold
    statements: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)  # attestations only


class SignatureVerifier(Protocol):
    """Verifies signatures and attestations of ``image`` (a reference whose digest is ``digest``)."""

    def verify_signatures(self, image: str, digest: Digest, authority: Authority) -> SignatureCheck: ...

    def verify_attestations(
        self, image: str, digest: Digest, authority: Authority, predicate_type: str
    ) -> SignatureCheck: ...
