"""Configuration (disabled rules, severity overrides) and inline suppressions."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.lint import classify
from chainwarden.models import Severity
from unit.lint.lint_helpers import ids, lint_dockerfile, lint_tree, only

PIN = "@sha256:" + "c" * 64


def test_disabled_rule_and_severity_override(tmp_path: Path) -> None:
    text = "FROM node:20\nRUN npm install\n"
    config = {"rules": {"disabled": ["dockerfile-root-user"], "severity": {"npm-install-without-lock": "critical"}}}
    result = lint_dockerfile(tmp_path, text, config)
    assert "dockerfile-root-user" not in ids(result)
    (npm,) = only(result, "npm-install-without-lock")
    assert npm.severity is Severity.CRITICAL


def test_ignore_comment_on_the_line_before_an_instruction(tmp_path: Path) -> None:
    text = (
        f"FROM debian{PIN}\n"
        "# chainwarden: ignore[dockerfile-curl-pipe-shell] vendor script, reviewed 2024-06\n"
        "RUN apt-get update \\\n"
        "  && curl -fsSL https://vendor.example/i.sh | bash\n"
        "RUN curl -fsSL https://other.example/i.sh | bash\n"
        "USER 1\n"
    )
    result = lint_dockerfile(tmp_path, text, {"rules": {"disabled": ["dockerfile-pipe-without-pipefail"]}})
    assert [f.location.line for f in only(result, "dockerfile-curl-pipe-shell") if f.location] == [5]
    (suppressed,) = [s for s in result.suppressed if s.finding.rule_id == "dockerfile-curl-pipe-shell"]
    assert suppressed.reason == "vendor script, reviewed 2024-06"
    assert suppressed.comment_line == 2


def test_ignore_comment_inside_a_continuation_and_wrong_id(tmp_path: Path) -> None:
    text = (
        f"FROM python{PIN}\n"
        "RUN pip install \\\n"
        "    # chainwarden: ignore[pip-install-unpinned] pinned by constraints\n"
        "    flask\n"
        "# chainwarden: ignore[some-other-rule] not this one\n"
        "RUN pip install requests\n"
        "USER 1\n"
    )
    result = lint_dockerfile(tmp_path, text)
    assert [f.location.line for f in only(result, "pip-install-unpinned") if f.location] == [6]


def test_ignore_in_requirements_npmrc_and_apt_lists(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "flask  # chainwarden: ignore[requirements-unpinned] app pins in constraints\nrequests\n",
        ".npmrc": "# chainwarden: ignore[tls-verification-disabled] lab proxy\nstrict-ssl=false\n",
        "etc/apt/sources.list.d/v.list": (
            "# chainwarden: ignore[apt-source-without-signed-by, apt-third-party-source] legacy host\n"
            "deb https://v.example stable main\n"
        ),
    }
    result = lint_tree(tmp_path, files)
    assert [f.location.line for f in only(result, "requirements-unpinned") if f.location] == [2]
    assert "tls-verification-disabled" not in ids(result)
    assert "apt-source-without-signed-by" not in ids(result)
    assert "apt-third-party-source" not in ids(result)
    assert len(result.suppressed) == 4


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Dockerfile", "dockerfile"),
        ("Dockerfile.prod", "dockerfile"),
        ("Containerfile-dev", "dockerfile"),
        ("api.Dockerfile", "dockerfile"),
        ("dockerfile.py", None),
        ("Dockerfile_parser.py", None),
        ("Dockerfile.md", None),
        ("requirements-dev.txt", "requirements"),
        ("requirements/base.txt", "requirements"),
        ("dev-constraints.txt", "requirements"),
        ("requirements.in", None),
        ("etc/apt/sources.list.d/x.sources", "apt-sources"),
        ("etc/apt/sources.list.d/x.list.save", None),
        ("sub/.npmrc", "npmrc"),
        ("package-lock.json", "package-lock"),
    ],
)
def test_classify_repository_paths(name: str, kind: str | None) -> None:
    assert classify("/" + name) == kind
