""".npmrc registries outside the allowed set, and lockfile-lint checks on pnpm-lock.yaml and Yarn berry yarn.lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainwarden.cli import main
from chainwarden.config import Config, parse_config
from chainwarden.lint import npm
from chainwarden.lint.base import Hit, LintContext, LintFile, LintInputError
from chainwarden.models import Severity
from chainwarden.sources.rootfs import DirectoryView
from unit.lint.lint_helpers import ids, lint_tree, only, write_tree

SHA512 = "sha512-" + "A" * 86 + "=="
INTERNAL = {"internal": {"npm_registry": "https://npm.acme.example/artifactory/api/npm/npm"}}


# -- .npmrc registries --------------------------------------------------------------------------------------
def _npmrc(tmp_path: Path, text: str, config: dict[str, Any] | None = None) -> list[tuple[str, int | None, str]]:
    result = lint_tree(tmp_path, {".npmrc": text}, config or {})
    return [(f.rule_id, f.location.line if f.location else None, f.title) for f in result.findings]


def test_registry_outside_allowed_set_is_reported_with_line_and_host(tmp_path: Path) -> None:
    text = "; company mirror\nstrict-ssl=true\nregistry=https://npm-mirror.example.net/npm/\n"
    assert _npmrc(tmp_path, text) == [
        (
            "npmrc-registry-not-allowed",
            3,
            "npm registry in .npmrc is not an allowed registry: registry → npm-mirror.example.net",
        )
    ]


@pytest.mark.parametrize(
    "value",
    [
        "https://registry.npmjs.org.evil.example/",  # look-alike: the allowed name as a prefix
        "https://evil.example/registry.npmjs.org/",  # the allowed name in the path
        "https://registry.npmjs.org:8443/",  # same host, another port (another service)
        '"https://npm-mirror.example.net/"',  # quoted values are values too
    ],
)
def test_lookalike_registries_are_not_allowed(tmp_path: Path, value: str) -> None:
    assert [rule for rule, _, _ in _npmrc(tmp_path, f"registry={value}\n")] == ["npmrc-registry-not-allowed"]


@pytest.mark.parametrize(
    "text",
    [
        "registry=https://registry.npmjs.org/\n",
        "registry=https://registry.yarnpkg.com\n",  # in the default allowed set
        "registry=https://REGISTRY.npmjs.org/\n",  # hosts are case-insensitive
        "registry=${NPM_REGISTRY}\n",  # decided at install time
        "# registry=https://npm-mirror.example.net/\n; registry=https://npm-mirror.example.net/\n",
        "//npm-mirror.example.net/:_authToken=${TOKEN}\n",  # auth for a host is not a registry setting
        "@acme:registry=https://npm.acme.example/artifactory/api/npm/other-repo/\n",  # host-based, any path
    ],
)
def test_allowed_or_unknowable_registries_are_quiet(tmp_path: Path, text: str) -> None:
    assert _npmrc(tmp_path, text, INTERNAL) == []


def test_scoped_registry_needs_the_internal_registry_or_an_allowed_one(tmp_path: Path) -> None:
    text = "@acme:registry=https://npm.acme.example/\n"
    assert [r for r, _, _ in _npmrc(tmp_path / "a", text)] == ["npmrc-registry-not-allowed"]
    assert _npmrc(tmp_path / "b", text, INTERNAL) == []
    allowed = {"registries": {"npm": ["https://npm.acme.example"]}}
    assert _npmrc(tmp_path / "c", text, allowed) == []
    # a scope sent to a look-alike of the internal host is the dependency-confusion set-up itself
    evil = "@acme:registry=https://npm.acme.example.evil.net/\n"
    ((rule, line, title),) = _npmrc(tmp_path / "d", evil, INTERNAL)
    assert (rule, line) == ("npmrc-registry-not-allowed", 1)
    assert "@acme:registry → npm.acme.example.evil.net" in title


def test_http_registry_is_one_finding_unless_the_host_is_also_wrong(tmp_path: Path) -> None:
    # http to an allowed host: a transport problem only, not also a "not allowed" one
    assert [r for r, _, _ in _npmrc(tmp_path / "a", "registry=http://registry.npmjs.org/\n")] == ["npm-lock-http"]
    scoped = "@acme:registry=http://npm.acme.example/artifactory/api/npm/npm/\n"
    assert [r for r, _, _ in _npmrc(tmp_path / "b", scoped, INTERNAL)] == ["npm-lock-http"]
    # http to an unknown host: two different problems on one line, both reported
    both = _npmrc(tmp_path / "c", "registry=http://npm-mirror.example.net/\n")
    assert sorted(r for r, _, _ in both) == ["npm-lock-http", "npmrc-registry-not-allowed"]
    assert {line for _, line, _ in both} == {1}


def test_inline_ignore_and_severity_override(tmp_path: Path) -> None:
    text = "registry=https://npm-mirror.example.net/  # chainwarden: ignore[npmrc-registry-not-allowed] vetted mirror\n"
    result = lint_tree(tmp_path / "a", {".npmrc": text})
    assert result.findings == ()
    assert [s.finding.rule_id for s in result.suppressed] == ["npmrc-registry-not-allowed"]
    config: dict[str, Any] = {"rules": {"disabled": ["npmrc-registry-not-allowed"]}}
    assert lint_tree(tmp_path / "b", {".npmrc": "registry=https://x.example/\n"}, config).findings == ()
    config = {"rules": {"severity": {"npmrc-registry-not-allowed": "low"}}}
    (finding,) = lint_tree(tmp_path / "c", {".npmrc": "registry=https://x.example/\n"}, config).findings
    assert finding.severity is Severity.LOW


def test_image_npmrc_is_audited(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "rootfs", {"etc/npmrc": "registry=https://npm-mirror.example.net/\n"})
    from chainwarden.lint import lint_view

    result = lint_view(DirectoryView(root), Config())
    assert [(f.rule_id, f.location.path if f.location else None) for f in result.findings] == [
        ("npmrc-registry-not-allowed", "/etc/npmrc")
    ]


def test_cli_exit_codes_for_a_disallowed_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = write_tree(tmp_path / "repo", {".npmrc": "registry=https://npm-mirror.example.net/\n"})
    assert main(["lint", str(repo), "--fail-on", "high", "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert "npmrc-registry-not-allowed" in json.dumps(document)
    (repo / "chainwarden.toml").write_text('[registries]\nnpm = ["https://npm-mirror.example.net"]\n')
    assert main(["lint", str(repo), "--fail-on", "low"]) == 0


# -- pnpm-lock.yaml -----------------------------------------------------------------------------------------
def _lint_pnpm(tmp_path: Path, text: str, config: dict[str, Any] | None = None) -> list[Hit]:
    write_tree(tmp_path, {"pnpm-lock.yaml": text})
    context = LintContext(DirectoryView(tmp_path), parse_config(config or {}, "test"), is_image=False)
    return npm.lint_pnpm_lock(LintFile("/pnpm-lock.yaml", "pnpm-lock.yaml", text, "pnpm-lock"), context)


def _summary(hits: list[Hit]) -> list[tuple[str, int | None, str]]:
    return [(hit.rule_id, hit.line, hit.detail) for hit in hits]


PNPM_V6 = f"""lockfileVersion: '6.0'

