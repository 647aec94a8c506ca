"""The reporters behind the real CLI: ``chainwarden sbom`` in every format on a real rootfs."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from chainwarden.cli import main
from support.images import dist_info, dpkg_status_entry, make_rootfs

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    status = "\n".join(
        [
            dpkg_status_entry("libssl3", "3.0.11-1~deb12u2", source="openssl"),
            dpkg_status_entry("tzdata", "1:2024a-0+deb12u1", arch="all"),
        ]
    )
    return make_rootfs(
        tmp_path_factory.mktemp("cli") / "rootfs",
        {
            "etc/os-release": OS_RELEASE,
            "var/lib/dpkg/status": status,
            "var/lib/dpkg/info/libssl3:amd64.list": "/usr/lib/libssl.so.3\n",
            "usr/lib/libssl.so.3": "ELF",
            **dist_info("requests", "2.31.0", ["requests/__init__.py"], license_="Apache-2.0"),
        },
    )


def _sbom(rootfs: Path, output: Path, output_format: str) -> str:
    assert main(["sbom", f"dir:{rootfs}", "--format", output_format, "--output", str(output)]) == 0
    return output.read_text(encoding="utf-8")


def test_cyclonedx_from_the_cli_validates(rootfs: Path, tmp_path: Path) -> None:
    text = _sbom(rootfs, tmp_path / "bom.json", "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    document = json.loads(text)
    names = {c["name"] for c in document["components"]}
    assert {"libssl3", "tzdata", "requests", "debian"} <= names


def test_spdx_from_the_cli_validates(rootfs: Path, tmp_path: Path) -> None:
    text = _sbom(rootfs, tmp_path / "sbom.spdx.json", "spdx")
    schema = json.loads(
        resources.files("chainwarden.report").joinpath("schemas/spdx-schema.json").read_text(encoding="utf-8")
    )
    jsonschema.validate(json.loads(text), schema)
    document = json.loads(text)
    assert {"libssl3", "tzdata", "requests"} <= {p["name"] for p in document["packages"]}


def test_json_and_table_from_the_cli(rootfs: Path, tmp_path: Path) -> None:
    document = json.loads(_sbom(rootfs, tmp_path / "inventory.json", "json"))
    assert {p["name"] for p in document["packages"]} >= {"libssl3", "tzdata", "requests"}
    table = _sbom(rootfs, tmp_path / "inventory.txt", "table")
    assert "\x1b" not in table  # written to a file: no colour
    assert "Debian packages" in table
    assert "1:2024a-0+deb12u1" in table


def test_table_to_stdout(rootfs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sbom", f"dir:{rootfs}"]) == 0
    out = capsys.readouterr().out
    assert "libssl3" in out
    assert "\x1b" not in out  # stdout is not a terminal under capture
