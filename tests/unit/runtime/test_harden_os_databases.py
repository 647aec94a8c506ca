"""Hardening Alpine and RPM rootfs trees: removed packages leave apk's and rpm's databases too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chainwarden.api import build_inventory
from chainwarden.models import Ecosystem
from chainwarden.runtime.harden import HardenOptions, apply_plan, plan_hardening
from chainwarden.runtime.os_databases import filter_apk_installed, filter_apk_world
from chainwarden.runtime.profile import FileUse, Profile
from chainwarden.runtime.trace import Access
from support.images import Symlink, make_rootfs
from support.rpmbuild import RpmFile, RpmSpec, build_rpms, install_rpms, require_rpm_tools, rpm_query_all, write_bdb

APK_DB = Path(__file__).parents[2] / "fixtures" / "apk-installed" / "alpine-3.16-installed"


def _profile(used: dict[str, Access]) -> Profile:
    profile = Profile({"reference": "dir:x", "kind": "dir", "digest": None, "config_digest": None}, "none")
    for path, access in used.items():
        profile.files[path] = FileUse(path, {access}, set())
    return profile


def _alpine_tree() -> dict[str, object]:
    tree: dict[str, object] = {
        "etc/os-release": "ID=alpine\nVERSION_ID=3.16.2\n",
        "etc/apk/world": "alpine-baselayout\nbusybox\nscanelf\nssl_client=1.35.0-r17\nzlib\n",
        "lib/apk/db/installed": APK_DB.read_text(),
    }
    # the files every package of the real database lists, so the plan sees them on disk
    from chainwarden.inventory.apk import parse_installed

    for stanza in parse_installed(APK_DB.read_text()):
        for path in stanza.files:
            tree.setdefault(path.lstrip("/"), f"{stanza.fields['P']}:{path}")
    return tree


def test_removed_apk_packages_leave_the_installed_database_and_world(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path / "root", _alpine_tree())  # type: ignore[arg-type]
    inventory = build_inventory(f"dir:{root}")
    assert sum(p.ecosystem is Ecosystem.APK for p in inventory.packages) == 14
    profile = _profile({"/bin/busybox": Access.EXECUTED, "/lib/ld-musl-x86_64.so.1": Access.LOADED})
    plan = plan_hardening(root, inventory, profile, HardenOptions())
    removed = {p.name for p in plan.removed}
    assert {"scanelf", "ssl_client", "apk-tools"} <= removed
    assert "busybox" not in removed and "musl" not in removed
    apply_plan(root, plan)
    assert not (root / "usr/bin/scanelf").exists()
    assert (root / "bin/busybox").exists()
    after = build_inventory(f"dir:{root}")
    names = {p.name for p in after.packages if p.ecosystem is Ecosystem.APK}
    assert names == {p.name for p in inventory.packages if p.ecosystem is Ecosystem.APK} - removed
    world = (root / "etc/apk/world").read_text().split()
    assert "scanelf" not in world and "ssl_client=1.35.0-r17" not in world and "busybox" in world


def test_apk_filters_keep_other_bytes() -> None:
    text = APK_DB.read_text()
    assert filter_apk_installed(text, set()).strip("\n") == text.strip("\n")
    filtered = filter_apk_installed(text, {"zlib"})
    assert "P:zlib\n" not in filtered and "P:musl\n" in filtered
    assert filter_apk_world("curl=8.5.0-r0\nbusybox\nzlib>1.2\n", {"curl", "zlib"}) == "busybox\n"


@pytest.fixture
def rpm_root(tmp_path: Path) -> Path:
    require_rpm_tools()
    specs = [
        RpmSpec("bash", "5.1.8", "6.el9", files=(RpmFile("/usr/bin/bash", "#!bash", mode="0755"),)),
        RpmSpec("curl", "7.76.1", "26.el9", files=(RpmFile("/usr/bin/curl", "curl", mode="0755"),)),
        RpmSpec("zlib", "1.2.11", "40.el9", files=(RpmFile("/usr/lib64/libz.so.1", "z"),)),
    ]
    root = tmp_path / "root"
    install_rpms(root, build_rpms(tmp_path, specs))
    make_rootfs(root, {"etc/os-release": 'ID="rhel"\nVERSION_ID="9.3"\n', "bin": Symlink("usr/bin")})
    return root


def test_removed_rpm_packages_leave_the_sqlite_database(rpm_root: Path) -> None:
    inventory = build_inventory(f"dir:{rpm_root}")
    plan = plan_hardening(rpm_root, inventory, _profile({"/usr/bin/bash": Access.EXECUTED}), HardenOptions())
    assert {p.name for p in plan.removed} == {"curl", "zlib"}
    apply_plan(rpm_root, plan)
    # rpm itself agrees: the rows are gone from Packages and from its index tables
    assert rpm_query_all(rpm_root, "sqlite") == ["bash-5.1.8-6.el9.x86_64"]
    import subprocess

    owner = subprocess.run(
        ["rpm", "--root", str(rpm_root), "--dbpath", "/var/lib/rpm", "-qf", "/usr/bin/curl"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "not owned by any package" in owner.stdout + owner.stderr
    assert [p.name for p in build_inventory(f"dir:{rpm_root}").packages] == ["bash"]
    assert not (rpm_root / "usr/bin/curl").exists()


def test_berkeley_db_images_keep_their_rpm_packages_and_say_why(rpm_root: Path, tmp_path: Path) -> None:
    require_rpm_tools("db5.3_load")
    db = rpm_root / "var/lib/rpm"
    write_bdb(db / "rpmdb.sqlite", tmp_path / "Packages")
    shutil.rmtree(db)
    db.mkdir()
    shutil.copy(tmp_path / "Packages", db / "Packages")
    inventory = build_inventory(f"dir:{rpm_root}")
    plan = plan_hardening(rpm_root, inventory, _profile({"/usr/bin/bash": Access.EXECUTED}), HardenOptions())
    assert not plan.removed
    assert all("Berkeley" in reason or "bdb" in reason for reason in plan.kept_by_rule.values())
    assert len(plan.kept_by_rule) == 2
