"""The :class:`~chainwarden.policy.interface.SignatureVerifier` backed by the signing package.

Keyed authorities (a cosign public key) and keyless ones (certificate identity + OIDC
issuer under the Sigstore trusted root) are verified by :mod:`chainwarden.signing`, in
both cosign layouts (bundle referrers and legacy ``.sig``/``.att`` tags), always against
the digest the decision was made on, never a tag.
"""

from __future__ import annotations

import threading
from pathlib import Path

from chainwarden._internal.files import read_bounded
from chainwarden.models import Digest
from chainwarden.policy.interface import Authority, PolicyError, SignatureCheck, SignatureVerifier
from chainwarden.signing import attest, cosign, keys, trustroot
from chainwarden.sources.registry import ImageReference, RegistryClient, parse_reference

MAX_KEY_FILE = 64 * 1024


class SigningVerifier:
    """Verifies through :func:`chainwarden.signing.cosign.verify_image` and
    :func:`chainwarden.signing.attest.verify_attestations`; policies are built once per authority."""

    def __init__(self, *, insecure_registry: bool = False, timeout: float = 30.0) -> None:
        self._insecure = insecure_registry
        self._timeout = timeout
        self._root: trustroot.TrustedRoot | None = None
        self._policies: dict[Authority, cosign.VerifyPolicy] = {}
        self._lock = threading.Lock()

    def _policy(self, authority: Authority) -> cosign.VerifyPolicy:
        with self._lock:
            cached = self._policies.get(authority)
            if cached is not None:
                return cached
            if self._root is None:
                self._root = trustroot.default_trusted_root()
            public_key = None
            if authority.key_data is not None:
                public_key = keys.load_public_key(authority.key_data.encode(), authority.name)
            elif authority.key_path is not None:
                path = Path(authority.key_path)
                data = read_bounded(path, MAX_KEY_FILE, PolicyError, "public key")
                public_key = keys.load_public_key(data, str(path))
            policy = cosign.VerifyPolicy(
                self._root,
                key=public_key,
                identity=authority.identity,
                identity_regexp=authority.identity_regexp,
                issuer=authority.issuer,
            )
            self._policies[authority] = policy
            return policy

    def _client(self, image: str, digest: Digest) -> RegistryClient:
        ref = parse_reference(image)
        pinned = ImageReference(ref.registry, ref.repository, None, digest)
        return RegistryClient(pinned, str(pinned), timeout=self._timeout, insecure=self._insecure)

    def verify_signatures(self, image: str, digest: Digest, authority: Authority) -> SignatureCheck:
        policy = self._policy(authority)
        with self._client(image, digest) as client:
            outcome = cosign.verify_image(client, policy)
        return SignatureCheck(len(outcome.verified), outcome.failure(authority.threshold))

    def verify_attestations(
        self, image: str, digest: Digest, authority: Authority, predicate_type: str
    ) -> SignatureCheck:
        policy = self._policy(authority)
        with self._client(image, digest) as client:
            outcome = attest.verify_attestations(client, policy, predicate_type)
        return SignatureCheck(
            len(outcome.verification.verified),
            outcome.verification.failure(1, "attestation"),
            tuple(outcome.statements),
        )


def default_verifier(*, insecure_registry: bool = False, timeout: float = 30.0) -> SignatureVerifier:
    """The verifier ``admit`` and ``mirror --verify-key`` use."""
    return SigningVerifier(insecure_registry=insecure_registry, timeout=timeout)
