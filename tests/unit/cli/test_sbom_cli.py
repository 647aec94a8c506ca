"""`chainwarden sbom` end to end through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.cli import main
from support.images import dist_info, dpkg_status_entry, make_oci, npm_package, tar_layer


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_oci(
        tmp_path / "img",
        [
            {
                "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
                "/var/lib/dpkg/status": dpkg_status_entry("libssl3", "3.0.11-1~deb12u2", source="openssl"),
            },
            dist_info("requests", "2.19.0", ["requests/__init__.py"]),
            npm_package("/app", "@scope/pkg", "1.0.0"),
        ],
    )


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_output_is_the_documented_schema(image: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(["sbom", f"oci:{image}", "--format", "json", "--cache-dir", str(tmp_path / "c")], capsys)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["schema_version"] == "1"
    assert data["target"]["kind"] == "oci"
    assert data["distro"]["version_id"] == "12"
    assert [(p["ecosystem"], p["name"]) for p in data["packages"]] == [
        ("deb", "libssl3"),
        ("npm", "@scope/pkg"),
        ("pypi", "requests"),
    ]
    deb = data["packages"][0]
    assert deb["source"] == {"name": "openssl", "version": "3.0.11-1~deb12u2"}
    assert deb["locations"][0]["layer"] == data["target"]["layers"][0]["digest"]


@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx", "table"])
def test_other_formats_to_file(image: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str) -> None:
    out_file = tmp_path / f"sbom.{fmt}"
    code, out, _ = run(["sbom", f"oci:{image}", "-f", fmt, "-o", str(out_file), "--no-cache"], capsys)
    assert code == 0
    assert out == ""
    text = out_file.read_text()
    assert "requests" in text
    if fmt != "table":
        json.loads(text)


def test_bad_targets_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(["sbom", str(tmp_path / "missing")], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("chainwarden: error: ")
    assert err.count("\n") == 1


def test_hostile_image_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "evil", [tar_layer({"../../etc/cron.d/x": "* * * * * root sh"}, raw_names=True)])
    code, _, err = run(["sbom", f"oci:{layout}", "--no-cache"], capsys)
    assert code == 2
    assert "escapes the root" in err
    assert err.count("\n") == 1


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["sbom", "--format", "xml", "x"], capsys)
    assert code == 2
    assert "Invalid value" in err
