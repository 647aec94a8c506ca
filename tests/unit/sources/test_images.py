"""Image sources: layouts, archives, platforms, whiteouts, cache, hostile input."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from chainwarden._internal import archives
from chainwarden.api import build_inventory
from chainwarden.errors import DigestMismatchError, HostileArchiveError, InvalidImageError, SourceError, UsageError
from chainwarden.sources import SourceOptions, detect_scheme, open_source
from chainwarden.sources.image import ImageSource
from chainwarden.sources.interface import EntryType
from support.images import (
    Device,
    Dir,
    Hardlink,
    Opaque,
    Symlink,
    Whiteout,
    dist_info,
    dpkg_status_entry,
    make_docker_archive,
    make_oci,
    npm_package,
    tar_layer,
)

EVERYTHING = lambda path: True  # noqa: E731


def blob_path(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def manifest_of(layout: Path) -> dict[str, object]:
    index = json.loads((layout / "index.json").read_text())
    return json.loads(blob_path(layout, index["manifests"][0]["digest"]).read_bytes())  # type: ignore[no-any-return]


def test_whiteout_removes_package_installed_in_lower_layer(tmp_path: Path) -> None:
    layout = make_oci(
        tmp_path / "img",
        [
            {"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'},
            dist_info("requests", "2.19.0", ["requests/__init__.py"]) | dist_info("six", "1.16.0", ["six.py"]),
            {
                "/usr/lib/python3/dist-packages/requests-2.19.0.dist-info": Whiteout(),
                "/usr/lib/python3/dist-packages/requests": Whiteout(),
            },
        ],
    )
    inventory = build_inventory(f"oci:{layout}")
    assert [(p.name, p.version) for p in inventory.packages] == [("six", "1.16.0")]
    assert inventory.distro is not None and inventory.distro.version_id == "12"
    assert len(inventory.target.layers) == 3
    six = inventory.packages[0]
    assert six.locations[0].layer == inventory.target.layers[1].digest


def test_opaque_whiteout_hides_only_lower_layers(tmp_path: Path) -> None:
    layout = make_oci(
        tmp_path / "img",
        [
            {"/opt/app/old.txt": "old", "/opt/app/sub/deep.txt": "deep"},
            {"/opt/app": Opaque(), "/opt/app/new.txt": "new"},
        ],
    )
    with open_source(f"oci:{layout}") as source:
        view = source.view(EVERYTHING)
        assert view.children("/opt/app") == ["new.txt"]
        assert view.read("/opt/app/new.txt") == b"new"
        assert view.entry("/opt/app/sub/deep.txt") is None


def test_squash_onto_lower_layers_reports_changes_and_leaves_them_alone(tmp_path: Path) -> None:
    layout = make_oci(
        tmp_path / "img",
        [
            {
                "/opt/app/old.txt": "old",
                "/opt/app/sub/deep.txt": "deep",
                "/etc/conf": "a",
                "/etc/gone": "g",
                "/usr/lib/dir/f": "f",
            },
            {
                "/opt/app": Opaque(),
                "/opt/app/new.txt": "new",
                "/etc/conf": "b",
                "/etc/gone": Whiteout(),
                "/usr/lib/dir": Symlink("/elsewhere"),
                "/srv/data/x.txt": "x",
                "/etc": Dir(),
            },
        ],
    )
    with open_source(f"oci:{layout}") as source:
        whole = source.view(EVERYTHING)
        lower = source.squash(EVERYTHING, 1)
        merged = source.squash(EVERYTHING, 2, onto=lower)
    assert lower.changed == frozenset() and merged.stop == 2
    # the lower squash is untouched by what was applied on top of it
    assert lower.view.read("/etc/conf") == b"a"
    assert lower.view.children("/opt/app") == ["old.txt", "sub"]
    assert lower.view.entry("/usr/lib/dir") is not None and lower.view.children("/usr/lib/dir") == ["f"]
    # the merged view is the whole image
    for view in (merged.view, whole):
        assert view.children("/opt/app") == ["new.txt"]
        assert view.read("/etc/conf") == b"b"
        assert view.entry("/etc/gone") is None
    assert sorted(e.path for e in merged.view.entries()) == sorted(e.path for e in whole.entries())
    assert merged.changed == {
        "/opt/app/old.txt", "/opt/app/sub", "/opt/app/sub/deep.txt", "/opt/app/new.txt",
        "/etc/conf", "/etc/gone", "/usr/lib/dir", "/usr/lib/dir/f", "/srv", "/srv/data", "/srv/data/x.txt",
    }  # fmt: skip
    # /etc stayed a directory: no change; /srv and /srv/data only appeared as directories
    assert merged.only_directories == {"/srv", "/srv/data", "/opt/app/sub"}


def test_file_replacing_directory_and_hardlinks(tmp_path: Path) -> None:
    layout = make_oci(
        tmp_path / "img",
        [
            {"/etc/conf/a": "a", "/usr/bin/python3.11": "ELF"},
            {"/etc/conf": "now a file", "/usr/bin/python3": Hardlink("usr/bin/python3.11")},
        ],
    )
    with open_source(f"oci:{layout}") as source:
        view = source.view(EVERYTHING)
        conf = view.entry("/etc/conf")
        assert conf is not None and conf.type is EntryType.FILE
        assert view.entry("/etc/conf/a") is None
        assert view.read("/usr/bin/python3") == b"ELF"


@pytest.mark.parametrize("compression", ["gzip", "zstd", None])
def test_layer_compressions(tmp_path: Path, compression: str | None) -> None:
    layout = make_oci(tmp_path / "img", [{"/etc/hello": "world"}], compression=compression)
    with open_source(f"oci:{layout}") as source:
        assert source.view(EVERYTHING).read("/etc/hello") == b"world"


def test_symlinks_resolve_inside_the_image(tmp_path: Path) -> None:
    layout = make_oci(
        tmp_path / "img",
        [
            {
                "/usr/lib/os-release": "ID=debian\n",
                "/etc/os-release": Symlink("../usr/lib/os-release"),
                "/lib": Symlink("usr/lib"),
                "/etc/abs": Symlink("/usr/lib/os-release"),
            }
        ],
    )
    with open_source(f"oci:{layout}") as source:
        view = source.view(EVERYTHING)
        assert view.read("/etc/os-release") == b"ID=debian\n"
        assert view.read("/etc/abs") == b"ID=debian\n"
        assert view.resolve("/lib/os-release") == "/usr/lib/os-release"


def test_symlink_loop_is_an_error(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "img", [{"/a": Symlink("/b"), "/b": Symlink("/a")}])
    with open_source(f"oci:{layout}") as source, pytest.raises(SourceError, match="symbolic links"):
        source.view(EVERYTHING).read("/a")


def _multi_platform(tmp_path: Path) -> Path:
    layout = tmp_path / "multi"
    make_oci(layout, [{"/arch": "amd64"}], tag="amd")
    make_oci(layout, [{"/arch": "arm64"}], tag="arm")
    index = json.loads((layout / "index.json").read_text())
    manifests = index["manifests"]
    manifests[1]["platform"] = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    nested = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{k: v for k, v in m.items() if k != "annotations"} for m in manifests],
    }
    data = json.dumps(nested).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob_path(layout, digest).write_bytes(data)
    index["manifests"] = [{"mediaType": nested["mediaType"], "digest": digest, "size": len(data)}]
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def test_multi_platform_index_picks_requested_platform(tmp_path: Path) -> None:
    layout = _multi_platform(tmp_path)
    with open_source(f"oci:{layout}") as source:
        assert source.view(EVERYTHING).read("/arch") == b"amd64"
        assert source.info.platform == "linux/amd64"
    with open_source(f"oci:{layout}", SourceOptions(platform="linux/arm64")) as source:
        assert source.view(EVERYTHING).read("/arch") == b"arm64"
    expected = r"no manifest for platform linux/s390x; available: linux/amd64, linux/arm64/v8"
    with pytest.raises(SourceError, match=expected):
        open_source(f"oci:{layout}", SourceOptions(platform="linux/s390x")).info  # noqa: B018


def test_tags_in_one_layout(tmp_path: Path) -> None:
    layout = tmp_path / "tags"
    make_oci(layout, [{"/v": "1"}], tag="one")
    make_oci(layout, [{"/v": "2"}], tag="two")
    with open_source(f"oci:{layout}:two") as source:
        assert source.view(EVERYTHING).read("/v") == b"2"
    with pytest.raises(SourceError, match="name one as DIR:TAG"):
        open_source(f"oci:{layout}").info  # noqa: B018
    with pytest.raises(SourceError, match="no image tagged 'three'; tags: one, two"):
        open_source(f"oci:{layout}:three").info  # noqa: B018


def test_docker_archive(tmp_path: Path) -> None:
    archive = make_docker_archive(tmp_path / "img.tar", [{"/etc/a": "1"}, {"/etc/a": Whiteout(), "/etc/b": "2"}])
    assert detect_scheme(str(archive))[0] == "docker-archive"
    with open_source(str(archive)) as source:
        view = source.view(EVERYTHING)
        assert view.entry("/etc/a") is None and view.read("/etc/b") == b"2"
        assert source.info.repo_tags == ("chainwarden/image:latest",)
        assert source.info.layers[0].digest == source.info.layers[0].diff_id


def test_oci_archive(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "img", [{"/etc/a": "1"}])
    archive = tmp_path / "img.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(layout)), recursive=False)
    assert detect_scheme(str(archive))[0] == "oci-archive"
    with open_source(f"oci-archive:{archive}") as source:
        assert source.view(EVERYTHING).read("/etc/a") == b"1"


def test_docker_archive_layer_tampering_is_detected(tmp_path: Path) -> None:
    archive = make_docker_archive(tmp_path / "img.tar", [{"/etc/a": "1"}])
    rebuilt = tmp_path / "tampered.tar"
    with tarfile.open(archive) as src, tarfile.open(rebuilt, "w") as dst:
        for member in src.getmembers():
            handle = src.extractfile(member) if member.isreg() else None
            data = handle.read() if handle else b""
            if member.name.endswith("layer.tar"):
                data = tar_layer({"/etc/a": "2"})
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if member.isreg() else None)
    with open_source(str(rebuilt)) as source, pytest.raises(DigestMismatchError, match="uncompressed"):
        source.view(EVERYTHING)


# -- integrity and hostile input ------------------------------------------------


def test_tampered_layer_blob_is_rejected(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "img", [{"/etc/a": "1"}])
    layer = manifest_of(layout)["layers"][0]  # type: ignore[index]
    path = blob_path(layout, layer["digest"])
    path.write_bytes(gzip.compress(tar_layer({"/etc/a": "2"}), mtime=0))
    with open_source(f"oci:{layout}") as source, pytest.raises(DigestMismatchError, match="does not match"):
        source.view(EVERYTHING)


def test_tampered_manifest_is_rejected(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "img", [{"/etc/a": "1"}])
    index = json.loads((layout / "index.json").read_text())
    path = blob_path(layout, index["manifests"][0]["digest"])
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    with pytest.raises(DigestMismatchError, match="manifest"):
        open_source(f"oci:{layout}").info  # noqa: B018


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../etc/passwd": "x"}, "escapes the root"),
        ({"usr/../../etc/passwd": "x"}, "escapes the root"),
        ({"/etc/passwd": "x"}, "absolute path"),
        ({"usr/lib/evil": Symlink("../../../etc/shadow")}, "points outside the root"),
        ({"usr/bin/link": Hardlink("../../etc/shadow")}, "escapes the root"),
        ({"usr/bin/link": Hardlink("etc/missing")}, "does not point at a regular file"),
    ],
)
def test_hostile_members_end_with_one_line_error(tmp_path: Path, members: dict[str, object], message: str) -> None:
    layout = make_oci(tmp_path / "img", [tar_layer(members, raw_names=True)])  # type: ignore[arg-type]
    with open_source(f"oci:{layout}") as source, pytest.raises(HostileArchiveError) as caught:
        source.view(EVERYTHING)
    text = caught.value.diagnostics()
    assert message in text and "layer 1 sha256:" in text and "\n" not in text


def test_device_files_are_skipped_not_represented(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "img", [{"/dev/sda": Device(), "/etc/a": "1"}])
    with open_source(f"oci:{layout}") as source:
        view = source.view(EVERYTHING)
        assert view.entry("/dev/sda") is None
        assert [s.what for s in source.skipped] == ["device"]


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "MIN_ALLOWANCE", 1024 * 1024)
    monkeypatch.setattr(archives, "MAX_RATIO", 10)
    layout = make_oci(tmp_path / "img", [{"/zeros": b"\0" * (8 * 1024 * 1024)}])
    with open_source(f"oci:{layout}") as source, pytest.raises(HostileArchiveError, match="decompression bomb"):
        source.view(EVERYTHING)


def test_truncated_layer_is_an_error(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "img", [{"/big": b"a" * 100_000}], compression=None)
    layer = manifest_of(layout)["layers"][0]  # type: ignore[index]
    path = blob_path(layout, layer["digest"])
    path.write_bytes(path.read_bytes()[:5000])
    with open_source(f"oci:{layout}") as source, pytest.raises(InvalidImageError):
        source.view(EVERYTHING)


def test_oversized_wanted_body_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chainwarden.sources.image.MAX_FILE_BODY", 100)
    layout = make_oci(tmp_path / "img", [{"/var/lib/dpkg/status": "x" * 1000}])
    with open_source(f"oci:{layout}") as source, pytest.raises(HostileArchiveError, match="byte limit"):
        source.view(EVERYTHING)


@pytest.mark.parametrize(
    ("index_text", "message"),
    [
        ("{not json", "malformed JSON"),
        ("[]", "expected a JSON object"),
        ('{"manifests": []}', "lists no manifests"),
        ('{"manifests": [{"digest": "sha256:../../etc", "size": 1}]}', "invalid digest"),
        ('{"manifests": [{"digest": "sha256:' + "a" * 64 + '", "size": 1}]}', "missing from the layout"),
    ],
)
def test_malformed_layouts(tmp_path: Path, index_text: str, message: str) -> None:
    layout = tmp_path / "bad"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(index_text)
    with pytest.raises(SourceError, match=message):
        open_source(f"oci:{layout}").info  # noqa: B018


def test_unknown_targets_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or directory"):
        detect_scheme(str(tmp_path / "missing"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UsageError, match="not a tar"):
        detect_scheme(str(tmp_path / "notes.txt"))
    with pytest.raises(UsageError, match="nothing after"):
        detect_scheme("oci:")


# -- per-layer cache -------------------------------------------------------------


def test_second_scan_reuses_cached_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = make_oci(
        tmp_path / "img",
        [{"/var/lib/dpkg/status": dpkg_status_entry("bash", "5.2-1")}, npm_package("/app", "lodash", "4.17.4")],
    )
    options = SourceOptions(cache_dir=tmp_path / "cache")
    first = build_inventory(f"oci:{layout}", options=options)
    reads: list[str] = []
    original = ImageSource._read_layer

    def counting(self: ImageSource, layer, wanted, label):  # type: ignore[no-untyped-def]
        reads.append(layer.digest)
        return original(self, layer, wanted, label)

    monkeypatch.setattr(ImageSource, "_read_layer", counting)
    second = build_inventory(f"oci:{layout}", options=options)
    assert reads == []
    assert second == first
    # each level of cache works on its own: per-layer results without the
    # whole-image inventory, and the inventory without the layer results
    for level in ("inventories", "layers"):
        moved = tmp_path / "cache" / level
        moved.rename(tmp_path / f"{level}-aside")
        assert build_inventory(f"oci:{layout}", options=options) == first
        assert reads == []
        shutil.rmtree(moved, ignore_errors=True)
        (tmp_path / f"{level}-aside").rename(moved)
    # a blob changed on disk (new fingerprint) is read and verified again
    layer = manifest_of(layout)["layers"][0]  # type: ignore[index]
    path = blob_path(layout, layer["digest"])
    path.write_bytes(path.read_bytes())
    path.write_bytes(gzip.compress(tar_layer({"/x": "y"})))
    with pytest.raises(DigestMismatchError):
        build_inventory(f"oci:{layout}", options=options)


def test_damaged_cache_entries_are_rebuilt(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "img", [npm_package("/app", "lodash", "4.17.4")])
    options = SourceOptions(cache_dir=tmp_path / "cache")
    first = build_inventory(f"oci:{layout}", options=options)
    for entry in (tmp_path / "cache").rglob("*.json"):
        entry.write_text("{garbage")
    assert build_inventory(f"oci:{layout}", options=options) == first


def test_directories_in_layers_keep_children(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "img", [{"/opt/a/b": "1"}, {"/opt/a": Dir(0o700)}])
    with open_source(f"oci:{layout}") as source:
        view = source.view(EVERYTHING)
        entry = view.entry("/opt/a")
        assert entry is not None and entry.mode == 0o700
        assert view.read("/opt/a/b") == b"1"


def test_history_entries_pair_with_layers(tmp_path: Path) -> None:
    from chainwarden.sources.oci_writer import ImageSpec, write_oci_layout

    spec = ImageSpec(
        [tar_layer({"/a": "1"})],
        history=[{"created_by": "ENV A=1", "empty_layer": True}, "COPY a /a"],
    )
    write_oci_layout(tmp_path / "img", spec)
    with open_source(f"oci:{tmp_path / 'img'}") as source:
        assert source.info.layers[0].created_by == "COPY a /a"
        assert isinstance(source, ImageSource)
        history = source.image_config()["history"]
        assert [h.get("empty_layer", False) for h in history] == [True, False]
