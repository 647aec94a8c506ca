"""harden never writes over what is not its own, and checks its outputs before working."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chainwarden.cli import main
from support.images import make_oci

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("bwrap") is None or shutil.which("strace") is None or not Path("/bin/busybox").is_file():
        pytest.skip("bwrap, strace and busybox are required for the runtime tests")
    busybox = Path("/bin/busybox").read_bytes()
    tree: dict[str, object] = {
        "/bin/busybox": busybox,
        "/bin/sh": busybox,
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
    }
    root = tmp_path_factory.mktemp("harden-out")
    return make_oci(root / "oci", [tree], config={"Cmd": ["/bin/sh", "-c", "true"]})  # type: ignore[list-item]


@pytest.fixture(scope="module")
def profile(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("profile") / "profile.json"
    assert main(["profile", f"oci:{image}", "--probe", "sh -c true", "-o", str(path), "-f", "json"]) == 0
    return path


def _harden(image: Path, profile: Path, output: str, *extra: str) -> int:
    return int(main(["harden", f"oci:{image}", "--profile", str(profile), "-o", output, "-f", "json", *extra]))


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chainwarden: error: ")
    return lines[0]


def test_output_in_a_missing_directory_fails_at_once_in_one_line(
    image: Path, profile: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = _harden(image, profile, f"docker-archive:{tmp_path}/nonexistent/dir/x.tar")
    assert code == 2
    assert "does not exist" in _one_error_line(capsys)


def test_the_source_image_layout_is_never_written_into(
    image: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = (image / "index.json").read_bytes()
    blobs = sorted(p.name for p in (image / "blobs" / "sha256").iterdir())
    assert _harden(image, profile, f"oci:{image}", "--force") == 2
    assert "the image being hardened" in _one_error_line(capsys)
    assert (image / "index.json").read_bytes() == index
    assert sorted(p.name for p in (image / "blobs" / "sha256").iterdir()) == blobs
    assert not image.with_name(image.name + ".cdx.json").exists()


def test_an_unrelated_file_is_not_overwritten_unless_forced(
    image: Path, profile: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    precious = tmp_path / "notes.tar"
    precious.write_text("my notes\n")
    assert _harden(image, profile, f"docker-archive:{precious}") == 2
    assert "is not an image written by chainwarden harden" in _one_error_line(capsys)
    assert precious.read_text() == "my notes\n"
    assert _harden(image, profile, f"docker-archive:{precious}", "--force") == 0
    capsys.readouterr()
    assert precious.read_bytes()[:8] != b"my notes"
    # an earlier output of harden is replaced without --force, its SBOM too
    assert _harden(image, profile, f"docker-archive:{precious}") == 0
    capsys.readouterr()
    assert (tmp_path / "notes.cdx.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.cdx.json", "notes.tar"]  # no temp files


def test_a_non_empty_directory_is_refused_and_an_earlier_output_replaced(
    image: Path, profile: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine\n")
    assert _harden(image, profile, f"oci:{folder}") == 2
    assert "is not empty" in _one_error_line(capsys)
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]

    out = tmp_path / "hardened"
    assert _harden(image, profile, f"oci:{out}") == 0
    capsys.readouterr()
    assert _harden(image, profile, f"oci:{out}") == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hardened", "hardened.cdx.json", "work"]


def test_an_unrelated_file_where_the_sbom_goes_is_not_overwritten(
    image: Path, profile: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sbom = tmp_path / "out.cdx.json"
    sbom.write_text('{"mine": true}\n')
    assert _harden(image, profile, f"docker-archive:{tmp_path / 'out.tar'}") == 2
    line = _one_error_line(capsys)
    assert "out.cdx.json" in line and "not a chainwarden SBOM" in line
    assert sbom.read_text() == '{"mine": true}\n'
    assert not (tmp_path / "out.tar").exists()
