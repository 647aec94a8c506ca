"""Where Alpine, RPM, Go and Rust packages are looked up in OSV, chosen from the image itself.

* Alpine: ``Alpine:v3.NN`` from ``VERSION_ID``, on the *origin* package (Alpine's
  security database files advisories against origins: ``openssl``, not ``libssl3``);
  Wolfi and Chainguard images (apk too, rolling): ``Wolfi``, ``Chainguard``.
* RPM: the ecosystem follows ``/etc/os-release``'s ``ID``: ``Rocky Linux:9``,
  ``AlmaLinux:9``, ``Red Hat:enterprise_linux:9::…`` (RHEL and UBI; every repository
  stream of the release), ``SUSE:… 15 SP5``, ``openSUSE:Leap 15.5``. Their records name
  binary packages, compared as ``[epoch:]version-release``.
* Distributions for which OSV publishes nothing (Amazon Linux, Fedora, CentOS, Oracle
  Linux) are not reported clean: each package is skipped with the reason, and the scan
  carries one warning saying so.
* Go: ``Go`` by module path (``v`` dropped from versions); the standard library as
  ``stdlib`` at the toolchain's version. Rust: ``crates.io``.

A chosen ecosystem the database holds no record of is treated the same way: the user
learns the packages went unchecked (and which ``db update -e`` fetches them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from chainwarden.inventory.binaries import go_stdlib_version
from chainwarden.models import Distro, Ecosystem, Package

#: os-release IDs of RPM distributions OSV carries no advisories for
NO_OSV_DATA = {"amzn": "Amazon Linux", "fedora": "Fedora", "centos": "CentOS", "ol": "Oracle Linux"}
#: os-release IDs of rolling apk distributions → their OSV ecosystem
APK_ROLLING = {"wolfi": "Wolfi", "chainguard": "Chainguard"}
#: prefix of skip reasons that also become one scan warning per distribution
NOT_COVERED_PREFIX = "not covered by OSV: "
NOT_IMPORTED_PREFIX = "no records imported for "

OS_ECOSYSTEMS = frozenset({Ecosystem.APK, Ecosystem.RPM, Ecosystem.GOLANG, Ecosystem.CARGO, Ecosystem.BINARY})

_MAJOR_MINOR = re.compile(r"^(\d+)\.(\d+)")
_MAJOR = re.compile(r"^(\d+)")


@dataclass(frozen=True, slots=True)
class OsLookup:
    ecosystems: tuple[str, ...]
    name: str
    version: str


def _rpm_ecosystems(distro: Distro, known: Callable[[], Collection[str]]) -> tuple[str, ...] | str:
    distro_id, version = distro.id, distro.version_id
    major = _MAJOR.match(version)
    if distro_id in NO_OSV_DATA:
        name = NO_OSV_DATA[distro_id]
        return f"{NOT_COVERED_PREFIX}{name} {version} (OSV publishes no {name} advisories)"
    if major is None and distro_id != "opensuse-tumbleweed":
        return f"{distro.pretty_name or distro_id}: no VERSION_ID to choose the OSV ecosystem from"
    if distro_id == "rocky":
        return (f"Rocky Linux:{major.group(1) if major else ''}",)
    if distro_id == "almalinux":
        return (f"AlmaLinux:{major.group(1) if major else ''}",)
    if distro_id == "rhel":
        # Red Hat files each advisory under a repository stream (baseos, appstream…);
        # an installed rpm does not record its repository, so every stream of the release counts
        prefix = f"Red Hat:enterprise_linux:{major.group(1) if major else ''}::"
        return tuple(sorted(e for e in known() if e.startswith(prefix))) or (prefix + "baseos",)
    if distro_id == "opensuse-leap":
        return (f"openSUSE:Leap {version}",)
    if distro_id == "opensuse-tumbleweed":
        return ("openSUSE:Tumbleweed",)
    if distro_id in ("sles", "sled", "sle-micro"):
        # "15.5" → "... 15 SP5": SUSE files advisories per product and module of the service pack
        major_minor = _MAJOR_MINOR.match(version)
        release = f"{major_minor.group(1)} SP{major_minor.group(2)}" if major_minor else version
        if major_minor and major_minor.group(2) == "0":
            release = major_minor.group(1)
        suffix = f" {release}"
        return tuple(sorted(e for e in known() if e.startswith("SUSE:") and e.endswith(suffix))) or (
            f"SUSE:Linux Enterprise Server{suffix}",
        )
    name = distro.pretty_name or distro_id
    return f"{NOT_COVERED_PREFIX}{name} (no OSV ecosystem is known for os-release ID '{distro_id}')"


def os_lookup(package: Package, distro: Distro | None, known: Callable[[], Collection[str]]) -> OsLookup | str:
    """The OSV lookup for an apk, rpm, Go, Rust or unknown-binary package, or why there is none."""
    ecosystem = package.ecosystem
    if ecosystem is Ecosystem.BINARY:
        return "an executable whose dependencies cannot be read: listed, not matched"
    if not package.version:
        return "no version"
    if ecosystem is Ecosystem.GOLANG:
        if package.name == "stdlib":
            stdlib = go_stdlib_version(package.version)
            if stdlib is None:
                return f"Go toolchain version '{package.version}' cannot be compared"
            return _imported(OsLookup(("Go",), "stdlib", stdlib), known)
        if package.version == "(devel)":
            return "the main module was built from a checkout ((devel)): no module version to compare"
        return _imported(OsLookup(("Go",), package.name, package.version.removeprefix("v")), known)
    if ecosystem is Ecosystem.CARGO:
        return _imported(OsLookup(("crates.io",), package.name, package.version), known)
    if distro is None:
        return "no /etc/os-release: the distribution release is unknown"
    if ecosystem is Ecosystem.APK:
        if distro.id in APK_ROLLING:
            # Wolfi and Chainguard are rolling: one ecosystem, no release branch; advisories name origins
            lookup = OsLookup((APK_ROLLING[distro.id],), package.source_name or package.name, package.version)
            return _imported(lookup, known)
        if distro.id != "alpine":
            return f"apk package on '{distro.id}': only Alpine, Wolfi and Chainguard packages are matched"
        release = _MAJOR_MINOR.match(distro.version_id)
        if release is None:
            return f"Alpine release '{distro.version_id}' has no v3.NN branch (edge is not covered)"
        branch = f"Alpine:v{release.group(1)}.{release.group(2)}"
        # Alpine's advisories name the origin (source) package
        return _imported(OsLookup((branch,), package.source_name or package.name, package.version), known)
    if ecosystem is Ecosystem.RPM:
        ecosystems = _rpm_ecosystems(distro, known)
        if isinstance(ecosystems, str):
            return ecosystems
        return _imported(OsLookup(ecosystems, package.name, package.version), known)
    return f"ecosystem {ecosystem.value} is not covered"


def _imported(lookup: OsLookup, known: Callable[[], Collection[str]]) -> OsLookup | str:
    names = known()
    if any(ecosystem in names for ecosystem in lookup.ecosystems):
        return lookup
    base = lookup.ecosystems[0].split(":", 1)[0]
    return f"{NOT_IMPORTED_PREFIX}{lookup.ecosystems[0]} (chainwarden db update -e '{base}', or db import its records)"


def scan_warnings(reasons: Collection[str], counts: dict[str, int]) -> list[str]:
    """One warning per distinct not-covered / not-imported reason, with how many packages it left unchecked."""
    warnings = []
    for reason in sorted(reasons):
        if reason.startswith(NOT_COVERED_PREFIX):
            what = reason[len(NOT_COVERED_PREFIX) :]
            warnings.append(f"{counts[reason]} package(s) not checked for vulnerabilities: {what}")
        elif reason.startswith(NOT_IMPORTED_PREFIX):
            what = reason[len(NOT_IMPORTED_PREFIX) :]
            warnings.append(f"{counts[reason]} package(s) not checked: the database has no records for {what}")
    return warnings
