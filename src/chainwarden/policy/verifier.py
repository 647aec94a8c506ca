"""The :class:`~chainwarden.policy.interface.SignatureVerifier` backed by the signing package.

Keyed authorities (a cosign public key) and keyless ones (certificate identity + OIDC
issuer under the Sigstore trusted root) are verified by :mod:`chainwarden.signing`, in
both cosign layouts (bundle referrers and legacy ``.sig``/``.att`` tags), always against
the resolved digest. When this build has no signing package, :func:`default_verifier`
returns None and every rule that needs one fails with that reason — never passes.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from chainwarden.models import Digest
from chainwarden.policy.interface import Authority, PolicyError, SignatureCheck, SignatureVerifier
from chainwarden.sources.registry import RegistryClient, parse_reference

MAX_KEY_FILE = 64 * 1024


def signing_available() -> bool:
    return importlib.util.find_spec("chainwarden.signing.cosign") is not None


class SigningVerifier:
    """Verifies through ``chainwarden.signing.cosign.verify_image`` / ``attest.verify_attestations``."""

    def __init__(self, *, insecure_registry: bool = False, timeout: float = 30.0) -> None:
        self._insecure = insecure_registry
        self._timeout = timeout
        self._cosign: Any = importlib.import_module("chainwarden.signing.cosign")
        self._attest: Any = importlib.import_module("chainwarden.signing.attest")
        self._keys: Any = importlib.import_module("chainwarden.signing.keys")
        self._trustroot: Any = importlib.import_module("chainwarden.signing.trustroot")
        self._root: Any = None
        self._policies: dict[str, Any] = {}

    def _policy(self, authority: Authority) -> Any:
        key = repr(authority)
        if key in self._policies:
            return self._policies[key]
        if self._root is None:
            self._root = self._trustroot.default_trusted_root()
        public_key = None
        if authority.key_data is not None:
            public_key = self._keys.load_public_key(authority.key_data.encode(), authority.name)
        elif authority.key_path is not None:
            path = Path(authority.key_path)
            try:
                data = path.read_bytes()[: MAX_KEY_FILE + 1]
            except OSError as exc:
                raise PolicyError(f"{path}: cannot read the public key ({exc.strerror})") from exc
            public_key = self._keys.load_public_key(data, str(path))
        policy = self._cosign.VerifyPolicy(
            self._root,
            key=public_key,
            identity=authority.identity,
            identity_regexp=authority.identity_regexp,
            issuer=authority.issuer,
        )
        self._policies[key] = policy
        return policy

    def _client(self, image: str, digest: Digest) -> RegistryClient:
        ref = parse_reference(image)
        pinned = type(ref)(ref.registry, ref.repository, None, digest)
        return RegistryClient(pinned, str(pinned), timeout=self._timeout, insecure=self._insecure)

    def verify_signatures(self, image: str, digest: Digest, authority: Authority) -> SignatureCheck:
        with self._client(image, digest) as client:
            outcome = self._cosign.verify_image(client, self._policy(authority))
        return SignatureCheck(len(outcome.verified), outcome.failure(authority.threshold))

    def verify_attestations(
        self, image: str, digest: Digest, authority: Authority, predicate_type: str
    ) -> SignatureCheck:
        with self._client(image, digest) as client:
            outcome = self._attest.verify_attestations(client, self._policy(authority), predicate_type)
        statements = tuple(outcome.statements)
        return SignatureCheck(
            len(outcome.verification.verified),
            outcome.verification.failure(authority.threshold, "attestation"),
            statements,
        )


def default_verifier(*, insecure_registry: bool = False, timeout: float = 30.0) -> SignatureVerifier | None:
    """The signing-package verifier, or None when this build has no signing package."""
    if not signing_available():
        return None
    return SigningVerifier(insecure_registry=insecure_registry, timeout=timeout)
