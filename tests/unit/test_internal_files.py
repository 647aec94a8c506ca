"""Files read from users (bounded) and written for them: atomic, through symlinks, keeping modes;
outputs checked before work."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainwarden._internal.files import check_output_path, read_bounded, write_text_atomically
from chainwarden.cli import main
from chainwarden.errors import ConfigError, UsageError


def test_report_output_keeps_symlink_and_mode(tmp_path: Path) -> None:
    real = tmp_path / "reports" / "sbom.json"
    real.parent.mkdir()
    real.write_text("old\n")
    os.chmod(real, 0o640)
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    write_text_atomically(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["sbom.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    target.write_text("precious\n")

    def broken_replace(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomically(target, "x" * 1000)
    assert target.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_text_atomically(tmp_path / "new.json", "{}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_output_checks_refuse_missing_directories_and_directories(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "x.json")
    with pytest.raises(UsageError, match="is a directory"):
        check_output_path(tmp_path)
    check_output_path(tmp_path / "fine.json")


def test_an_unwritable_output_fails_before_the_work_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("requests==2.32.3\n")
    for command in (["sbom", str(tmp_path)], ["lint", str(tmp_path)], ["vet", "--offline", "pypi:requests"]):
        code = main([*command, "-o", str(tmp_path / "no" / "such" / "dir.json")])
        err = capsys.readouterr().err
        assert code == 2
        assert err.strip().splitlines() == [
            f"chainwarden: error: -o {tmp_path}/no/such/dir.json: directory {tmp_path}/no/such does not exist"
        ]


def test_a_report_streamed_in_pieces_replaces_the_file_only_when_complete(tmp_path: Path) -> None:
    from chainwarden._internal.files import open_atomically

    target = tmp_path / "sbom.json"
    target.write_text("previous\n")
    os.chmod(target, 0o604)

    def pieces() -> Iterator[str]:
        yield '{"a": '
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError), open_atomically(target) as stream:
        stream.writelines(pieces())
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sbom.json"]
    with open_atomically(target) as stream:
        stream.writelines(['{"a": ', "1}\n"])
    assert target.read_text() == '{"a": 1}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o604


def test_bounded_reads_refuse_endless_and_oversized_inputs(tmp_path: Path) -> None:
    # stat says 0 bytes for /dev/zero: only reading shows it never ends
    with pytest.raises(ConfigError, match=r"^/dev/zero: ignore file is larger than 1 KiB$"):
        read_bounded(Path("/dev/zero"), 1024, ConfigError, "ignore file")
    exact = tmp_path / "exact"
    exact.write_bytes(b"x" * 1000)
    assert read_bounded(exact, 1000, ConfigError) == b"x" * 1000
    with pytest.raises(ConfigError, match=r"exact: larger than 999 bytes$"):
        read_bounded(exact, 999, ConfigError)
    with pytest.raises(ConfigError, match=r"missing: cannot read policy \(No such file or directory\)$"):
        read_bounded(tmp_path / "missing", 10, ConfigError, "policy")
    with pytest.raises(ConfigError, match=r"cannot read \(Is a directory\)$"):
        read_bounded(tmp_path, 10, ConfigError)
