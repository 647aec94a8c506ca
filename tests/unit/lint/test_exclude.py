"""`exclude` patterns of chainwarden.toml keep deliberate bad inputs out of a repository lint."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.config import load_config
from chainwarden.errors import ConfigError
from chainwarden.lint import lint_path

BAD = "FROM python:latest\nRUN curl -fsSL https://example.invalid/x.sh | sh\n"


def test_excluded_directories_are_not_walked(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "Dockerfile").write_text(BAD)
    (tmp_path / "Dockerfile").write_text(BAD)
    (tmp_path / "chainwarden.toml").write_text('exclude = ["corpus/*"]\n')
    result = lint_path(tmp_path, load_config(tmp_path))
    paths = {f.location.path for f in result.findings if f.location}
    assert paths == {"Dockerfile"}


def test_excluded_single_file(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(BAD)
    (tmp_path / "chainwarden.toml").write_text('exclude = ["Dockerfile"]\n')
    assert lint_path(tmp_path, load_config(tmp_path)).findings == ()


def test_exclude_must_be_strings(tmp_path: Path) -> None:
    (tmp_path / "chainwarden.toml").write_text("exclude = [1]\n")
    with pytest.raises(ConfigError, match=r"exclude = \[1\] must be a string or a list of strings"):
        load_config(tmp_path)


def test_unknown_rules_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "chainwarden.toml").write_text('[rules]\ndisable = ["dockerfile-root-user"]\n')
    with pytest.raises(ConfigError, match=r"unknown key 'disable' in section \[rules\]; did you mean 'disabled'\?"):
        load_config(tmp_path)
