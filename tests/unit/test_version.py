"""The version reports name themselves by is the one the package is released as."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from click.testing import CliRunner

import chainwarden
from chainwarden.cli import cli

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_version_is_the_released_one() -> None:
    declared = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    assert chainwarden.__version__ == declared == importlib.metadata.version("chainwarden")


def test_cli_version_option() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert chainwarden.__version__ in result.output