dependencies:
  left-pad:
    specifier: ^1.3.0
    version: 1.3.0

packages:

  /left-pad@1.3.0:
    resolution: {{integrity: {SHA512}}}
    dev: false

  /no-hash@1.0.0:
    resolution: {{tarball: https://registry.npmjs.org/no-hash/-/no-hash-1.0.0.tgz}}
    dev: false

  /old@1.0.0:
    resolution: {{integrity: sha1-{"B" * 27}=}}

  /bare@1.0.0:
    resolution: {{}}
    dev: false

  /injected@2.0.0:
    resolution:
      integrity: {SHA512}
      tarball: https://evil.example.net/injected/-/injected-2.0.0.tgz

  /plain@1.0.0:
    resolution: {{integrity: {SHA512}, tarball: http://registry.npmjs.org/plain/-/plain-1.0.0.tgz}}

  /lodash@4.17.21(react@18.2.0):
    resolution: {{integrity: {SHA512}, tarball: https://registry.npmjs.org/evil-pkg/-/evil-pkg-4.17.21.tgz}}

  github.com/acme/util/0123456789abcdef:
    resolution: {{tarball: https://codeload.github.com/acme/util/tar.gz/0123456789abcdef}}
    name: util
    version: 1.0.0

  '@acme/git@git+https://git.acme.example/git.git#abc':
    resolution: {{commit: abc, repo: 'https://git.acme.example/git.git', type: git}}
    name: '@acme/git'
    version: 1.0.0

  file:local:
    resolution: {{directory: local, type: directory}}
    name: local
    version: 1.0.0

  /packed@1.0.0:
    resolution: {{tarball: file:vendor/packed-1.0.0.tgz}}
"""


def test_pnpm_v6_every_lockfile_lint_check(tmp_path: Path) -> None:
    hits = _lint_pnpm(tmp_path, PNPM_V6)
    assert _summary(hits) == [
        ("npm-lock-missing-integrity", 15, "no-hash"),
        ("npm-lock-sha1-integrity", 19, "old"),
        ("npm-lock-missing-integrity", 22, "bare"),  # its own resolution line, not the next entry's
        ("npm-lock-disallowed-host", 28, "https://evil.example.net/injected/-/injected-2.0.0.tgz"),
        ("npm-lock-http", 31, "http://registry.npmjs.org/plain/-/plain-1.0.0.tgz"),
        ("npm-lock-name-mismatch", 34, "lodash resolves to evil-pkg"),
        ("npm-url-dependency", 37, "util → https://codeload.github.com/acme/util/tar.gz/0123456789abcdef"),
        ("npm-url-dependency", 42, "@acme/git → https://git.acme.example/git.git"),
    ]
    (http,) = [hit for hit in hits if hit.rule_id == "npm-lock-http"]
    assert http.edit is not None and (http.edit.old, http.edit.new) == ("http://", "https://")
    assert PNPM_V6.splitlines()[http.edit.line - 1][http.edit.column - 1 :].startswith("http://registry")


def test_pnpm_internal_registry_tarballs_are_allowed(tmp_path: Path) -> None:
    text = (
        "lockfileVersion: '9.0'\n\npackages:\n\n  '@acme/core@1.2.0':\n    resolution: {integrity: "
        f"{SHA512}, tarball: https://npm.acme.example/artifactory/api/npm/npm/@acme/core/-/core-1.2.0.tgz}}\n"
    )
    assert _lint_pnpm(tmp_path / "a", text, INTERNAL) == []
    assert _summary(_lint_pnpm(tmp_path / "b", text)) == [
        (
            "npm-lock-disallowed-host",
            6,
            "https://npm.acme.example/artifactory/api/npm/npm/@acme/core/-/core-1.2.0.tgz",
        )
    ]


def test_pnpm_v9_and_v5_keys_give_the_right_names(tmp_path: Path) -> None:
    v9 = (
        "lockfileVersion: '9.0'\npackages:\n  '@types/node@20.1.0':\n    resolution: {integrity: "
        f"{SHA512}, tarball: https://registry.npmjs.org/@types/node/-/node-20.1.0.tgz}}\n"
        "  react-dom@18.2.0:\n    resolution: {integrity: "
        f"{SHA512}, tarball: https://registry.npmjs.org/react/-/react-18.2.0.tgz}}\n"
    )
    assert _summary(_lint_pnpm(tmp_path / "v9", v9)) == [("npm-lock-name-mismatch", 6, "react-dom resolves to react")]
    # 5.x: /name/version_peer@x — the peer suffix holds an "@" that must not be read as the version separator
    v5 = (
        "lockfileVersion: 5.4\npackages:\n  /@scope/pkg/1.0.0_react@17.0.2:\n    resolution: {integrity: "
        f"{SHA512}, tarball: https://registry.npmjs.org/@scope/pkg/-/pkg-1.0.0.tgz}}\n"
    )
    assert _lint_pnpm(tmp_path / "v5", v5) == []


def test_pnpm_clean_and_oddly_typed_documents(tmp_path: Path) -> None:
    clean = f"lockfileVersion: '9.0'\npackages:\n  left-pad@1.3.0:\n    resolution: {{integrity: {SHA512}}}\n"
    assert _lint_pnpm(tmp_path / "clean", clean) == []
    assert _lint_pnpm(tmp_path / "empty", "lockfileVersion: '9.0'\nimporters: {}\n") == []
    odd = (
        "lockfileVersion: [1]\npackages:\n  a@1.0.0: just a string\n  b@1.0.0: {resolution: 5}\n"
        "  7: {resolution: {tarball: 'https://evil.example/x/-/x-1.tgz', integrity: 3}}\n"
    )
    assert sorted(hit.rule_id for hit in _lint_pnpm(tmp_path / "odd", odd)) == [
        "npm-lock-disallowed-host",
        "npm-lock-missing-integrity",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("packages: [1, 2]\n", "'packages' is not a mapping"),
        ("- a\n- b\n", "not a YAML mapping"),
        ("packages:\n  a: [unclosed\n", "invalid YAML"),
        ("packages: !!python/object/apply:os.system ['true']\n", "invalid YAML"),
        ("packages: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested deeper"),
    ],
)
def test_pnpm_hostile_input_is_a_one_line_input_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LintInputError, match=message) as caught:
        _lint_pnpm(tmp_path, text)
    assert "\n" not in str(caught.value) and "pnpm-lock.yaml" in str(caught.value)


def test_pnpm_huge_lockfile_is_linted_quickly(tmp_path: Path) -> None:
    entries = "".join(
        f"  pkg-{i}@1.0.0:\n    resolution: {{integrity: {SHA512}}}\n    dev: false\n" for i in range(20_000)
    )
    text = f"lockfileVersion: '9.0'\npackages:\n{entries}  last@1.0.0:\n    resolution: {{tarball: http://x.example/last/-/last-1.0.0.tgz}}\n"
    hits = _lint_pnpm(tmp_path, text)
    assert {hit.rule_id for hit in hits} == {"npm-lock-http", "npm-lock-disallowed-host", "npm-lock-missing-integrity"}
    assert {hit.line for hit in hits} == {60_004}


# -- Yarn berry yarn.lock -----------------------------------------------------------------------------------
BERRY_HEADER = (
    '# This file is generated by running "yarn install" inside your project.\n'
    "# Manual changes might be lost - proceed with caution!\n\n"
    "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n"
)
CHECKSUM = "10c0/" + "ab" * 64


def _berry(name: str, resolution: str, checksum: str | None = CHECKSUM, key: str | None = None) -> str:
    entry = f'"{key or name + "@npm:^1.0.0"}":\n  version: 1.0.0\n  resolution: "{resolution}"\n'
    if checksum:
        entry += f"  checksum: {checksum}\n"
    return entry + "  languageName: node\n  linkType: hard\n\n"


def test_berry_resolutions(tmp_path: Path) -> None:
    archive = "https%3A%2F%2Fevil.example.net%2Fleft-pad%2F-%2Fleft-pad-1.3.0.tgz"
    swapped = "https%3A%2F%2Fregistry.npmjs.org%2Fevil-pkg%2F-%2Fevil-pkg-1.3.0.tgz"
    text = BERRY_HEADER + "".join(
        [
            _berry("ok", "ok@npm:1.0.0"),  # line 10: the resolution line is reported
            _berry("nosum", "nosum@npm:1.0.0", checksum=None),
            _berry("util", "util@https://github.com/acme/util.git#commit=0123abc", key="util@github:acme/util"),
            _berry("tar", "tar@http://files.example/tar-1.0.0.tgz", checksum=None, key="tar@http://files.example/t"),
            _berry("left-pad", f"left-pad@npm:1.3.0::__archiveUrl={archive}"),
            _berry("lodash", f"lodash@npm:1.3.0::__archiveUrl={swapped}"),
            _berry("fixed", "fixed@patch:fixed@npm%3A1.0.0#./fix.patch::version=1.0.0&hash=abc", checksum=None),
            _berry("app", "app@workspace:.", checksum=None, key="app@workspace:."),
            _berry("vendored", "vendored@file:./vendored.tgz::locator=app%40workspace%3A.", checksum=None),
        ]
    )
    result = lint_tree(tmp_path, {"yarn.lock": text})
    assert not result.skipped
    got = [(f.rule_id, f.location.line if f.location else None) for f in result.findings]
    assert got == [
        ("npm-lock-missing-integrity", 17),
        ("npm-url-dependency", 23),
        ("npm-url-dependency", 30),
        ("npm-lock-http", 30),
        ("npm-lock-missing-integrity", 30),
        ("npm-lock-disallowed-host", 36),
        ("npm-lock-name-mismatch", 43),
        ("npm-lock-missing-integrity", 50),
    ]
    (swap,) = only(result, "npm-lock-name-mismatch")
    assert swap.title.endswith("lodash resolves to evil-pkg")
    assert swap.location is not None and swap.location.column == text.splitlines()[42].index("lodash@npm") + 1


def test_berry_clean_lockfile_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package_json = json.dumps({"name": "app", "dependencies": {"ok": "^1.0.0"}})
    clean = BERRY_HEADER + _berry("ok", "ok@npm:1.0.0") + _berry("app", "app@workspace:.", None, "app@workspace:.")
    repo = write_tree(tmp_path / "clean", {"package.json": package_json, "yarn.lock": clean})
    assert main(["lint", str(repo), "--fail-on", "low"]) == 0
    dirty = BERRY_HEADER + _berry("ok", "ok@npm:1.0.0", checksum=None)
    repo = write_tree(tmp_path / "dirty", {"package.json": package_json, "yarn.lock": dirty})
    assert main(["lint", str(repo), "--fail-on", "medium"]) == 1
    assert "npm-lock-missing-integrity" in capsys.readouterr().out


@pytest.mark.parametrize(
    "body",
    [
        '"a@npm:1":\n  resolution: [unclosed\n',
        '"a@npm:1": ' + "{x: " * 50_000 + "1" + "}" * 50_000 + "\n",
        '"a@npm:1": !!python/name:os.system\n',
    ],
)
def test_berry_hostile_input_is_skipped_not_fatal(tmp_path: Path, body: str) -> None:
    result = lint_tree(tmp_path, {"yarn.lock": BERRY_HEADER + body, "requirements.txt": "six\n"})
    assert [s.what for s in result.skipped] == ["yarn.lock"]
    assert "requirements-unpinned" in ids(result)


def test_berry_oddly_typed_entries_are_ignored(tmp_path: Path) -> None:
    text = BERRY_HEADER + '"a@npm:1": 5\n"b@npm:1": {resolution: 7}\n"c@npm:1": {resolution: "no-at-sign"}\n'
    result = lint_tree(tmp_path, {"yarn.lock": text})
    assert result.findings == () and not result.skipped


def test_repository_lint_opens_pnpm_lockfiles(tmp_path: Path) -> None:
    (tmp_path / "pnpm-lock.yaml").write_text(
        "lockfileVersion: '9.0'\n"
        "packages:\n"
        "  left-pad@1.3.0:\n"
        "    resolution: {tarball: http://evil.example.invalid/left-pad-1.3.0.tgz}\n"
    )
    assert main(["lint", str(tmp_path), "--fail-on", "high", "-f", "json", "-o", str(tmp_path / "out.json")]) == 1
    rules = {f["rule_id"] for f in json.loads((tmp_path / "out.json").read_text())["findings"]}
    assert {"npm-lock-disallowed-host", "npm-lock-http"} <= rules
