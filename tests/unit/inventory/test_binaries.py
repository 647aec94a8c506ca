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
from typing import BinaryIO, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden.api import build_inventory
from chainwarden.errors import SourceError
from chainwarden.inventory import default_catalogers, wanted_by
from chainwarden.inventory.binaries import (
    EXECUTABLE_FACTS,
    BinaryCataloger,
    BinaryFormatError,
    ExecutableFacts,
    go_stdlib_version,
    parse_elf,
    read_go_buildinfo,
    read_rust_audit,
)
from chainwarden.inventory.interface import CatalogContext
from chainwarden.models import Ecosystem
from chainwarden.sources import SourceOptions, open_source
from chainwarden.sources.interface import MAX_FILE_BODY
from chainwarden.sources.rootfs import DirectoryView
from support.gobuild import PROXIED, PROXIED_VERSION, REPLACED, build_go_binary, build_go_binary_with_sums, shared_cache
from support.images import Content, Hardlink, make_oci, make_rootfs

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


# -- what is read of an executable, and what is kept -------------------------------------------------


def test_images_keep_the_facts_of_executables_never_their_bodies(go_app: Path, tmp_path: Path) -> None:
    c_binary = Path(shutil.which("true") or "/bin/true").read_bytes()
    files: dict[str, Content] = {
        "usr/local/bin/app": go_app.read_bytes(),
        "usr/local/bin/mystery": c_binary,
        "usr/local/bin/twin": Hardlink("usr/local/bin/mystery"),
        "usr/bin/run": "#!/bin/sh\nexec app\n",
    }
    image = make_oci(tmp_path / "img", [files])
    with open_source(f"oci:{image}") as source:
        view = source.view(wanted_by(default_catalogers(is_image=True)))
        facts = {}
        for path in ("/usr/local/bin/app", "/usr/local/bin/mystery", "/usr/local/bin/twin", "/usr/bin/run"):
            with pytest.raises(SourceError, match="not captured"):
                view.read(path)  # the body went by and was not kept
            facts[path] = ExecutableFacts.decode(view.digest(path, EXECUTABLE_FACTS))
    assert facts["/usr/local/bin/app"].go is not None and facts["/usr/local/bin/app"].sha256 is None
    assert facts["/usr/local/bin/mystery"].sha256 == hashlib.sha256(c_binary).hexdigest()
    assert facts["/usr/local/bin/twin"] == facts["/usr/local/bin/mystery"]
    assert facts["/usr/bin/run"] == ExecutableFacts(elf=False)
    # the same packages as from the same files in a directory, read there by offset
    root = make_rootfs(tmp_path / "root", files | {"usr/local/bin/twin": c_binary})
    for name in ("app", "mystery", "twin"):
        (root / "usr/local/bin" / name).chmod(0o755)

    def found(target: str) -> list[tuple[str, str, str, str]]:
        packages = build_inventory(target, options=SourceOptions(cache_dir=tmp_path / "cache")).packages
        return sorted((p.found_by, p.name, p.purl, p.locations[0].path) for p in packages)

    from_image = found(f"oci:{image}")
    assert from_image == found(f"dir:{root}")
    assert {name for _, name, _, _ in from_image} >= {"stdlib", "mystery", "twin"}
    # the per-layer cache holds the facts, not the executables
    (tmp_path / "cache" / "inventories").rename(tmp_path / "inventories-aside")
    assert found(f"oci:{image}") == from_image
    cached = sum(f.stat().st_size for f in (tmp_path / "cache" / "layers").iterdir())
    assert cached < len(c_binary) + go_app.stat().st_size // 10


