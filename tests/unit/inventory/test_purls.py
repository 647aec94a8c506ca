"""Every purl a chainwarden cataloger writes is canonical as written.

Reports rely on it: the CycloneDX writer puts the purl of a package found by
one of :data:`~chainwarden.models.CATALOGER_IDS` into the SBOM as it stands,
without parsing it again, so ``PackageURL.from_string(purl).to_string()`` must
give back the very same text. Held here for every cataloger on real inputs (the
peers' lockfile fixtures, Alpine's installed database, packages built by rpm and
Go, a cargo-auditable section), and for each purl builder on any text a
cataloger accepts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packageurl import PackageURL
from packaging.utils import canonicalize_name

from chainwarden.api import build_inventory
from chainwarden.inventory.apk import apk_purl
from chainwarden.inventory.binaries import binary_purl, cargo_purl, golang_purl
from chainwarden.inventory.bounds import (
    debian_name_problem,
    go_module_path_problem,
    npm_name_problem,
    package_name_problem,
    pypi_name_problem,
)
from chainwarden.inventory.dpkg import deb_purl
from chainwarden.inventory.npm import npm_purl
from chainwarden.inventory.python import pypi_purl
from chainwarden.inventory.rpm import RpmHeader, rpm_purl
from chainwarden.models import CATALOGER_IDS, Distro, Package
from support.gobuild import build_go_binary_with_sums, require_go, shared_cache
from support.images import Content, dist_info, dpkg_status_entry, make_rootfs, npm_package
from support.rpmbuild import RpmFile, RpmSpec, build_rpms, install_rpms, require_rpm_tools
from unit.inventory.lockfiles.test_lockfile_peer_fixtures import ALL as LOCKFILE_FIXTURES
from unit.inventory.lockfiles.test_lockfile_peer_fixtures import run as run_lockfile_fixture

FIXTURES = Path(__file__).parents[2] / "fixtures"


def canonical(purl: str) -> str:
    return str(PackageURL.from_string(purl).to_string())


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding what every installed-package cataloger reads, real where it can be."""
    require_rpm_tools()
    require_go()
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy (binutils) is not installed")
    work = tmp_path_factory.mktemp("purls")
    rpms = build_rpms(
        work,
        [
            RpmSpec("openssl", "3.0.7", "27.el9", epoch=1, files=(RpmFile("/usr/lib64/libssl.so.3", "ssl"),)),
            RpmSpec("libstdc++", "11.4.1", "2.1.el9~beta^1", files=(RpmFile("/usr/lib64/libstdc++.so.6", "c"),)),
        ],
    )
    root = work / "root"
    install_rpms(root, rpms)
    audit = {
        "packages": [
            {"name": "app", "version": "0.1.0", "source": "local", "root": True},
            {"name": "serde_json", "version": "1.0.108", "source": "crates.io"},
            {"name": "Inflector", "version": "0.11.4+build.7", "source": "registry"},
        ]
    }
    payload = work / "dep-v0"
    payload.write_bytes(zlib.compress(json.dumps(audit).encode()))
    true = Path(shutil.which("true") or "/bin/true").read_bytes()  # a C executable owned by no package here
    rusty = work / "rusty"
    rusty.write_bytes(true)
    subprocess.run(["objcopy", "--add-section", f".dep-v0={payload}", str(rusty)], check=True)
    go = build_go_binary_with_sums(work, cache=shared_cache(tmp_path_factory))
    status = "\n".join(
        [
            dpkg_status_entry("libc6", "2.36-9+deb12u4", source="glibc"),
            dpkg_status_entry("tzdata", "1:2024a-0+deb12u1", arch="all"),
            dpkg_status_entry("libstdc++6", "12.2.0-14~bpo11+1", source="gcc-12 (12.2.0-14)"),
        ]
    )
    files: dict[str, Content] = {
        "etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
        "var/lib/dpkg/status": status,
        "lib/apk/db/installed": (FIXTURES / "apk-installed" / "alpine-3.16-installed").read_bytes(),
        **dist_info("Zope.Interface_x", "6.0.post1"),
        **dist_info("ruamel.yaml", "0.18.5+local.1"),
        **npm_package("/app", "@Babel/Core", "7.23.0-beta.1"),
        **npm_package("/app", "JSONStream", "1.3.5"),
        "/usr/share/nodejs/@types/node/package.json": '{"name": "@types/node", "version": "18.0.0"}',
        "/usr/local/bin/rusty": rusty.read_bytes(),
        "/usr/local/bin/summed": go.read_bytes(),
        "/usr/local/bin/tool": true,
    }
    make_rootfs(root, files)
    for name in ("rusty", "summed", "tool"):
        (root / "usr/local/bin" / name).chmod(0o755)
    return root


