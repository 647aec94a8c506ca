"""Static binaries: Go build info from real Go builds, cargo-auditable sections, unknown executables."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden.api import build_inventory
from chainwarden.inventory.binaries import (
    BinaryCataloger,
    BinaryFormatError,
    go_stdlib_version,
    parse_elf,
    read_go_buildinfo,
    read_rust_audit,
)
from chainwarden.models import Ecosystem
from chainwarden.sources.interface import MAX_FILE_BODY
from support.gobuild import PROXIED, PROXIED_VERSION, REPLACED, build_go_binary, build_go_binary_with_sums, shared_cache
from support.images import make_oci, make_rootfs

APK_DB = Path(__file__).parents[2] / "fixtures" / "apk-installed" / "alpine-3.16-installed"


@pytest.fixture(scope="module")
def go_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_binary(tmp_path_factory.mktemp("goapp"), cache=shared_cache(tmp_path_factory))


def test_go_build_info_is_what_go_version_m_prints(go_app: Path) -> None:
    info = read_go_buildinfo(parse_elf(go_app.read_bytes()))
    assert info is not None
    printed = subprocess.run(["go", "version", "-m", str(go_app)], capture_output=True, text=True, check=True).stdout
    assert printed.splitlines()[0].endswith(info.go_version)
    assert f"path\t{info.main_path}" in printed
    assert [(d.path, d.version) for d in info.deps] == [("github.com/gogo/protobuf", "v1.3.1")]
    assert ("GOOS", "linux") in info.settings


def test_go_sums_and_replacements(tmp_path_factory: pytest.TempPathFactory) -> None:
    binary = build_go_binary_with_sums(tmp_path_factory.mktemp("gosum"), cache=shared_cache(tmp_path_factory))
    info = read_go_buildinfo(parse_elf(binary.read_bytes()))
    assert info is not None
    [dep] = info.deps
    assert (dep.path, dep.version) == (REPLACED, "v0.1.0")
    assert dep.replaced_by is not None
    assert (dep.replaced_by.path, dep.replaced_by.version) == (PROXIED, PROXIED_VERSION)
    assert dep.replaced_by.sum.startswith("h1:") and len(dep.replaced_by.sum) == 47
    root = make_rootfs(tmp_path_factory.mktemp("rootfs"), {"usr/local/bin/summed": binary.read_bytes()})
    inventory = build_inventory(f"dir:{root}")
    modules = {p.name: p for p in inventory.packages if p.ecosystem is Ecosystem.GOLANG}
    # what was compiled in is the replacement module, with its sum
    assert modules[PROXIED].version == PROXIED_VERSION
    assert modules[PROXIED].hashes == (dep.replaced_by.sum,)


def test_unknown_executables_are_listed_never_ignored(go_app: Path, tmp_path: Path) -> None:
    c_binary = Path(shutil.which("true") or "/bin/true").read_bytes()
    root = make_rootfs(
        tmp_path / "root",
        {
            "usr/local/bin/mystery": c_binary,
            "app/server": c_binary,
            "app/README.md": "not a binary",
            "app/start.sh": "#!/bin/sh\n",
        },
    )
    (root / "usr/local/bin/mystery").chmod(0o755)
    (root / "app/server").chmod(0o755)
    inventory = build_inventory(f"dir:{root}")
    unknown = {p.locations[0].path: p for p in inventory.packages if p.ecosystem is Ecosystem.BINARY}
    assert set(unknown) == {"/usr/local/bin/mystery", "/app/server"}
    digest = hashlib.sha256(c_binary).hexdigest()
    mystery = unknown["/usr/local/bin/mystery"]
    assert mystery.hashes == (f"sha256:{digest}",)
    assert mystery.purl == f"pkg:generic/mystery?checksum=sha256:{digest}"
    assert mystery.found_by == "binary-unknown" and mystery.version == ""


def test_executables_owned_by_os_packages_are_not_unknown(tmp_path: Path) -> None:
    c_binary = Path(shutil.which("true") or "/bin/true").read_bytes()
    root = make_rootfs(
        tmp_path / "root",
        {"etc/os-release": "ID=alpine\nVERSION_ID=3.16.2\n", "lib/apk/db/installed": APK_DB.read_text()},
    )
    (root / "bin").mkdir()
    (root / "bin/busybox").write_bytes(c_binary)  # listed by the busybox package
    (root / "bin/busybox").chmod(0o755)
    inventory = build_inventory(f"dir:{root}")
    assert not [p for p in inventory.packages if p.ecosystem is Ecosystem.BINARY]


def test_rust_cargo_auditable_section(tmp_path: Path) -> None:
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy (binutils) is not installed")
    audit = {
        "packages": [
            {"name": "app", "version": "0.1.0", "source": "local", "root": True, "dependencies": [1, 2]},
            {"name": "smallvec", "version": "1.6.0", "source": "crates.io", "kind": "runtime"},
            {"name": "mylib", "version": "0.2.0", "source": "git"},
            {"name": "serde/evil", "version": "1.0.0", "source": "crates.io"},  # no crate name holds a "/"
        ]
    }
    payload = tmp_path / "dep-v0"
    payload.write_bytes(zlib.compress(json.dumps(audit).encode()))
    binary = tmp_path / "rusty"
    shutil.copy(shutil.which("true") or "/bin/true", binary)
    # the section cargo auditable adds, added the same way (an ELF section named .dep-v0)
    subprocess.run(["objcopy", "--add-section", f".dep-v0={payload}", str(binary)], check=True)
    crates = read_rust_audit(parse_elf(binary.read_bytes()))
    assert crates is not None and [c.name for c in crates] == ["app", "smallvec", "mylib", "serde/evil"]
    root = make_rootfs(tmp_path / "root", {"usr/bin/rusty": binary.read_bytes()})
    inventory = build_inventory(f"dir:{root}")
    cargo = [p for p in inventory.packages if p.ecosystem is Ecosystem.CARGO]
    assert [(p.name, p.version, p.purl) for p in cargo] == [("smallvec", "1.6.0", "pkg:cargo/smallvec@1.6.0")]
    assert [s.reason for s in inventory.skipped] == ["invalid Rust crate package name 'serde/evil'"]
    assert not [p for p in inventory.packages if p.ecosystem is Ecosystem.BINARY]


def test_an_oversized_binary_does_not_fail_the_image(tmp_path: Path) -> None:
    """A wanted body over the read limit is listed as skipped; the image is still inventoried."""
    big = b"\x7fELF" + b"\x00" * (MAX_FILE_BODY + 10)
    image = make_oci(tmp_path / "img", [{"etc/os-release": "ID=alpine\nVERSION_ID=3.16.2\n", "app/huge": big}])
    inventory = build_inventory(f"oci:{image}")
    assert inventory.distro is not None
    [skipped] = [s for s in inventory.skipped if s.what.startswith("executable")]
    assert skipped.location is not None and skipped.location.path == "/app/huge"
    assert "over the" in skipped.reason


def test_wanted_paths() -> None:
    wants = BinaryCataloger().wants
    assert wants("/manager") and wants("/usr/bin/app") and wants("/app/bin/server") and wants("/opt/tool/bin/x")
    assert wants("/usr/bin/python3.11")
    assert not wants("/usr/lib/x86_64-linux-gnu/libc.so.6")
    assert not wants("/app/node_modules/esbuild/bin/esbuild")
    assert not wants("/usr/bin/script.py") and not wants("/app/config.json")


@pytest.mark.parametrize(
    ("toolchain", "expected"),
    [
        ("go1.19.8", "1.19.8"),
        ("go1.21", "1.21.0"),
        ("go1.21rc2", "1.21.0-rc.2"),
        ("go1.22.1 X:boringcrypto", "1.22.1"),
        ("devel go1.23-abc", None),
    ],
)
def test_stdlib_versions(toolchain: str, expected: str | None) -> None:
    assert go_stdlib_version(toolchain) == expected


def test_mutated_go_binaries_fail_cleanly(go_app: Path) -> None:
    """Mutations of a real Go binary's headers and build info: a result or a BinaryFormatError, nothing else."""
    data = go_app.read_bytes()
    elf = parse_elf(data)
    section = elf.section(".go.buildinfo")
    assert section is not None
    targets = [range(0, 64), range(elf.sections[0].offset, elf.sections[0].offset + 64)]
    targets.append(range(section.offset, section.offset + 256))
    generator = random.Random(14)
    for _ in range(400):
        mutated = bytearray(data)
        position = generator.choice(generator.choice(targets))
        mutated[position] = generator.randrange(256)
        with contextlib.suppress(BinaryFormatError):
            read_go_buildinfo(parse_elf(bytes(mutated)))


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=300))
def test_random_elf_like_bytes(tail: bytes) -> None:
    for data in (b"\x7fELF\x02\x01\x01" + tail, b"\x7fELF\x01\x02\x01" + tail):
        with contextlib.suppress(BinaryFormatError):
            elf = parse_elf(data)
            read_go_buildinfo(elf)
            read_rust_audit(elf)
