"""The error tree. The CLI catches :class:`Error` and prints ``diagnostics()``.

Each interface module defines its base error here so that callers can catch a
whole concern (``except SourceError``) without importing its implementations.
"""

from __future__ import annotations


class Error(Exception):
    """Root of every error chainwarden raises on purpose."""

    def diagnostics(self) -> str:
        """One human line: what, where, why."""
        return str(self)


class UsageError(Error):
    """The user asked for something that cannot be done as asked."""


class ConfigError(Error):
    """A configuration file is missing, malformed or contradictory."""


class SourceError(Error):
    """A target could not be opened or read."""


class InvalidImageError(SourceError):
    """An image's manifest, config or layers are malformed or inconsistent."""


class DigestMismatchError(InvalidImageError):
    """A blob's content does not match the digest it is referenced by."""


class HostileArchiveError(SourceError):
    """An archive tried to escape its root, bomb us, or otherwise misbehave."""


class RegistryError(SourceError):
    """An OCI registry answered in a way we cannot use."""


class NetworkError(Error):
    """A network request failed (timeout, refused, TLS)."""


class InventoryError(Error):
    """A cataloger met input it cannot parse at all."""


class DatabaseError(Error):
    """The vulnerability database is missing, corrupt or of an unknown schema."""


class ReportError(Error):
    """A report could not be produced in the requested format."""


class SigningError(Error):
    """Signing or verification could not be carried out (bad key file, wrong password, unusable input)."""


class KeyFileError(SigningError):
    """A key file is malformed, of an unsupported type, or cannot be decrypted."""


class VerificationError(SigningError):
    """A signature, bundle, attestation or provenance document did not verify.

    Raised for every rejection a verifier makes on purpose: wrong key, tampered
    payload, digest mismatch, untrusted certificate, malformed base64/DER/JSON
    inside a signature. The CLI turns it into one line and exit 1.
    """