def test_every_cataloger_writes_canonical_purls(everything: Path) -> None:
    packages: list[Package] = list(build_inventory(f"dir:{everything}").packages)
    for fixture in LOCKFILE_FIXTURES:
        packages += run_lockfile_fixture(fixture).packages
    # every cataloger ran, and each is one whose purls reports trust
    assert {p.found_by for p in packages} == CATALOGER_IDS
    for package in packages:
        if package.purl:
            assert canonical(package.purl) == package.purl, (package.found_by, package.purl)
    # the inputs hold what would be normalised if it were not already: epochs, "+" and "~", scopes, capitals
    purls = {p.purl for p in packages}
    assert "pkg:npm/%40Babel/core@7.23.0-beta.1" in purls  # packageurl lowers npm names, not scopes
    assert "pkg:pypi/zope-interface-x@6.0.post1" in purls
    assert any(p.startswith("pkg:deb/debian/tzdata@1:2024a-0%2Bdeb12u1?") for p in purls)
    assert any(p.startswith("pkg:rpm/debian/libstdc%2B%2B@11.4.1-2.1.el9~beta%5E1?") for p in purls)
    assert "pkg:cargo/Inflector@0.11.4%2Bbuild.7" in purls


# -- each purl builder, on any text its cataloger lets through ------------------------------------

TEXT = st.text(max_size=24)
SOME_TEXT = st.text(min_size=1, max_size=24)
DISTROS = st.one_of(st.none(), st.builds(Distro, TEXT, TEXT))
ANY_NAME = st.text(min_size=1, max_size=24)


@settings(max_examples=300)
@given(
    name=st.from_regex(r"[a-z0-9][a-z0-9+.-]{1,30}", fullmatch=True),
    version=SOME_TEXT,
    arch=st.one_of(st.none(), SOME_TEXT),
    distro=DISTROS,
    source=TEXT,
    source_version=TEXT,
)
def test_deb_purls(
    name: str, version: str, arch: str | None, distro: Distro | None, source: str, source_version: str
) -> None:
    assert debian_name_problem(name) is None
    purl = deb_purl(name, version, arch, distro, source or name, source_version or version)
    assert canonical(purl) == purl


@settings(max_examples=300)
@given(
    name=ANY_NAME.filter(lambda n: package_name_problem(n, "apk") is None),
    version=SOME_TEXT,
    arch=st.one_of(st.none(), SOME_TEXT),
    origin=TEXT,
    distro=DISTROS,
)
def test_apk_purls(name: str, version: str, arch: str | None, origin: str, distro: Distro | None) -> None:
    purl = apk_purl(name, version, arch, origin or name, distro)
    assert canonical(purl) == purl


@settings(max_examples=300)
@given(
    name=ANY_NAME.filter(lambda n: package_name_problem(n, "rpm") is None),
    version=SOME_TEXT,
    release=SOME_TEXT,
    epoch=st.one_of(st.none(), st.integers(0, 2**32)),
    arch=st.one_of(st.none(), SOME_TEXT),
    source_rpm=st.one_of(st.none(), SOME_TEXT),
    distro=DISTROS,
)
def test_rpm_purls(
    name: str,
    version: str,
    release: str,
    epoch: int | None,
    arch: str | None,
    source_rpm: str | None,
    distro: Distro | None,
) -> None:
    header = RpmHeader(name, version, release, epoch, arch, source_rpm, None, None, None, (), (), ())
    purl = rpm_purl(header, distro)
    assert canonical(purl) == purl


@settings(max_examples=300)
@given(path=st.text(min_size=1, max_size=40).filter(lambda p: go_module_path_problem(p) is None), version=TEXT)
def test_golang_purls(path: str, version: str) -> None:
    purl = golang_purl(path, version)
    assert canonical(purl) == purl


@settings(max_examples=300)
@given(name=st.from_regex(r"(@[a-zA-Z0-9~-][a-zA-Z0-9._~-]{0,12}/)?[a-zA-Z0-9~-][a-zA-Z0-9._~-]{0,12}", fullmatch=True))
def test_npm_purls(name: str) -> None:
    if npm_name_problem(name) is not None:
        return
    for version in ("", "1.0.0-rc.1+build.5", "0.0.0-use.local"):
        purl = npm_purl(name, version)
        assert canonical(purl) == purl


@settings(max_examples=300)
@given(name=st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True), version=TEXT)
def test_pypi_purls(name: str, version: str) -> None:
    assert pypi_name_problem(name) is None
    purl = pypi_purl(canonicalize_name(name), version)
    assert canonical(purl) == purl


@settings(max_examples=300)
@given(name=ANY_NAME.filter(lambda n: package_name_problem(n, "Rust crate") is None), version=TEXT)
def test_cargo_purls(name: str, version: str) -> None:
    purl = cargo_purl(name, version)
    assert canonical(purl) == purl


@settings(max_examples=300)
@given(name=ANY_NAME.filter(lambda n: "/" not in n), digest=st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
def test_unknown_executable_purls(name: str, digest: str) -> None:
    # any file name at all: an unknown executable is never left out
    purl = binary_purl(name, digest)
    assert canonical(purl) == purl


@pytest.mark.parametrize(
    ("problem", "name"),
    [
        (lambda n: package_name_problem(n, "apk"), "musl/evil"),
        (lambda n: package_name_problem(n, "rpm"), "a b"),
        (lambda n: package_name_problem(n, "Rust crate"), "serde\n"),
        (go_module_path_problem, "example.com/"),
        (go_module_path_problem, "example.com//x"),
        (go_module_path_problem, " "),
    ],
)
def test_names_that_would_name_another_purl_are_refused(problem: object, name: str) -> None:
    assert problem(name) is not None  # type: ignore[operator]
