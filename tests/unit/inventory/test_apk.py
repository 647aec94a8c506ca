"""The apk cataloger over a real Alpine ``installed`` database (syft's fixture, Apache-2.0)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden.api import build_inventory
from chainwarden.inventory.apk import apk_checksum, parse_installed
from chainwarden.models import Ecosystem
from support.images import make_oci, make_rootfs

FIXTURE = Path(__file__).parents[2] / "fixtures" / "apk-installed" / "alpine-3.16-installed"
ALPINE_OS_RELEASE = (
    'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.16.2\nPRETTY_NAME="Alpine Linux v3.16"\n'
    'HOME_URL="https://alpinelinux.org/"\n'
)


def test_every_stanza_of_a_real_database_is_a_package(tmp_path: Path) -> None:
    text = FIXTURE.read_text()
    root = make_rootfs(tmp_path / "root", {"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": text})
    inventory = build_inventory(f"dir:{root}")
    apks = {p.name: p for p in inventory.packages if p.ecosystem is Ecosystem.APK}
    assert len(apks) == text.count("\nP:") + text.startswith("P:") == 14
    assert not inventory.skipped
    ssl = apks["libssl1.1"]
    assert (ssl.version, ssl.source_name, ssl.source_version, ssl.arch) == (
        "1.1.1q-r0",
        "openssl",
        "1.1.1q-r0",
        "x86_64",
    )
    assert ssl.licenses == ("OpenSSL",)
    assert ssl.supplier == "Timo Teras <timo.teras@iki.fi>"
    assert ssl.purl == "pkg:apk/alpine/libssl1.1@1.1.1q-r0?arch=x86_64&distro=alpine-3.16.2&upstream=openssl"
    assert "/lib/libssl.so.1.1" in ssl.files
    assert all(d.startswith("sha1:") and len(d) == 45 for d in ssl.file_digests)
    busybox = apks["busybox"]
    assert busybox.purl == "pkg:apk/alpine/busybox@1.35.0-r17?arch=x86_64&distro=alpine-3.16.2"
    assert "/bin/busybox" in busybox.files
    assert len(busybox.files) == len(busybox.file_digests)
    assert busybox.locations[0].path == "/lib/apk/db/installed"
    assert busybox.locations[0].line == text.splitlines().index("P:busybox")


def test_alpine_release_file_when_os_release_is_missing(tmp_path: Path) -> None:
    root = make_rootfs(
        tmp_path / "root", {"etc/alpine-release": "3.19.1\n", "lib/apk/db/installed": FIXTURE.read_text()}
    )
    inventory = build_inventory(f"dir:{root}")
    assert inventory.distro is not None and (inventory.distro.id, inventory.distro.version_id) == ("alpine", "3.19.1")


def test_image_layers_are_read_for_the_apk_database(tmp_path: Path) -> None:
    image = make_oci(
        tmp_path / "img",
        [
            {"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": FIXTURE.read_text()},
        ],
    )
    inventory = build_inventory(f"oci:{image}")
    assert sum(p.ecosystem is Ecosystem.APK for p in inventory.packages) == 14
    assert all(p.locations[0].layer for p in inventory.packages)


def test_malformed_stanzas_become_skipped_records(tmp_path: Path) -> None:
    text = (
        "P:nover\nA:x86_64\n\nV:1.0-r0\n\nP:ok\nV:1.0-r0\nF:usr/bin\nR:ok\nZ:Q1" + "A" * 27 + "=\nR:../../etc/passwd\n"
        "\nP:musl/evil\nV:1.0-r0\n"  # its purl would name package "evil" in namespace "alpine/musl"
    )
    root = make_rootfs(tmp_path / "root", {"lib/apk/db/installed": text})
    inventory = build_inventory(f"dir:{root}")
    assert [p.name for p in inventory.packages] == ["ok"]
    assert inventory.packages[0].files == ("/usr/bin/ok",)  # a name with a slash is not a file name
    assert sorted(s.what for s in inventory.skipped) == ["apk musl/evil", "apk nover", "apk stanza"]


def test_checksums() -> None:
    import base64

    digest = hashlib.sha1(b"x").digest()
    assert apk_checksum("Q1" + base64.b64encode(digest).decode()) == "sha1:" + digest.hex()
    sha = hashlib.sha256(b"x").digest()
    assert apk_checksum("Q2" + base64.b64encode(sha).decode()) == "sha256:" + sha.hex()
    assert apk_checksum("Q1notbase64!") == ""
    assert apk_checksum("deadbeef") == ""
    assert len(parse_installed("")) == 0


_PIECES = st.sampled_from(["P:", "V:", "F:", "F:..", "R:", "Z:Q1", "o:", "\n", "\n\n", "a", "/", "..", "\u00e9"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_any_text_parses_without_errors(text: str) -> None:
    for stanza in parse_installed(text):
        assert all(path.startswith("/") and "/../" not in path + "/" and "//" not in path for path in stanza.files)
        assert len(stanza.files) == len(stanza.digests)
