"""A realistic inventory and findings shared by the reporter tests.

An image with three layers holding a Debian package with a source package and
an epoch, two copies of one Python distribution, a scoped npm package, and
lockfile entries with lines and hash pins; findings from every analyzer family,
including a VEX "not affected" statement and a rule unknown to the rule table.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from chainwarden.models import (
    Digest,
    Distro,
    Ecosystem,
    Finding,
    Inventory,
    LayerInfo,
    Location,
    Package,
    RuleId,
    Scope,
    Severity,
    Skipped,
    TargetInfo,
)
from chainwarden.report.interface import RuleInfo

FIXED_TIME = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
FIXED_SERIAL = UUID("6f0c1e4e-8f5e-4b8a-9a53-0d5e5d3c2a11")

LAYER_BASE = Digest("sha256:" + "a1" * 32)
LAYER_PIP = Digest("sha256:" + "b2" * 32)
LAYER_APP = Digest("sha256:" + "c3" * 32)
IMAGE_DIGEST = Digest("sha256:" + "d4" * 32)
CONFIG_DIGEST = Digest("sha256:" + "e5" * 32)

TARGET = TargetInfo(
    kind="oci",
    reference="oci:./build/app-image:1.4",
    digest=IMAGE_DIGEST,
    config_digest=CONFIG_DIGEST,
    platform="linux/amd64",
    layers=(
        LayerInfo(LAYER_BASE, Digest("sha256:" + "0a" * 32), 29_000_000, "application/vnd.oci.image.layer.v1.tar+gzip"),
        LayerInfo(
            LAYER_PIP, None, 4_000_000, "application/vnd.oci.image.layer.v1.tar+gzip", "RUN pip install -r r.txt"
        ),
        LayerInfo(LAYER_APP, None, 120_000, "application/vnd.oci.image.layer.v1.tar+zstd", "COPY . /app"),
    ),
    repo_tags=("registry.example.com/team/app-image:1.4",),
)

LIBSSL = Package(
    ecosystem=Ecosystem.DEBIAN,
    name="libssl3",
    version="3.0.11-1~deb12u2",
    purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
    found_by="dpkg-status",
    locations=(Location("/var/lib/dpkg/status", LAYER_BASE),),
    files=("/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/share/doc/libssl3/copyright"),
    source_name="openssl",
    source_version="3.0.11-1~deb12u2",
    arch="amd64",
    licenses=("Apache-2.0", "Artistic-1.0-Perl OR GPL-1.0-or-later"),
)
TZDATA = Package(
    ecosystem=Ecosystem.DEBIAN,
    name="tzdata",
    version="1:2024a-0+deb12u1",
    purl="pkg:deb/debian/tzdata@1:2024a-0%2Bdeb12u1?arch=all&distro=debian-12&epoch=1",
    found_by="dpkg-status",
    locations=(Location("/var/lib/dpkg/status", LAYER_BASE),),
    files=("/usr/share/zoneinfo/Europe/Zürich",),
    arch="all",
    licenses=("public-domain", "Licence publique générale"),
)
REQUESTS_SYSTEM = Package(
    ecosystem=Ecosystem.PYPI,
    name="requests",
    version="2.31.0",
    purl="pkg:pypi/requests@2.31.0",
    found_by="python-dist-info",
    locations=(Location("/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", LAYER_BASE),),
    files=("/usr/lib/python3/dist-packages/requests/__init__.py",),
    licenses=("Apache-2.0",),
)
REQUESTS_VENDORED = Package(
    ecosystem=Ecosystem.PYPI,
    name="requests",
    version="2.31.0",
    purl="pkg:pypi/requests@2.31.0",
    found_by="python-dist-info",
    locations=(Location("/opt/tool/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA", LAYER_PIP),),
    licenses=("Apache 2.0",),
)
URLLIB3_LOCK = Package(
    ecosystem=Ecosystem.PYPI,
    name="urllib3",
    version="1.26.5",
    purl="pkg:pypi/urllib3@1.26.5",
    found_by="requirements-txt",
    locations=(Location("/app/requirements.txt", LAYER_APP, line=3),),
    direct=True,
    scope=Scope.PROD,
    hashes=("sha256:" + "12" * 32, "md5:not-a-digest"),
)
BABEL_CORE = Package(
    ecosystem=Ecosystem.NPM,
    name="@babel/core",
    version="7.23.0",
    purl="pkg:npm/%40babel/core@7.23.0",
    found_by="npm-package-lock",
    locations=(Location("/app/package-lock.json", LAYER_APP, line=41, column=5),),
    direct=False,
    scope=Scope.DEV,
    hashes=("sha512-" + "q83vEjRnk0Lu1szJ6wQ3yB1y1JcU5K4E4s6i0QKx3hL0Wf0j7W1m9oJ6jz1T1Yw9m2iH9l5Lk1c3b4y1s2U3Vw==",),
    licenses=("MIT",),
)
LODASH_RANGE = Package(
    ecosystem=Ecosystem.NPM,
    name="lodash",
    version="",
    purl="pkg:npm/lodash",
    found_by="npm-package-json",
    locations=(Location("/app/package.json", LAYER_APP, line=12),),
    direct=True,
    pinned=False,
)

INVENTORY = Inventory(
    target=TARGET,
    packages=(LIBSSL, TZDATA, REQUESTS_SYSTEM, REQUESTS_VENDORED, URLLIB3_LOCK, BABEL_CORE, LODASH_RANGE),
    distro=Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
    skipped=(Skipped("character device", Location("/dev/null", LAYER_BASE), "special file, not represented"),),
)

DIR_INVENTORY = Inventory(
    target=TargetInfo(kind="dir", reference="./my-project"),
    packages=(
        Package(
            ecosystem=Ecosystem.PYPI,
            name="flask",
            version="3.0.0",
            purl="pkg:pypi/flask@3.0.0",
            found_by="requirements-txt",
            locations=(Location("requirements.txt", line=1),),
            direct=True,
        ),
    ),
)

FINDINGS: tuple[Finding, ...] = (
    Finding(
        rule_id=RuleId("vuln"),
        severity=Severity.MEDIUM,
        title="openssl: excessive time spent in DH check",
        package=LIBSSL,
        location=LIBSSL.locations[0],
        aliases=frozenset({"CVE-2023-5678", "DSA-5532-1"}),
        fixed_versions=("3.0.11-1~deb12u3",),
        references=("https://www.openssl.org/news/secadv/20231106.txt",),
        description="Generating excessively long X9.42 DH keys may be slow.",
    ),
    Finding(
        rule_id=RuleId("vuln"),
        severity=Severity.HIGH,
        title="urllib3 Cookie header leaks on cross-origin redirect",
        package=URLLIB3_LOCK,
        location=URLLIB3_LOCK.locations[0],
        evidence=("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N",),
        aliases=frozenset({"CVE-2023-43804", "GHSA-v845-jxx5-vc9f", "PYSEC-2023-192"}),
        fixed_versions=("1.26.17", "2.0.6"),
        tags=frozenset({"in-use:imported"}),
    ),
    Finding(
        rule_id=RuleId("vuln"),
        severity=Severity.MEDIUM,
        title="Requests Proxy-Authorization header leak",
        package=REQUESTS_SYSTEM,
        location=REQUESTS_SYSTEM.locations[0],
        aliases=frozenset({"CVE-2023-32681", "GHSA-j8r2-6x86-q33q"}),
        fixed_versions=("2.31.0",),
        tags=frozenset({"vex:not_affected", "vex-justification:vulnerable_code_not_in_execute_path"}),
    ),
    Finding(
        rule_id=RuleId("vuln"),
        severity=Severity.MEDIUM,
        title="Requests Proxy-Authorization header leak",
        package=REQUESTS_VENDORED,
        location=REQUESTS_VENDORED.locations[0],
        aliases=frozenset({"CVE-2023-32681", "GHSA-j8r2-6x86-q33q"}),
        fixed_versions=("2.31.0",),
    ),
    Finding(
        rule_id=RuleId("dockerfile-unpinned-base"),
        severity=Severity.HIGH,
        title="Base image debian:bookworm is not pinned by digest",
        location=Location("Dockerfile", line=1, column=6),
        evidence=("FROM debian:bookworm",),
        remediation="Pin the base image: FROM debian:bookworm@sha256:<digest>.",
    ),
    Finding(
        rule_id=RuleId("typosquat"),
        severity=Severity.CRITICAL,
        title="@babel/core looks like a typosquat of @babel/core — «ünïcode» check",
        package=BABEL_CORE,
        location=BABEL_CORE.locations[0],
        evidence=("edit distance 1 from a top-1000 package",),
        remediation="Remove the package and rotate any secret the build could read.",
    ),
    Finding(
        rule_id=RuleId("requirements-unpinned"),
        severity=Severity.LOW,
        title="lodash is not pinned to an exact version",
        package=LODASH_RANGE,
        location=LODASH_RANGE.locations[0],
    ),
    Finding(
        rule_id=RuleId("install-script"),
        severity=Severity.INFO,
        title="Package runs a postinstall script",
        evidence=("node scripts/postinstall.js",),
    ),
)

RULES: dict[str, RuleInfo] = {
    "vuln": RuleInfo(
        id="vuln",
        name="KnownVulnerability",
        short_description="A package has a known vulnerability.",
        help_text="The package version is affected by a published advisory. Upgrade to a fixed version.",
        default_severity=Severity.HIGH,
        help_uri="https://osv.dev/",
    ),
    "dockerfile-unpinned-base": RuleInfo(
        id="dockerfile-unpinned-base",
        name="DockerfileUnpinnedBase",
        short_description="Base image not pinned by digest.",
        help_text="A tag can be moved to other content at any time. Pin `FROM` to an `@sha256:` digest.",
        default_severity=Severity.MEDIUM,
    ),
    "typosquat": RuleInfo(
        id="typosquat",
        name="Typosquat",
        short_description="Package name imitates a popular package.",
        help_text="Attackers publish look-alike names. Check the name against the intended package.",
        default_severity=Severity.HIGH,
    ),
    "requirements-unpinned": RuleInfo(
        id="requirements-unpinned",
        name="RequirementsUnpinned",
        short_description="Dependency not pinned to an exact version.",
        help_text="A range lets a new, possibly malicious, release in. Pin with `==` and hashes.",
        default_severity=Severity.LOW,
    ),
}


SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
RECREATE_ENV = "CHAINWARDEN_RECREATE_SNAPSHOTS"


def assert_snapshot(name: str, actual: str) -> None:
    """Compare ``actual`` with the golden file ``snapshots/<name>``.

    With ``CHAINWARDEN_RECREATE_SNAPSHOTS=1`` the golden file is rewritten
    instead; review the diff before committing it.
    """
    path = SNAPSHOT_DIR / name
    if os.environ.get(RECREATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path}; run with {RECREATE_ENV}=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its snapshot; run with {RECREATE_ENV}=1 to accept the change"
