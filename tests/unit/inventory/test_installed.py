"""Installed-package catalogers over rootfs directories and images."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.api import build_inventory
from chainwarden.inventory.dpkg import parse_control_stanzas, parse_os_release
from chainwarden.inventory.npm import package_root
from chainwarden.inventory.python import parse_metadata
from chainwarden.models import Ecosystem
from support.images import Symlink, dist_info, dpkg_status_entry, make_oci, make_rootfs, npm_package

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def test_dpkg_status_with_sources_files_and_licenses(tmp_path: Path) -> None:
    status = "\n".join(
        [
            dpkg_status_entry("libssl3", "3.0.11-1~deb12u2", source="openssl"),
            dpkg_status_entry("libc6", "2.36-9+deb12u4", source="glibc"),
            dpkg_status_entry("bash", "5.2.15-2+b2", source="bash (5.2.15-2)"),
            dpkg_status_entry("removed", "1.0", status="deinstall ok config-files"),
            dpkg_status_entry("epoch", "1:2.3-4"),
        ]
    )
    root = make_rootfs(
        tmp_path / "rootfs",
        {
            "etc/os-release": OS_RELEASE,
            "var/lib/dpkg/status": status,
            "var/lib/dpkg/info/libssl3:amd64.list": "/.\n/usr\n/usr/lib\n/usr/lib/libssl.so.3\n",
            "var/lib/dpkg/info/bash.list": "/bin\n/bin/bash\n/usr/share/doc/bash/copyright\n",
            "var/lib/dpkg/info/bash.md5sums": "abc  bin/bash\n",
            "usr/lib/libssl.so.3": "ELF",
            "usr/bin/bash": "ELF",
            "bin": Symlink("usr/bin"),
            "usr/share/doc/bash/copyright": "Files: *\nLicense: GPL-3+\n\nFiles: lib/*\nLicense: GPL-3+\n",
        },
    )
    inventory = build_inventory(f"dir:{root}")
    assert inventory.distro is not None
    assert (inventory.distro.id, inventory.distro.version_id, inventory.distro.codename) == ("debian", "12", "bookworm")
    debs = {p.name: p for p in inventory.packages if p.ecosystem is Ecosystem.DEBIAN}
    assert set(debs) == {"libssl3", "libc6", "bash", "epoch"}
    assert (debs["libssl3"].source_name, debs["libssl3"].source_version) == ("openssl", "3.0.11-1~deb12u2")
    assert (debs["bash"].source_name, debs["bash"].source_version) == ("bash", "5.2.15-2")
    assert debs["epoch"].version == "1:2.3-4"
    assert debs["libssl3"].files == ("/usr/lib/libssl.so.3",)
    assert debs["bash"].files == ("/bin/bash", "/usr/share/doc/bash/copyright")
    assert debs["bash"].licenses == ("GPL-3.0-or-later",)
    assert debs["libssl3"].purl == (
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    )
    assert debs["bash"].purl.endswith("upstream=bash%405.2.15-2")
    assert debs["libc6"].locations[0].line == 10


def test_distroless_status_d(tmp_path: Path) -> None:
    root = make_rootfs(
        tmp_path / "rootfs",
        {
            "etc/os-release": OS_RELEASE,
            "var/lib/dpkg/status.d/base": dpkg_status_entry("base-files", "12.4+deb12u5"),
            "var/lib/dpkg/status.d/base.md5sums": "d41d8cd98f00b204e9800998ecf8427e  etc/issue\n",
            "var/lib/dpkg/status.d/tzdata": dpkg_status_entry("tzdata", "2024a-0+deb12u1", arch="all"),
        },
    )
    inventory = build_inventory(f"dir:{root}")
    names = {p.name: p for p in inventory.packages}
    assert set(names) == {"base-files", "tzdata"}
    assert names["base-files"].files == ("/etc/issue",)


def test_python_dist_info_egg_info_and_venvs(tmp_path: Path) -> None:
    files = (
        dist_info(
            "Flask",
            "2.0.0",
            ["flask/__init__.py", "../../../bin/flask"],
            site="/usr/local/lib/python3.11/site-packages",
        )
        | dist_info(
            "zope.interface", "6.0", ["zope/interface/__init__.py"], site="/opt/venv/lib/python3.11/site-packages"
        )
        | {
            "usr/lib/python3/dist-packages/legacy.egg-info/PKG-INFO": "Metadata-Version: 1.1\nName: Legacy_Pkg\nVersion: 0.1\n",
            "usr/lib/python3/dist-packages/legacy.egg-info/installed-files.txt": "../legacy/__init__.py\nPKG-INFO\n",
            "usr/lib/python3.11/lib-dynload/argparse-1.1.egg-info": "Metadata-Version: 1.0\nName: argparse\nVersion: 1.1\n",
            "usr/lib/python3/dist-packages/broken-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nSummary: no name\n",
        }
    )
    root = make_rootfs(tmp_path / "rootfs", files)
    inventory = build_inventory(f"dir:{root}")
    found = {p.name: p for p in inventory.packages}
    assert set(found) == {"flask", "zope-interface", "legacy-pkg", "argparse"}
    assert "/usr/local/bin/flask" in found["flask"].files
    assert "/usr/local/lib/python3.11/site-packages/flask/__init__.py" in found["flask"].files
    assert found["legacy-pkg"].files == (
        "/usr/lib/python3/dist-packages/legacy.egg-info/PKG-INFO",
        "/usr/lib/python3/dist-packages/legacy/__init__.py",
    )
    assert found["flask"].purl == "pkg:pypi/flask@2.0.0"
    assert found["flask"].licenses == ("MIT",)
    assert any("no Name or Version" in s.reason for s in inventory.skipped)


def test_metadata_license_sources() -> None:
    text = (
        "Metadata-Version: 2.1\nName: x\nVersion: 1\nLicense: UNKNOWN\n"
        "Classifier: License :: OSI Approved :: BSD License\n"
    )
    assert parse_metadata(text) == ("x", "1", ("BSD License",))
    assert parse_metadata("Name: y\nVersion: 2\nLicense-Expression: MIT OR Apache-2.0\n")[2] == ("MIT OR Apache-2.0",)


def test_npm_nested_scoped_global_and_duplicates(tmp_path: Path) -> None:
    files = (
        npm_package("/app", "lodash", "4.17.21")
        | npm_package("/app/node_modules/express", "lodash", "4.17.4")
        | npm_package("/app", "@babel/core", "7.0.0", files=("lib/index.js",))
        | npm_package("/usr/lib", "npm", "9.2.0")
        | {
            "/app/node_modules/express/package.json": '{"name": "express", "version": "4.18.2"}',
            "/app/node_modules/express/lib/router/package.json": '{"name": "not-a-package", "version": "0"}',
            "/app/node_modules/bad/package.json": "{oops",
            "/app/node_modules/.bin/x": "#!/bin/sh\n",
            "/app/node_modules/private/package.json": '{"private": true}',
        }
    )
    inventory = build_inventory(f"dir:{make_rootfs(tmp_path / 'rootfs', files)}")
    npm = sorted((p.name, p.version, p.locations[0].path) for p in inventory.packages)
    assert npm == [
        ("@babel/core", "7.0.0", "/app/node_modules/@babel/core/package.json"),
        ("express", "4.18.2", "/app/node_modules/express/package.json"),
        ("lodash", "4.17.21", "/app/node_modules/lodash/package.json"),
        ("lodash", "4.17.4", "/app/node_modules/express/node_modules/lodash/package.json"),
        ("npm", "9.2.0", "/usr/lib/node_modules/npm/package.json"),
    ]
    express = next(p for p in inventory.packages if p.name == "express")
    assert "/app/node_modules/express/lib/router/package.json" in express.files
    assert not any("/node_modules/lodash/" in f for f in express.files)
    scoped = next(p for p in inventory.packages if p.name == "@babel/core")
    assert scoped.purl == "pkg:npm/%40babel/core@7.0.0"
    assert any("bad/package.json" in (s.location.path if s.location else "") for s in inventory.skipped)


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("/a/node_modules/x/lib/y.js", "/a/node_modules/x"),
        ("/a/node_modules/@s/x/package.json", "/a/node_modules/@s/x"),
        ("/a/node_modules/x/node_modules/y/z", "/a/node_modules/x/node_modules/y"),
        ("/a/node_modules/.bin/tool", None),
        ("/a/lib/x.js", None),
        ("/a/node_modules/@s", None),
    ],
)
def test_package_root(path: str, root: str | None) -> None:
    assert package_root(path) == root


def test_image_and_rootfs_give_the_same_packages(tmp_path: Path) -> None:
    tree = {
        "/etc/os-release": OS_RELEASE,
        "/var/lib/dpkg/status": dpkg_status_entry("zlib1g", "1:1.2.13.dfsg-1", source="zlib"),
        **dist_info("six", "1.16.0", ["six.py"]),
        **npm_package("/app", "minimist", "1.2.0"),
    }
    from_dir = build_inventory(f"dir:{make_rootfs(tmp_path / 'rootfs', tree)}")
    from_image = build_inventory(f"oci:{make_oci(tmp_path / 'img', [tree])}")
    assert [(p.purl, p.files) for p in from_dir.packages] == [(p.purl, p.files) for p in from_image.packages]


def test_control_stanza_parser_handles_continuations() -> None:
    text = "Package: a\nDescription: short\n long line\n .\n more\n\n\nPackage: b\nVersion: 1\n"
    stanzas = parse_control_stanzas(text)
    assert [line for line, _ in stanzas] == [1, 8]
    assert stanzas[0][1]["Description"] == "short\nlong line\n.\nmore"


def test_os_release_quoting() -> None:
    distro = parse_os_release("ID='ubuntu'\nVERSION_ID=\"22.04\"\n# comment\nGARBAGE\n")
    assert distro is not None and (distro.id, distro.version_id) == ("ubuntu", "22.04")
    assert parse_os_release("NAME=x\n") is None


def test_rootfs_symlinks_never_reach_the_host(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("Package: host-only\nVersion: 1\nStatus: install ok installed\n")
    root = make_rootfs(tmp_path / "rootfs", {"var/lib/dpkg/status": Symlink(str(secret))})
    inventory = build_inventory(f"dir:{root}")
    assert inventory.packages == ()


def test_debian_shipped_node_modules(tmp_path: Path) -> None:
    files = {
        "/usr/share/nodejs/debug/package.json": '{"name": "debug", "version": "4.3.4"}',
        "/usr/share/nodejs/@types/node/package.json": '{"name": "@types/node", "version": "18.0.0"}',
        "/usr/lib/x86_64-linux-gnu/nodejs/bufferutil/package.json": '{"name": "bufferutil", "version": "4.0.7"}',
        "/usr/share/nodejs/web-streams-polyfill/es2018/package.json": '{"name": "x", "version": "UNKNOWN"}',
        "/usr/share/doc/node-readdirp/package.json": '{"name": "readdirp", "version": "3.6.0"}',
    }
    inventory = build_inventory(f"dir:{make_rootfs(tmp_path / 'rootfs', files)}")
    assert sorted((p.name, p.found_by) for p in inventory.packages) == [
        ("@types/node", "npm-debian"),
        ("bufferutil", "npm-debian"),
        ("debug", "npm-debian"),
    ]


def test_project_config_excludes_apply_but_never_for_a_rootfs(tmp_path: Path) -> None:
    tree = {
        "chainwarden.toml": 'exclude = ["vendor/*"]\n',
        **npm_package("/app", "lodash", "4.17.21"),
        **npm_package("/vendor", "evil", "1.0.0"),
    }
    project = make_rootfs(tmp_path / "project", tree)
    assert [p.name for p in build_inventory(f"dir:{project}").packages] == ["lodash"]
    rootfs = make_rootfs(tmp_path / "rootfs", {**tree, "etc/os-release": OS_RELEASE})
    assert sorted(p.name for p in build_inventory(f"dir:{rootfs}").packages) == ["evil", "lodash"]
