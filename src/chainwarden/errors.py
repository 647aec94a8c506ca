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
