"""Targets and --platform are validated, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.cli import main
from support.images import make_oci


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_oci(tmp_path / "img", [{"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}])


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainwarden: error: "), err
    return lines[0]


@pytest.mark.parametrize("platform", ["linux/s390x", "windows/amd64"])
def test_a_platform_the_single_platform_image_is_not_is_an_error(
    image: Path, platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _error(["sbom", f"oci:{image}", "--platform", platform, "--no-cache"], capsys)
    assert f"the image is for linux/amd64, not {platform}" in line


def test_a_malformed_platform_is_an_error_naming_the_image_platform(
    image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _error(["sbom", f"oci:{image}", "--platform", "garbage", "--no-cache"], capsys)
    assert "--platform 'garbage' is not OS/ARCH[/VARIANT]; the image is for linux/amd64" in line


def test_the_matching_or_default_platform_scans(image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sbom", f"oci:{image}", "--platform", "linux/amd64", "--no-cache", "-f", "json"]) == 0
    assert main(["sbom", f"oci:{image}", "--no-cache", "-f", "json"]) == 0
    capsys.readouterr()


def test_an_arm64_image_still_scans_without_an_explicit_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainwarden.sources.oci_writer import ImageSpec, write_oci_layout
    from support.images import tar_layer

    layout = tmp_path / "arm"
    write_oci_layout(layout, ImageSpec([tar_layer({"/etc/os-release": "ID=debian\n"})], architecture="arm64"))
    assert main(["sbom", f"oci:{layout}", "--no-cache", "-f", "json"]) == 0
    capsys.readouterr()
    assert "the image is for linux/arm64, not linux/amd64" in _error(
        ["sbom", f"oci:{layout}", "--platform", "linux/amd64", "--no-cache"], capsys
    )


def test_an_unknown_scheme_is_named_with_the_schemes(capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(["sbom", "foo://bar"], capsys)
    assert "unknown scheme 'foo'" in line
    assert "oci:, docker-archive:, oci-archive:, registry:, dir:" in line


def test_an_empty_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert "the target is empty" in _error(["sbom", ""], capsys)


def test_vet_of_a_bare_name_suggests_the_registries(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    line = _error(["vet", "requests", "--offline"], capsys)
    assert "pypi:requests or npm:requests" in line
    assert "npm:@scope/pkg" in _error(["vet", "@scope/pkg", "--offline"], capsys)
