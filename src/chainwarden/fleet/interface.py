"""The fleet's records and its base error."""

from __future__ import annotations

from dataclasses import dataclass

from chainwarden.errors import Error


class FleetError(Error):
    """The fleet store is unreachable, of an unknown schema, or asked for something it cannot do."""


class StoreMissingError(FleetError):
    """No fleet store exists at the given place yet (nothing was added or synced)."""


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One image of the fleet, as ``fleet images`` lists it."""

    digest: str
    repositories: tuple[str, ...]  # "host/repo:tag" for every tag pointing at it now
    created: str | None
    platform: str | None
    distro: str | None
    layers: int
    packages: int
    findings: int
    worst: str | None  # worst severity of its findings, None when clean
    base: str | None  # base image name (annotation or matched)
    scanned_at: str
    db_version: str | None


@dataclass(frozen=True, slots=True)
class AffectedRow:
    """One place a vulnerable (or malicious) package version sits in the fleet."""

    vuln_id: str
    rule_id: str
    severity: str
    image_digest: str
    tags: tuple[str, ...]
    ecosystem: str
    name: str
    version: str
    layer: str | None
    path: str
    in_use: str | None
    fixed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PackageUsage:
    """Who uses what version of a package: one row per version."""

    ecosystem: str
    name: str
    version: str
    purl: str
    images: int
    tags: tuple[str, ...]
