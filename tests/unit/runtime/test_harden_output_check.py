"""harden's output check, before any work: never the source, never a missing directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.errors import UsageError
from chainwarden.runtime.harden import check_output, sbom_path_for
from support.images import make_docker_archive, make_oci


def test_the_source_archive_is_refused_even_with_force(tmp_path: Path) -> None:
    archive = make_docker_archive(tmp_path / "img.tar", [{"/etc/os-release": "ID=debian\n"}])
    for target in (f"docker-archive:{archive}", str(archive)):
        with pytest.raises(UsageError, match="the image being hardened"):
            check_output(target, f"docker-archive:{archive}", force=True)


def test_the_source_layout_and_its_subdirectories_are_refused(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "oci", [{"/etc/os-release": "ID=debian\n"}])
    for output in (f"oci:{layout}", f"oci:{layout}/inner"):
        with pytest.raises(UsageError, match="the image being hardened"):
            check_output(f"oci:{layout}:latest", output, force=True)


def test_a_new_output_in_an_existing_directory_is_accepted(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "oci", [{"/etc/os-release": "ID=debian\n"}])
    assert check_output(f"oci:{layout}", f"docker-archive:{tmp_path}/out.tar") == (
        "docker-archive",
        tmp_path / "out.tar",
    )
    assert sbom_path_for(tmp_path / "out.tar") == tmp_path / "out.cdx.json"
    assert sbom_path_for(tmp_path / "hardened") == tmp_path / "hardened.cdx.json"


def test_garbage_output_schemes_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"expected oci:DIR or docker-archive:FILE\.tar"):
        check_output("oci:x", "tar:/tmp/x")
