"""chainwarden.toml is validated against a schema: types, names and rule ids, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.cli import main
from chainwarden.cli.common import load_checked_config
from chainwarden.config import load_config
from chainwarden.errors import ConfigError


def _load(tmp_path: Path, text: str) -> None:
    (tmp_path / "chainwarden.toml").write_text(text)
    load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[policy]\nrequire_ignore_scripts = "no"\n', '[policy] require_ignore_scripts = "no" must be true or false'),
        ("[policy]\nrequire_ignore_scripts = 0\n", "[policy] require_ignore_scripts = 0 must be true or false"),
        ("[policy]\nrequire_ignore_script = true\n", "did you mean 'require_ignore_scripts'?"),
        (
            "[polcy]\nrequire_ignore_scripts = true\n",
            "unknown section 'polcy' in the top level; did you mean 'policy'?",
        ),
        (
            '[rules.severity]\ndockerfile-root-user = "urgent"\n',
            "must be one of unknown, info, low, medium, high, critical",
        ),
        ("[internal]\npypi_index = 1\n", "[internal] pypi_index = 1 must be a string"),
        ('[internal]\npaterns = ["acme-*"]\n', "unknown key 'paterns' in section [internal]; did you mean 'patterns'?"),
        ("[registries]\npypi = [1]\n", "must be a string or a list of strings"),
        (
            '[vet]\nignore = [{ rul = "x" }]\n',
            "[vet] ignore[0] = {'rul': 'x'} must be a string RULE[:PACKAGE] or a table",
        ),
        ('excludes = ["x"]\n', "unknown key 'excludes' in the top level; did you mean 'exclude'?"),
    ],
)
def test_invalid_config_is_an_error_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_valid_config_is_read_with_its_types(tmp_path: Path) -> None:
    (tmp_path / "chainwarden.toml").write_text(
        'exclude = ["bench/*"]\n'
        "[policy]\nrequire_ignore_scripts = false\n"
        '[rules]\ndisabled = ["dockerfile-root-user"]\nseverity = { "apt-unpinned-package" = "high" }\n'
        '[internal]\npatterns = ["acme-*"]\nowners = ["me"]\nclaimed = ["acme-x"]\n'
        '[typosquat]\nallow = ["pypi:reqests"]\n'
        '[vet]\nallow = ["x"]\nignore = ["rule:pkg", { rule = "r", package = "p" }]\n'
    )
    config = load_config(tmp_path)
    assert config.policy.require_ignore_scripts is False
    assert config.rules.disabled == frozenset({"dockerfile-root-user"})
    assert config.exclude == ("bench/*",)


def test_pyproject_tool_table_is_validated_too(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.chainwarden.policy]\nrequire_ignore_scripts = "yes"\n')
    with pytest.raises(ConfigError, match="require_ignore_scripts"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[rules]\ndisabled = ["dockerfile-root-usr"]\n',
            "unknown rule id 'dockerfile-root-usr'; did you mean 'dockerfile-root-user'?",
        ),
        ('[rules.severity]\n"typosquatt" = "high"\n', "unknown rule id 'typosquatt'; did you mean 'typosquat'?"),
    ],
)
def test_a_misspelt_rule_id_is_an_error_naming_the_closest(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "chainwarden.toml").write_text(text)
    (tmp_path / "requirements.txt").write_text("requests==2.32.3\n")
    for command in (
        ["lint", str(tmp_path)],
        ["vet", "--offline", "--config", str(tmp_path / "chainwarden.toml"), "pypi:x"],
    ):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_rule_ids_of_lint_and_vet_are_both_known(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "chainwarden.toml").write_text('[rules]\ndisabled = ["dockerfile-root-user", "typosquat"]\n')
    assert load_checked_config(tmp_path).rules.disabled == frozenset({"dockerfile-root-user", "typosquat"})
