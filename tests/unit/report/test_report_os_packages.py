"""SBOMs of Alpine, RPM and static-binary images: the new purls, suppliers and hashes, schema-valid."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from chainwarden.cli import main
from support.gobuild import build_go_binary, shared_cache
from support.images import make_rootfs
from support.rpmbuild import RpmFile, RpmSpec, build_rpms, install_rpms, require_rpm_tools

APK_DB = Path(__file__).parents[2] / "fixtures" / "apk-installed" / "alpine-3.16-installed"


@pytest.fixture(scope="module")
def alpine_with_binaries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go_app = build_go_binary(tmp_path_factory.mktemp("go"), cache=shared_cache(tmp_path_factory))
    root = make_rootfs(
        tmp_path_factory.mktemp("alpine") / "rootfs",
        {
            "etc/os-release": "ID=alpine\nVERSION_ID=3.16.2\n",
            "lib/apk/db/installed": APK_DB.read_text(),
            "app/server": go_app.read_bytes(),
            "app/mystery": Path(shutil.which("true") or "/bin/true").read_bytes(),
        },
    )
    (root / "app/mystery").chmod(0o755)
    return root


@pytest.fixture(scope="module")
def ubi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_rpm_tools()
    work = tmp_path_factory.mktemp("ubi")
    rpms = build_rpms(
        work,
        [RpmSpec("zlib", "1.2.11", "40.el9", vendor="Red Hat, Inc.", files=(RpmFile("/usr/lib64/libz.so.1", "z"),))],
    )
    root = work / "root"
    install_rpms(root, rpms)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('ID="rhel"\nVERSION_ID="9.3"\nPRETTY_NAME="Red Hat Enterprise Linux 9.3"\n')
    return root


def _sbom(root: Path, output: Path, output_format: str) -> dict[str, object]:
    assert main(["sbom", f"dir:{root}", "--format", output_format, "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    if output_format == "cyclonedx":
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    else:
        schema = json.loads(
            resources.files("chainwarden.report").joinpath("schemas/spdx-schema.json").read_text(encoding="utf-8")
        )
        jsonschema.validate(json.loads(text), schema)
    document: dict[str, object] = json.loads(text)
    return document


def test_cyclonedx_of_alpine_and_binaries(alpine_with_binaries: Path, tmp_path: Path) -> None:
    document = _sbom(alpine_with_binaries, tmp_path / "bom.json", "cyclonedx")
    components = {c["name"]: c for c in document["components"]}  # type: ignore[attr-defined]
    assert components["libssl1.1"]["purl"].startswith("pkg:apk/alpine/libssl1.1@1.1.1q-r0?arch=x86_64")
    assert components["libssl1.1"]["supplier"] == {"name": "Timo Teras <timo.teras@iki.fi>"}
    assert components["github.com/gogo/protobuf"]["purl"] == "pkg:golang/github.com/gogo/protobuf@v1.3.1"
    assert components["stdlib"]["purl"].startswith("pkg:golang/stdlib@1.")
    assert components["mystery"]["type"] == "application"
    assert components["mystery"]["hashes"][0]["alg"] == "SHA-256"


def test_spdx_of_alpine_and_binaries(alpine_with_binaries: Path, tmp_path: Path) -> None:
    document = _sbom(alpine_with_binaries, tmp_path / "sbom.spdx.json", "spdx")
    packages = {p["name"]: p for p in document["packages"]}  # type: ignore[attr-defined]
    assert packages["musl"]["supplier"] == "Person: Timo Teräs (timo.teras@iki.fi)"
    assert packages["mystery"]["checksums"][0]["algorithm"] == "SHA256"


def test_cyclonedx_and_spdx_of_an_rpm_image(ubi: Path, tmp_path: Path) -> None:
    bom = _sbom(ubi, tmp_path / "bom.json", "cyclonedx")
    [zlib] = [c for c in bom["components"] if c["name"] == "zlib"]  # type: ignore[attr-defined]
    assert zlib["purl"] == (
        "pkg:rpm/redhat/zlib@1.2.11-40.el9?arch=x86_64&distro=rhel-9.3&upstream=zlib-1.2.11-40.el9.src.rpm"
    )
    spdx = _sbom(ubi, tmp_path / "sbom.spdx.json", "spdx")
    [package] = [p for p in spdx["packages"] if p["name"] == "zlib"]  # type: ignore[attr-defined]
    assert package["supplier"] == "Organization: Red Hat, Inc."