class _CountingView(DirectoryView):
    """A rootfs that counts the bytes read of each file."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.bytes_read: dict[str, int] = {}

    def open(self, path: str) -> BinaryIO:
        handle = super().open(path)
        view = self

        class Counting:
            def __enter__(self) -> Counting:
                return self

            def __exit__(self, *exc: object) -> None:
                handle.close()

            def read(self, size: int = -1) -> bytes:
                data = handle.read(size)
                view.bytes_read[path] = view.bytes_read.get(path, 0) + len(data)
                return data

            def seek(self, offset: int, whence: int = 0) -> int:
                return handle.seek(offset, whence)

        return cast(BinaryIO, Counting())


def test_a_directory_is_read_by_offset(go_app: Path, tmp_path: Path) -> None:
    """Headers first; a script or an executable a package owns is read no further, an unknown one is hashed."""
    c_binary = Path(shutil.which("true") or "/bin/true").read_bytes()
    root = make_rootfs(
        tmp_path / "root",
        {
            "bin/owned": c_binary,
            "usr/local/bin/mystery": c_binary,
            "usr/local/bin/app": go_app.read_bytes(),
            "usr/bin/run": "#!/bin/sh\n" + "# padding\n" * 10_000,
        },
    )
    for path in ("bin/owned", "usr/local/bin/mystery", "usr/local/bin/app"):
        (root / path).chmod(0o755)
    view = _CountingView(root)
    context = CatalogContext(is_image=True, owned_files=frozenset({"/bin/owned"}))
    result = BinaryCataloger().catalog(view, context)
    assert {p.name for p in result.packages} >= {"mystery", "stdlib"} and "owned" not in {
        p.name for p in result.packages
    }
    assert view.bytes_read["/usr/bin/run"] == 4  # not ELF: its first bytes say so
    assert view.bytes_read["/bin/owned"] < 16 * 1024 < len(c_binary)  # headers and section names only
    assert view.bytes_read["/usr/local/bin/mystery"] > len(c_binary)  # headers, then the whole body for its hash
    assert view.bytes_read["/usr/local/bin/app"] < go_app.stat().st_size // 20  # headers and the build info


def test_go_build_info_without_section_headers_is_found_as_go_finds_it(go_app: Path, tmp_path: Path) -> None:
    """No section headers: the build info is at the start of the first writable segment, where
    Go's own reader (``go version -m``) looks for it."""
    data = bytearray(go_app.read_bytes())
    assert data[4] == 2 and data[5] == 1  # 64-bit little-endian, as Debian's toolchain builds
    data[0x28:0x30] = bytes(8)  # e_shoff
    data[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    stripped = tmp_path / "stripped"
    stripped.write_bytes(bytes(data))
    stripped.chmod(0o755)
    assert parse_elf(bytes(data)).sections == []
    assert read_go_buildinfo(parse_elf(bytes(data))) == read_go_buildinfo(parse_elf(go_app.read_bytes()))
    printed = subprocess.run(["go", "version", "-m", str(stripped)], capture_output=True, text=True, check=True)
    assert "github.com/gogo/protobuf\tv1.3.1" in printed.stdout


def test_a_body_another_cataloger_reads_whole_is_kept_and_digested_from(tmp_path: Path) -> None:
    class WholeBodies(BinaryCataloger):
        id = "test-whole"
        body_digest = None

    c_binary = Path(shutil.which("true") or "/bin/true").read_bytes()
    assert wanted_by([BinaryCataloger()]).digest("/usr/bin/x") is EXECUTABLE_FACTS
    assert wanted_by([BinaryCataloger(), WholeBodies()]).digest("/usr/bin/x") is None
    assert wanted_by([BinaryCataloger()]).digest("/etc/passwd") is None  # not wanted at all
    image = make_oci(tmp_path / "img", [{"usr/bin/x": c_binary}])
    with open_source(f"oci:{image}") as source:
        view = source.view(wanted_by([BinaryCataloger(), WholeBodies()]))
        assert view.read("/usr/bin/x") == c_binary
        facts = ExecutableFacts.decode(view.digest("/usr/bin/x", EXECUTABLE_FACTS))
    assert facts.sha256 == hashlib.sha256(c_binary).hexdigest()  # an image's body is never read again
