"""The rpm cataloger over databases written by rpm itself (SQLite), libdb (Berkeley DB) and rpm's NDB layout."""

from __future__ import annotations

import contextlib
import random
import shutil
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden.api import build_inventory
from chainwarden.inventory.rpm import (
    HeaderError,
    RpmDbError,
    bdb_blobs,
    ndb_blobs,
    parse_header,
    read_header,
    split_source_rpm,
    sqlite_blobs,
)
from chainwarden.models import Ecosystem
from support.images import Symlink, make_oci, make_rootfs
from support.rpmbuild import (
    RpmFile,
    RpmSpec,
    build_rpms,
    header_blobs,
    install_rpms,
    require_rpm_tools,
    rpm_query_all,
    write_bdb,
    write_ndb,
)

ALMA_OS_RELEASE = 'NAME="AlmaLinux"\nVERSION="9.0 (Emerald Puma)"\nID="almalinux"\nVERSION_ID="9.0"\nPRETTY_NAME="AlmaLinux 9.0 (Emerald Puma)"\n'

SPECS = (
    RpmSpec(
        "zlib",
        "1.2.11",
        "31.el9",
        license="zlib and Boost",
        vendor="AlmaLinux",
        files=(
            RpmFile("/usr/lib64/libz.so.1.2.11", "zlib"),
            RpmFile("/usr/lib64/libz.so.1", symlink_to="libz.so.1.2.11"),
        ),
    ),
    RpmSpec(
        "openssl",
        "3.0.1",
        "41.el9_0",
        epoch=1,
        license="ASL 2.0",
        vendor="AlmaLinux",
        subpackages={
            "openssl-libs": (RpmFile("/usr/lib64/libssl.so.3", "ssl"), RpmFile("/etc/pki/tls/openssl.cnf", "conf")),
        },
    ),
    RpmSpec("bash", "5.1.8", "4.el9", license="GPLv3+", files=(RpmFile("/usr/bin/bash", "#!bash", mode="0755"),)),
)


