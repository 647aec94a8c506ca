"""Errors of the runtime concern (sandbox, tracing, profiles, hardening)."""

from __future__ import annotations

from chainwarden.errors import Error


class RuntimeAnalysisError(Error):
    """Base of every runtime failure: sandbox, trace, profile, harden, drift."""


class SandboxError(RuntimeAnalysisError):
    """The sandbox could not be set up or the program could not be started."""


class ProfileError(RuntimeAnalysisError):
    """A profile file is missing, malformed or does not fit the target."""


class VerificationError(RuntimeAnalysisError):
    """A hardened image does not behave like the original on a probe."""


class HardenDatabaseError(RuntimeAnalysisError):
    """A package database of the image could not be rewritten after removing packages."""
