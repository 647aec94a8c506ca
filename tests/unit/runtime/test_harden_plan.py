"""Hardening plans on small rootfs trees shaped like real Debian images (no sandbox needed).

Each case here is a bug a real image (Debian bookworm + python3 + nodejs)
exposed: merged-/usr symlinks owned under their /bin name, alternatives and
init links left dangling, npm packages shipped inside a Debian package,
PyPI metadata describing Debian-shipped code, bytecode Debian compiles at
install time, ``Multi-Arch: same`` info file names, directories left empty.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from chainwarden.api import build_inventory
from chainwarden.models import Ecosystem, Inventory, Location, Package, Severity, TargetInfo
from chainwarden.runtime.harden import (
    HardenOptions,
    apply_plan,
    compare_vulnerabilities,
    hardened_history,
    keep_reason,
    plan_hardening,
    used_names,
)
from chainwarden.runtime.profile import FileUse, Profile, ProfileBuilder
from chainwarden.runtime.trace import Access, ExecEvent
from chainwarden.sources.rootfs import DirectoryView
from chainwarden.vulndb import import_osv
from support.images import Content, Symlink, dist_info, dpkg_status_entry, make_rootfs

SITE = "/usr/lib/python3/dist-packages"


def _dpkg(packages: dict[str, tuple[str, list[str]]]) -> dict[str, Content]:
    """Status stanzas and ``info/*.list`` for ``name[:arch] → (version, files)``."""
    stanzas = []
    tree: dict[str, Content] = {}
    for key, (version, files) in packages.items():
        name, _, arch = key.partition(":")
        stanzas.append(dpkg_status_entry(name, version, arch=arch or "all"))
        tree[f"/var/lib/dpkg/info/{key}.list"] = "/.\n" + "".join(f"{f}\n" for f in files)
        tree[f"/var/lib/dpkg/info/{key}.md5sums"] = "".join(
            f"00000000000000000000000000000000  {f[1:]}\n" for f in files
        )
    tree["/var/lib/dpkg/status"] = "\n".join(stanzas)
    return tree


def _image_tree() -> dict[str, Content]:
    tree: dict[str, Content] = {
        # merged /usr, as debootstrap makes it for bookworm
        "/bin": Symlink("usr/bin"),
        "/lib": Symlink("usr/lib"),
        "/lib64": Symlink("usr/lib64"),
        "/usr/lib64/ld-linux-x86-64.so.2": Symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": "ELF loader",
        "/usr/lib/x86_64-linux-gnu/libc.so.6": "ELF libc",
        "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
        "/usr/bin/python3.11": "ELF python",
        "/usr/bin/python3": Symlink("python3.11"),
        # python-is-python3: only a symlink to a used program; nobody ran `python`
        "/usr/bin/python": Symlink("python3"),
        # dash: listed as /bin/dash and /bin/sh, living in /usr/bin
        "/usr/bin/dash": "ELF dash",
        "/usr/bin/sh": Symlink("dash"),
        # an alternatives chain and init links: created by maintainer scripts, owned by nobody
        "/usr/bin/mawk": "ELF mawk",
        "/etc/alternatives/awk": Symlink("/usr/bin/mawk"),
        "/usr/bin/awk": Symlink("/etc/alternatives/awk"),
        "/etc/init.d/hwclock.sh": "#!/bin/sh\n",
        "/etc/rc0.d/K01hwclock.sh": Symlink("../init.d/hwclock.sh"),
        # dangling before hardening: not ours to touch
        "/etc/ssl/certs/old.pem": Symlink("/usr/share/ca-certificates/gone.crt"),
        # Debian's node-acorn ships two npm packages; only acorn is required
        "/usr/share/nodejs/acorn/package.json": '{"name": "acorn", "version": "8.8.1"}',
        "/usr/share/nodejs/acorn/dist/acorn.js": "module.exports = {};\n",
        "/usr/share/nodejs/acorn-jsx/package.json": '{"name": "acorn-jsx", "version": "5.3.2"}',
        "/usr/share/nodejs/acorn-jsx/index.js": "module.exports = {};\n",
        # python3-setuptools: code plus an egg-info that lists nothing but itself
        f"{SITE}/_distutils_hack/__init__.py": "# shim\n",
        f"{SITE}/setuptools/__init__.py": "# setuptools\n",
        f"{SITE}/setuptools-66.1.1.egg-info/PKG-INFO": "Metadata-Version: 2.1\nName: setuptools\nVersion: 66.1.1\n",
        # a Debian Python package nobody imports, with the bytecode py3compile left
        f"{SITE}/unused/__init__.py": "# unused\n",
        f"{SITE}/unused/__pycache__/__init__.cpython-311.pyc": b"\xa7\r\r\n bytecode",
        # a directory the app probes for plugins: stays even when emptied
        "/opt/plugins/README": "plugins go here\n",
    }
    tree |= _dpkg(
        {
            "libc6:amd64": (
                "2.36-9",
                [
                    "/lib64/ld-linux-x86-64.so.2",
                    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                    "/lib/x86_64-linux-gnu/libc.so.6",
                ],
            ),
            "base-files": ("12.4", ["/etc/os-release"]),
            "python3.11-minimal": ("3.11.2-6", ["/usr/bin/python3.11"]),
            "python3-minimal": ("3.11.2-1", ["/usr/bin/python3"]),
            "python-is-python3": ("3.11.2-1", ["/usr/bin/python"]),
            "dash": ("0.5.12-2", ["/bin/dash", "/bin/sh"]),
            "mawk": ("1.3.4-1", ["/usr/bin/mawk"]),
            "util-linux-extra": ("2.38.1-5", ["/etc/init.d/hwclock.sh"]),
            "node-acorn": (
                "8.8.1",
                [
                    "/usr/share/nodejs/acorn/package.json",
                    "/usr/share/nodejs/acorn/dist/acorn.js",
                    "/usr/share/nodejs/acorn-jsx/package.json",
                    "/usr/share/nodejs/acorn-jsx/index.js",
                ],
            ),
            "python3-setuptools": (
                "66.1.1-1",
                [
                    f"{SITE}/_distutils_hack/__init__.py",
                    f"{SITE}/setuptools/__init__.py",
                    f"{SITE}/setuptools-66.1.1.egg-info/PKG-INFO",
                ],
            ),
            "python3-unused:amd64": ("1.0", [f"{SITE}/unused/__init__.py"]),
            "plugin-docs": ("1.0", ["/opt/plugins/README"]),
        }
    )
    return tree


def _profile(used: dict[str, tuple[Access, tuple[str, ...]]]) -> Profile:
    profile = Profile({"reference": "dir:x", "kind": "dir", "digest": None, "config_digest": None}, "none")
    for path, (access, aliases) in used.items():
        profile.files[path] = FileUse(path, {access}, set(aliases))
    return profile


APP_PROFILE = {
    "/usr/bin/python3.11": (Access.EXECUTED, ("/usr/bin/python3",)),
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": (Access.LOADED, ("/lib64/ld-linux-x86-64.so.2",)),
    "/usr/lib/x86_64-linux-gnu/libc.so.6": (Access.LOADED, ()),
    "/usr/share/nodejs/acorn/dist/acorn.js": (Access.LOADED, ()),
    "/usr/share/nodejs/acorn/package.json": (Access.READ, ()),
    f"{SITE}/_distutils_hack/__init__.py": (Access.LOADED, ()),
    "/opt/plugins": (Access.PROBED, ()),
}


@pytest.fixture
def hardened(tmp_path: Path) -> tuple[Path, Inventory, Any, Any]:
    root = make_rootfs(tmp_path / "rootfs", _image_tree())
    inventory = build_inventory(f"dir:{root}")
    plan = plan_hardening(root, inventory, _profile(APP_PROFILE), HardenOptions())
    changes = apply_plan(root, plan)
    return root, inventory, plan, changes


def _names(plan: Any) -> set[str]:
    return {p.name for p in plan.removed}


def test_inventory_of_the_fixture_sees_nested_packages(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path / "rootfs", _image_tree())
    by_ecosystem = build_inventory(f"dir:{root}").by_ecosystem()
    assert {p.name for p in by_ecosystem[Ecosystem.NPM]} == {"acorn", "acorn-jsx"}
    assert {p.name for p in by_ecosystem[Ecosystem.PYPI]} == {"setuptools"}


def test_merged_usr_symlinks_go_with_their_package(hardened: tuple[Path, Inventory, Any, Any]) -> None:
    root, _inventory, plan, _changes = hardened
    assert "dash" in _names(plan)
    # dpkg says /bin/sh; the entry is the symlink /usr/bin/sh, not its target
    assert not os.path.lexists(root / "usr/bin/sh") and not (root / "usr/bin/dash").exists()
    # the merged-/usr links themselves and the loader's /lib64 name stay
    assert (root / "bin").is_symlink() and (root / "lib64").is_symlink()
    assert (root / "usr/lib64/ld-linux-x86-64.so.2").is_symlink()
    assert (root / "usr/bin/python3").is_symlink()
    # a package owning only a link to a used file is not used: the link goes, the target stays
    assert "python-is-python3" in _names(plan) and "python3-minimal" not in _names(plan)
    assert not os.path.lexists(root / "usr/bin/python") and (root / "usr/bin/python3.11").is_file()


def test_links_broken_by_removal_are_removed_and_old_dangling_ones_kept(
    hardened: tuple[Path, Inventory, Any, Any],
) -> None:
    root, _inventory, plan, changes = hardened
    assert {"mawk", "util-linux-extra"} <= _names(plan)
    for link in ("/usr/bin/awk", "/etc/alternatives/awk", "/etc/rc0.d/K01hwclock.sh"):
        assert not os.path.lexists(root / link.lstrip("/")), link
        assert link in changes.broken_links
    assert (root / "etc/ssl/certs/old.pem").is_symlink()  # dangling before: untouched
    assert not (root / "etc/rc0.d").exists() and not (root / "etc/alternatives").exists()  # emptied by us


def test_npm_package_inside_a_kept_debian_package_is_removed_on_its_own(
    hardened: tuple[Path, Inventory, Any, Any],
) -> None:
    root, _inventory, plan, _changes = hardened
    assert "acorn-jsx" in _names(plan) and "node-acorn" not in _names(plan) and "acorn" not in _names(plan)
    assert (root / "usr/share/nodejs/acorn/dist/acorn.js").is_file()
    assert not (root / "usr/share/nodejs/acorn-jsx").exists()
    # the kept Debian package's lists now name only what is there
    listing = (root / "var/lib/dpkg/info/node-acorn.list").read_text()
    assert "/usr/share/nodejs/acorn/dist/acorn.js" in listing and "acorn-jsx" not in listing
    assert "acorn-jsx" not in (root / "var/lib/dpkg/info/node-acorn.md5sums").read_text()
    after = build_inventory(f"dir:{root}")
    assert {p.name for p in after.packages if p.ecosystem is Ecosystem.NPM} == {"acorn"}


def test_pypi_metadata_of_debian_shipped_code_follows_its_package(
    hardened: tuple[Path, Inventory, Any, Any],
) -> None:
    root, _inventory, plan, _changes = hardened
    assert "setuptools" not in _names(plan)
    reason = next(r for purl, r in plan.kept_by_rule.items() if purl.startswith("pkg:pypi/setuptools"))
    assert "python3-setuptools" in reason
    assert (root / SITE.lstrip("/") / "setuptools-66.1.1.egg-info/PKG-INFO").is_file()


def test_bytecode_of_removed_sources_goes_too(hardened: tuple[Path, Inventory, Any, Any]) -> None:
    root, _inventory, plan, _changes = hardened
    assert "python3-unused" in _names(plan)
    assert not (root / SITE.lstrip("/") / "unused").exists()


def test_multiarch_info_files_and_status_stanzas_are_removed(hardened: tuple[Path, Inventory, Any, Any]) -> None:
    root, _inventory, _plan, _changes = hardened
    info = os.listdir(root / "var/lib/dpkg/info")
    assert not any(name.startswith("python3-unused") for name in info)
    assert "libc6:amd64.list" in info
    status = (root / "var/lib/dpkg/status").read_text()
    assert "Package: python3-unused" not in status and "Package: libc6" in status
    after = build_inventory(f"dir:{root}")
    assert "python3-unused" not in {p.name for p in after.packages}


def test_probed_directories_stay_when_emptied(hardened: tuple[Path, Inventory, Any, Any]) -> None:
    root, _inventory, plan, _changes = hardened
    assert "plugin-docs" in _names(plan)
    assert (root / "opt/plugins").is_dir() and not (root / "opt/plugins/README").exists()


def test_file_granularity_keeps_sources_of_loaded_bytecode_and_usr_links(tmp_path: Path) -> None:
    tree = (
        _image_tree()
        | {
            "/usr/lib/python3.11/os.py": "# os\n",
            "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc": b"bytecode",
            "/usr/lib/python3.11/shutil.py": "# never imported\n",
        }
        | dist_info("six", "1.16.0", ["six.py"], site="/usr/local/lib/python3.11/dist-packages")
    )
    root = make_rootfs(tmp_path / "rootfs", tree)
    inventory = build_inventory(f"dir:{root}")
    # the importer only stats os.py, then reads its cached bytecode
    # node loads Debian's acorn by file name, never reading its package.json
    app = {path: use for path, use in APP_PROFILE.items() if not path.endswith("acorn/package.json")}
    profile = _profile(
        app
        | {
            "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc": (Access.LOADED, ()),
            "/usr/lib/python3.11/os.py": (Access.PROBED, ()),
        }
    )
    plan = plan_hardening(root, inventory, profile, HardenOptions(granularity="file"))
    apply_plan(root, plan)
    # six's code went, so six goes from the package database too: no SBOM entry without code
    assert "six" in _names(plan) and not (root / "usr/local/lib/python3.11/dist-packages/six-1.16.0.dist-info").exists()
    after = {p.name for p in build_inventory(f"dir:{root}").packages}
    assert "six" not in after
    # a used Debian-shipped npm module keeps its manifest (scanners find it); an unused one loses it
    assert "acorn" in after and "acorn-jsx" not in after and "acorn-jsx" in _names(plan)
    assert "acorn-jsx" not in (root / "var/lib/dpkg/info/node-acorn.list").read_text()
    assert (root / "usr/lib/python3.11/os.py").is_file()
    assert not (root / "usr/lib/python3.11/shutil.py").exists()
    assert (root / "lib64").is_symlink() and (root / "bin").is_symlink()
    assert (root / "usr/bin/python3").is_symlink() and not (root / "usr/bin/mawk").exists()


def test_keep_rule_for_merged_usr_links_is_about_the_link_itself() -> None:
    assert keep_reason("/lib64", []) is not None and "merged-/usr" in (keep_reason("/bin", []) or "")
    assert keep_reason("/bin/ls", []) is None


def test_history_keeps_the_original_entries_and_appends_one() -> None:
    config: dict[str, Any] = {
        "history": [
            {"created_by": "debootstrap"},
            {"created_by": "ENV A=1", "empty_layer": True},
            {"comment": "imported"},
            "garbage",
        ]
    }
    assert hardened_history(config, "chainwarden harden") == [
        {"created_by": "debootstrap", "empty_layer": True},
        {"created_by": "ENV A=1", "empty_layer": True},
        {"comment": "imported", "empty_layer": True},
        {"created_by": "chainwarden harden"},
    ]
    assert hardened_history({}, "chainwarden harden") == [{"created_by": "chainwarden harden"}]


def _pypi(name: str, version: str) -> Package:
    return Package(
        Ecosystem.PYPI,
        name,
        version,
        f"pkg:pypi/{name}@{version}",
        "python-installed",
        (Location(f"{SITE}/{name}-{version}.dist-info/METADATA"),),
    )


def test_vulnerabilities_before_and_after(tmp_path: Path) -> None:
    records = tmp_path / "osv"
    records.mkdir()
    for vuln_id, name, fixed, severity in (
        ("GHSA-aaaa-aaaa-aaaa", "requests", "2.32.4", "MODERATE"),
        ("GHSA-bbbb-bbbb-bbbb", "jinja2", "3.1.5", "MODERATE"),
    ):
        record: dict[str, Any] = {
            "id": vuln_id,
            "modified": "2025-01-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": name},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                }
            ],
            "database_specific": {"severity": severity},
        }
        (records / f"{vuln_id}.json").write_text(json.dumps(record))
    db = tmp_path / "osv.sqlite3"
    import_osv([records], db)
    target = TargetInfo("dir:x", "dir")
    before = Inventory(target, (_pypi("jinja2", "3.1.4"), _pypi("requests", "2.32.3"), _pypi("six", "1.16.0")))
    after = Inventory(target, (_pypi("jinja2", "3.1.4"),))
    notes: list[str] = []
    delta = compare_vulnerabilities(before, after, db, notes)
    assert delta is not None and not notes
    assert (delta.total_before, delta.total_after) == (2, 1)
    assert delta.removed == ("GHSA-aaaa-aaaa-aaaa requests 2.32.3 (medium)",)
    assert delta.before == {Severity.MEDIUM.value: 2}


def test_no_vulnerability_database_is_a_note_not_an_error(tmp_path: Path) -> None:
    notes: list[str] = []
    target = TargetInfo("dir:x", "dir")
    empty = Inventory(target, ())
    assert compare_vulnerabilities(empty, empty, tmp_path / "absent.sqlite3", notes) is None
    assert notes and "no database" in notes[0]
    (tmp_path / "bad.sqlite3").write_text("not sqlite")
    assert compare_vulnerabilities(empty, empty, tmp_path / "bad.sqlite3", notes) is None
    assert len(notes) == 2


def test_loader_and_interpreter_are_recorded_by_the_name_the_kernel_uses(tmp_path: Path) -> None:

    tree = _image_tree() | {
        "/usr/bin/ls": Path("/bin/ls").read_bytes(),  # PT_INTERP /lib64/ld-linux-x86-64.so.2
        "/usr/bin/env": "ELF env",
        "/usr/local/bin/tool": "#!/usr/bin/env python3\n",
    }
    root = make_rootfs(tmp_path / "rootfs", tree)
    profile = _profile({})
    builder = ProfileBuilder(root, profile)
    builder.add_event(ExecEvent(10, "/usr/bin/ls", ("ls",), True), "probe-1")
    builder.add_event(ExecEvent(11, "/usr/local/bin/tool", ("tool",), True), "probe-1")
    loader = profile.files["/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"]
    assert Access.LOADED in loader.accesses and "/lib64/ld-linux-x86-64.so.2" in loader.aliases
    assert Access.EXECUTED in profile.files["/usr/bin/env"].accesses
    # so a file-granularity plan keeps every link on the loader's path
    all_files = {"/lib64", "/usr/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"}

    assert all_files <= used_names(DirectoryView(root), profile, all_files)