@pytest.fixture(scope="module")
def rpm_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A UBI/Alma-shaped rootfs: os-release, /var/lib/rpm/rpmdb.sqlite written by rpm."""
    require_rpm_tools()
    work = tmp_path_factory.mktemp("rpmbuild")
    rpms = build_rpms(work, SPECS)
    root = work / "root"
    install_rpms(root, rpms)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").write_text(ALMA_OS_RELEASE)
    return root


def test_sqlite_rpmdb_is_inventoried_completely(rpm_root: Path) -> None:
    inventory = build_inventory(f"dir:{rpm_root}")
    assert inventory.distro is not None and inventory.distro.id == "almalinux"
    rpms = {p.name: p for p in inventory.packages if p.ecosystem is Ecosystem.RPM}
    assert set(rpms) == {"zlib", "openssl-libs", "bash"}
    assert rpm_query_all(rpm_root, "sqlite") == sorted(
        ["zlib-1.2.11-31.el9.x86_64", "openssl-libs-3.0.1-41.el9_0.x86_64", "bash-5.1.8-4.el9.x86_64"]
    )
    ssl = rpms["openssl-libs"]
    assert ssl.version == "1:3.0.1-41.el9_0"
    assert (ssl.source_name, ssl.source_version) == ("openssl", "1:3.0.1-41.el9_0")
    assert ssl.arch == "x86_64" and ssl.licenses == ("ASL 2.0",) and ssl.supplier == "AlmaLinux"
    assert ssl.purl == (
        "pkg:rpm/almalinux/openssl-libs@3.0.1-41.el9_0?arch=x86_64&distro=almalinux-9.0&epoch=1"
        "&upstream=openssl-3.0.1-41.el9_0.src.rpm"
    )
    assert ssl.files == ("/etc/pki/tls/openssl.cnf", "/usr/lib64/libssl.so.3")
    zlib = rpms["zlib"]
    assert zlib.version == "1.2.11-31.el9" and zlib.found_by == "rpm-db"
    assert zlib.files == ("/usr/lib64/libz.so.1", "/usr/lib64/libz.so.1.2.11")
    # rpm records a digest for the regular file and none for the symlink
    assert zlib.file_digests[0] == ""
    import hashlib

    assert zlib.file_digests[1] == "sha256:" + hashlib.sha256(b"zlib").hexdigest()
    assert zlib.locations[0].path == "/var/lib/rpm/rpmdb.sqlite"


def test_berkeley_db_written_by_libdb_and_read_by_rpm(rpm_root: Path, tmp_path: Path) -> None:
    require_rpm_tools("db5.3_load")
    root = tmp_path / "el8"
    shutil.copytree(rpm_root / "etc", root / "etc")
    write_bdb(rpm_root / "var/lib/rpm/rpmdb.sqlite", root / "var/lib/rpm/Packages")
    # rpm itself reads what libdb wrote: the database is genuine
    assert rpm_query_all(root, "bdb_ro") == rpm_query_all(rpm_root, "sqlite")
    sqlite_inventory = build_inventory(f"dir:{rpm_root}")
    bdb_inventory = build_inventory(f"dir:{root}")
    assert [(p.name, p.version, p.files, p.file_digests) for p in bdb_inventory.packages] == [
        (p.name, p.version, p.files, p.file_digests) for p in sqlite_inventory.packages
    ]
    assert bdb_inventory.packages[0].locations[0].path == "/var/lib/rpm/Packages"


def test_ndb_packages_db_under_sysimage(rpm_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "suse"
    write_ndb(rpm_root / "var/lib/rpm/rpmdb.sqlite", root / "usr/lib/sysimage/rpm/Packages.db")
    make_rootfs(root, {"var/lib/rpm": Symlink("../../usr/lib/sysimage/rpm"), "etc/os-release": ALMA_OS_RELEASE})
    inventory = build_inventory(f"dir:{root}")
    assert sorted(p.name for p in inventory.packages) == ["bash", "openssl-libs", "zlib"]
    assert {p.locations[0].path for p in inventory.packages} == {"/usr/lib/sysimage/rpm/Packages.db"}


def test_rpm_database_left_in_wal_mode_is_read_through_its_log(rpm_root: Path) -> None:
    body = (rpm_root / "var/lib/rpm/rpmdb.sqlite").read_bytes()
    assert body[18:20] in (b"\x02\x02", b"\x01\x01")
    assert len(list(sqlite_blobs(body))) == 3


def test_hostile_databases_are_skipped_with_a_reason(tmp_path: Path) -> None:
    root = make_rootfs(
        tmp_path / "root",
        {"etc/os-release": ALMA_OS_RELEASE, "var/lib/rpm/rpmdb.sqlite": "SQLite format 3\x00" + "x" * 200},
    )
    inventory = build_inventory(f"dir:{root}")
    assert not inventory.packages
    assert [s.what for s in inventory.skipped] == ["rpm database (SQLite)"]


def test_header_bounds_are_enforced(rpm_root: Path) -> None:
    _, blob = header_blobs(rpm_root / "var/lib/rpm/rpmdb.sqlite")[0]
    assert read_header(blob).name
    with pytest.raises(HeaderError):
        parse_header(blob[:-1])  # data shorter than dl
    _, dl = struct.unpack_from(">II", blob)
    with pytest.raises(HeaderError):
        parse_header(struct.pack(">II", 0x10000, dl) + blob[8:])
    # an index entry pointing past the data
    broken = bytearray(blob)
    struct.pack_into(">i", broken, 8 + 8, dl + 1)
    with pytest.raises(HeaderError):
        parse_header(bytes(broken))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_escape_as_other_errors(data: bytes) -> None:
    for parse in (parse_header, read_header):
        with contextlib.suppress(HeaderError):
            parse(data)
    for backend in (bdb_blobs, ndb_blobs, sqlite_blobs):
        with contextlib.suppress(RpmDbError):
            list(backend(data))


def test_corrupted_real_bdb_pages_fail_cleanly(rpm_root: Path, tmp_path: Path) -> None:
    """Mutations of a real libdb file: every outcome is packages or a clean RpmDbError/HeaderError."""
    require_rpm_tools("db5.3_load")
    sample = write_bdb(rpm_root / "var/lib/rpm/rpmdb.sqlite", tmp_path / "Packages").read_bytes()
    generator = random.Random(14)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(600):
        body = bytearray(sample)
        position = generator.randrange(len(body))
        body[position : position + 4] = generator.randbytes(4)
        try:
            for _, blob in bdb_blobs(bytes(body)):
                with contextlib.suppress(HeaderError):
                    read_header(blob)
            outcomes["ok"] += 1
        except RpmDbError:
            outcomes["refused"] += 1
    assert outcomes["ok"] and outcomes["refused"]


def test_source_rpm_names() -> None:
    assert split_source_rpm("zlib-1.2.11-31.el9.src.rpm") == ("zlib", "1.2.11-31.el9")
    assert split_source_rpm("python3.11-3.11.2-2.el9.nosrc.rpm") == ("python3.11", "3.11.2-2.el9")
    assert split_source_rpm("garbage") is None


def test_fedora_style_image_with_sysimage_rpmdb(rpm_root: Path, tmp_path: Path) -> None:
    """Fedora ≥ 36 / openSUSE: the database lives in /usr/lib/sysimage/rpm, /var/lib/rpm links to it."""
    body = (rpm_root / "var/lib/rpm/rpmdb.sqlite").read_bytes()
    image = make_oci(
        tmp_path / "img",
        [
            {
                "etc/os-release": 'ID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40"\n',
                "usr/lib/sysimage/rpm/rpmdb.sqlite": body,
                "var/lib/rpm": Symlink("../../usr/lib/sysimage/rpm"),
            },
            {"usr/bin/bash": "#!bash"},
        ],
    )
    inventory = build_inventory(f"oci:{image}")
    rpms = [p for p in inventory.packages if p.ecosystem is Ecosystem.RPM]
    assert sorted(p.name for p in rpms) == ["bash", "openssl-libs", "zlib"]
    assert {p.locations[0].path for p in rpms} == {"/usr/lib/sysimage/rpm/rpmdb.sqlite"}
    assert all(p.locations[0].layer for p in rpms)
    assert rpms[0].purl.startswith("pkg:rpm/fedora/")
