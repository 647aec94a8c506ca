"""--fix changes the edited spans only: line endings, BOM, final newline, mode and links stay."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chainwarden.cli import main
from chainwarden.config import Config
from chainwarden.lint.fix import fix_path

H = "sha256:" + "d" * 64


def test_crlf_file_keeps_its_line_endings_and_missing_final_newline(tmp_path: Path) -> None:
    original = f"--index-url http://pypi.org/simple\r\nflask==3.0.3 --hash={H}\r\n# tail comment".encode()
    (tmp_path / "requirements.txt").write_bytes(original)
    result = fix_path(tmp_path, Config())
    assert result.changes
    data = (tmp_path / "requirements.txt").read_bytes()
    assert (
        data
        == (
            f"--require-hashes\r\n--index-url https://pypi.org/simple\r\nflask==3.0.3 --hash={H}\r\n# tail comment"
        ).encode()
    )
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_bom_and_non_ascii_text_are_kept_byte_for_byte(tmp_path: Path) -> None:
    npmrc = "\ufeff; réglages — café\nregistry=http://registry.npmjs.org/\n"
    (tmp_path / ".npmrc").write_bytes(npmrc.encode("utf-8"))
    fix_path(tmp_path, Config())
    assert (tmp_path / ".npmrc").read_bytes() == npmrc.replace("http://", "https://").encode("utf-8")


def test_mode_and_symlink_are_kept(tmp_path: Path) -> None:
    real = tmp_path / "config" / "npmrc.real"
    real.parent.mkdir()
    real.write_text("registry=http://registry.npmjs.org/\n")
    os.chmod(real, 0o640)
    (tmp_path / ".npmrc").symlink_to("config/npmrc.real")
    assert fix_path(tmp_path, Config()).changes
    assert (tmp_path / ".npmrc").is_symlink()
    assert real.read_text() == "registry=https://registry.npmjs.org/\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_an_undecodable_file_is_skipped_and_the_others_still_fixed(tmp_path: Path) -> None:
    latin1 = "# caf\xe9\n--index-url http://pypi.org/simple\nflask==3.0.3\n".encode("latin-1")
    (tmp_path / "requirements.txt").write_bytes(latin1)
    (tmp_path / ".npmrc").write_text("registry=http://registry.npmjs.org/\n")
    result = fix_path(tmp_path, Config())
    assert (tmp_path / "requirements.txt").read_bytes() == latin1
    assert (tmp_path / ".npmrc").read_text() == "registry=https://registry.npmjs.org/\n"
    assert [s.what for s in result.skipped] == ["requirements.txt"]
    assert "not valid UTF-8" in result.skipped[0].reason
    assert result.skipped[0] in result.result.skipped


def test_cli_fix_reports_the_skipped_file_and_exits_normally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"--index-url http://pypi.org/simple\n# \xff\xfe\n")
    (tmp_path / ".npmrc").write_text("registry=http://registry.npmjs.org/\n")
    code = main(["lint", str(tmp_path), "--fix"])
    err = capsys.readouterr().err
    assert code == 0
    assert "fixed .npmrc:1" in err
    assert "chainwarden: skipped requirements.txt: not fixed: not valid UTF-8" in err
