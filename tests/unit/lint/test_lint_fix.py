"""--fix: safe mechanical rewrites only, reported, and idempotent."""

from __future__ import annotations

from pathlib import Path

from chainwarden.config import Config
from chainwarden.lint.base import Edit
from chainwarden.lint.fix import apply_edits, fix_path
from unit.lint.lint_helpers import write_tree

H = "sha256:" + "d" * 64


def test_fixes_are_applied_and_reported(tmp_path: Path) -> None:
    dockerfile = (
        "FROM node:20\n"
        "COPY package.json package-lock.json ./\n"
        "RUN npm install --omit=dev && yarn install --production\n"
        "RUN echo 'deb http://deb.debian.org/debian bookworm main' > /etc/apt/sources.list\n"
    )
    files = {
        "Dockerfile": dockerfile,
        "requirements.txt": f"--index-url http://pypi.org/simple\nflask==3.0.3 --hash={H}\nsix==1.16.0 \\\n  --hash={H}\n",
        "etc/apt/sources.list": "deb http://deb.debian.org/debian bookworm main\ndeb http://other.example/ x main\n",
        ".npmrc": "registry=http://registry.npmjs.org/\n",
    }
    write_tree(tmp_path, files)
    result = fix_path(tmp_path, Config())
    descriptions = sorted(c.description for c in result.changes)
    assert "npm install → npm ci" in descriptions
    assert "yarn install → yarn install --frozen-lockfile" in descriptions
    assert "added --require-hashes (every requirement is hashed)" in descriptions
    assert sum("http → https" in d for d in descriptions) == 3
    assert (tmp_path / "Dockerfile").read_text().splitlines()[2] == (
        "RUN npm ci --omit=dev && yarn install --frozen-lockfile --production"
    )
    # the echo into sources.list is shell text, not a source file: left as is
    assert "http://deb.debian.org" in (tmp_path / "Dockerfile").read_text()
    requirements = (tmp_path / "requirements.txt").read_text()
    assert requirements.startswith("--require-hashes\n--index-url https://pypi.org/simple\n")
    assert (tmp_path / "etc/apt/sources.list").read_text() == (
        "deb https://deb.debian.org/debian bookworm main\ndeb http://other.example/ x main\n"
    )
    assert (tmp_path / ".npmrc").read_text() == "registry=https://registry.npmjs.org/\n"
    remaining = {f.rule_id for f in result.result.findings}
    assert "npm-install-without-lock" not in remaining
    assert "yarn-install-without-lock" not in remaining
    assert fix_path(tmp_path, Config()).changes == ()


def test_npm_install_is_kept_without_a_copied_lockfile(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Dockerfile": "FROM node:20\nCOPY package.json ./\nRUN npm install\n"})
    assert fix_path(tmp_path, Config()).changes == ()
    assert "npm install" in (tmp_path / "Dockerfile").read_text()


def test_require_hashes_not_added_when_a_line_is_unhashed(tmp_path: Path) -> None:
    write_tree(tmp_path, {"requirements.txt": f"flask==3.0.3 --hash={H}\nsix==1.16.0\n"})
    assert fix_path(tmp_path, Config()).changes == ()


def test_apply_edits_skips_stale_edits() -> None:
    text, applied = apply_edits(
        "abc\n", [Edit(1, 1, "x", "y", "stale"), Edit(1, 2, "b", "B", "ok"), Edit(9, 1, "a", "b", "off")]
    )
    assert text == "aBc\n"
    assert [e.description for e in applied] == ["ok"]
