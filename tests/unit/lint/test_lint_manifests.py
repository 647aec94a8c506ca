"""requirements, pip.conf, pyproject, npm lockfiles, .npmrc and APT files: tricky and hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.models import Severity
from unit.lint.lint_helpers import ids, lint_tree, only

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64


def test_requirements_continuations_comments_and_options(tmp_path: Path) -> None:
    text = (
        "# top comment\n"
        "--index-url https://pypi.org/simple\n"
        "--extra-index-url=http://pypi.acme.example/simple  # internal\n"
        "-f http://wheels.example/\n"
        "attrs==23.2.0 \\\n"
        f"    --hash={H1} \\\n"
        f"    --hash={H2}\n"
        "six==1.16.0\n"
        "tool @ https://files.example/tool-1.0.tar.gz\n"
        "lib @ git+https://github.com/o/lib@v1.0\n"
        "pinned @ git+https://github.com/o/pinned@" + "a" * 40 + "\n"
        "hashed @ https://files.example/h-1.0.tar.gz#sha256=" + "b" * 64 + "\n"
    )
    result = lint_tree(tmp_path, {"requirements-dev.txt": text})
    found = ids(result)
    assert found.count("pip-extra-index-url") == 1
    assert found.count("pip-insecure-index") == 2
    mixed = only(result, "requirements-mixed-hashes")
    assert [f.location.line for f in mixed if f.location] == [8]
    urls = only(result, "requirements-url-without-hash")
    assert sorted(f.location.line or 0 for f in urls if f.location) == [9, 10]
    assert "pip-index-not-allowed" not in found
    assert "requirements-unpinned" not in found


def test_constraints_and_ranges(tmp_path: Path) -> None:
    result = lint_tree(tmp_path, {"constraints.txt": "urllib3<2\nidna~=3.7\ncertifi===2024.6.2\n"})
    assert [f.location.line for f in only(result, "requirements-unpinned") if f.location] == [1, 2]


def test_pip_conf_multiline_values(tmp_path: Path) -> None:
    text = (
        "[global]\n"
        "index-url = https://pypi.org/simple\n"
        "extra-index-url =\n"
        "    https://a.example/simple\n"
        "    https://b.example/simple\n"
        "trusted-host = a.example\n"
    )
    result = lint_tree(tmp_path, {"pip.conf": text})
    assert [f.location.line for f in only(result, "pip-extra-index-url") if f.location] == [4, 5]
    assert "pip-trusted-host" in ids(result)


def test_poetry_priorities(tmp_path: Path) -> None:
    text = (
        '[tool.poetry]\nname = "app"\n'
        '[[tool.poetry.source]]\nname = "PyPI"\npriority = "primary"\n'
        '[[tool.poetry.source]]\nname = "acme"\nurl = "https://pypi.acme.example/simple"\npriority = "primary"\n'
        '[[tool.poetry.source]]\nname = "legacy"\nurl = "http://old.example/simple"\nsecondary = true\n'
        '[[tool.poetry.source]]\nname = "ok"\nurl = "https://ok.example/simple"\npriority = "explicit"\n'
    )
    result = lint_tree(tmp_path, {"pyproject.toml": text})
    titles = [f.title for f in only(result, "poetry-source-priority")]
    assert len(titles) == 2
    assert any("both primary" in t for t in titles)
    assert any("legacy" in t for t in titles)
    assert "pip-insecure-index" in ids(result)


def test_lock_consistency_poetry_and_groups(tmp_path: Path) -> None:
    pyproject = (
        '[tool.poetry]\nname = "app"\n[tool.poetry.dependencies]\npython = "^3.11"\nDjango = "^5"\n'
        '[tool.poetry.group.dev.dependencies]\npytest = "^8"\n'
    )
    lock = '[[package]]\nname = "django"\nversion = "5.0.6"\n'
    result = lint_tree(tmp_path, {"pyproject.toml": pyproject, "poetry.lock": lock})
    (missing,) = only(result, "lockfile-missing-dependency")
    assert "pytest" in missing.title and missing.location is not None and missing.location.line == 7


def test_uv_settings_and_uv_toml(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "app"\nversion = "1"\n'
        '[tool.uv.pip]\nindex-strategy = "unsafe-first-match"\n'
        '[[tool.uv.index]]\nname = "pypi-mirror"\nurl = "https://pypi.org/simple"\n'
        '[[tool.uv.index]]\nname = "torch"\nurl = "https://download.pytorch.org/whl/cpu"\ndefault = true\n'
    )
    result = lint_tree(tmp_path, {"pyproject.toml": pyproject, "uv.toml": 'index-strategy = "unsafe-best-match"\n'})
    assert len(only(result, "uv-unsafe-index-strategy")) == 2
    assert "uv-index-not-explicit" not in ids(result)


def test_npm_lock_v1_nested_and_yarn_v1(tmp_path: Path) -> None:
    lock_v1 = {
        "name": "app",
        "lockfileVersion": 1,
        "dependencies": {
            "a": {
                "version": "1.0.0",
                "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz",
                "integrity": "sha512-" + "A" * 86 + "==",
                "dependencies": {
                    "@s/b": {
                        "version": "2.0.0",
                        "resolved": "https://registry.npmjs.org/@s/b/-/b-2.0.0.tgz",
                        "integrity": "sha1-" + "B" * 27 + "=",
                    }
                },
            },
            "c": {"version": "git+ssh://git@github.com/o/c.git#deadbeef"},
        },
    }
    yarn = (
        "# yarn lockfile v1\n\n"
        '"@s/d@^1.0.0", "@s/d@^1.1.0":\n'
        '  version "1.1.0"\n'
        '  resolved "https://registry.yarnpkg.com/@s/d/-/d-1.1.0.tgz#abc"\n'
        "\n"
        "e@^2:\n"
        '  version "2.0.0"\n'
        '  resolved "http://registry.yarnpkg.com/other/-/other-2.0.0.tgz#abc"\n'
        "  integrity sha512-" + "C" * 86 + "==\n"
    )
    result = lint_tree(tmp_path, {"package-lock.json": json.dumps(lock_v1, indent=2), "yarn.lock": yarn})
    assert [f.title for f in only(result, "npm-lock-sha1-integrity")] == ["Locked package pinned by SHA-1 only: @s/b"]
    assert "npm-url-dependency" in ids(result)
    missing = only(result, "npm-lock-missing-integrity")
    assert [f.location.path for f in missing if f.location] == ["yarn.lock"]
    (mismatch,) = only(result, "npm-lock-name-mismatch")
    assert "e resolves to other" in mismatch.title
    (http,) = only(result, "npm-lock-http")
    assert http.location is not None and (http.location.path, http.location.line) == ("yarn.lock", 9)


def test_allowed_registries_from_config(tmp_path: Path) -> None:
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": {},
            "node_modules/x": {
                "resolved": "https://npm.acme.example/repo/x/-/x-1.0.0.tgz",
                "integrity": "sha512-" + "A" * 86 + "==",
            },
            "node_modules/alias": {
                "name": "real",
                "resolved": "https://registry.npmjs.org/real/-/real-1.0.0.tgz",
                "integrity": "sha512-" + "A" * 86 + "==",
            },
            "node_modules/linked": {"link": True, "resolved": "packages/linked"},
        },
    }
    files = {"package-lock.json": json.dumps(lock)}
    assert ids(lint_tree(tmp_path / "default", files)) == ["npm-lock-disallowed-host"]
    config = {"internal": {"npm_registry": "https://npm.acme.example/repo"}}
    assert ids(lint_tree(tmp_path / "configured", files, config)) == []


def test_package_json_monorepo_lock_in_ancestor_and_url_deps(tmp_path: Path) -> None:
    files = {
        "package.json": json.dumps({"name": "root", "workspaces": ["packages/*"], "devDependencies": {"a": "1"}}),
        "package-lock.json": json.dumps({"lockfileVersion": 3, "packages": {"": {}, "node_modules/a": {}}}),
        "packages/web/package.json": json.dumps(
            {
                "name": "web",
                "dependencies": {"u": "github:o/u#main", "t": "https://x.example/t.tgz", "w": "workspace:*"},
            }
        ),
    }
    result = lint_tree(tmp_path, files)
    assert "npm-lockfile-missing" not in ids(result)
    assert len(only(result, "npm-url-dependency")) == 2
    assert {f.title.split(": ", 1)[1].split(" ")[0] for f in only(result, "lockfile-missing-dependency")} == {"u", "t"}


def test_npmrc_scopes_tokens_and_policy(tmp_path: Path) -> None:
    npmrc = (
        "; comment\n"
        "@acme:registry=https://npm.acme.example/\n"
        "//npm.acme.example/:_authToken=${NPM_TOKEN}\n"
        "//registry.npmjs.org/:_password=cGFzc3dvcmQ=\n"
        "strict-ssl=false\n"
        "registry=http://registry.npmjs.org/\n"
    )
    config = {"internal": {"scopes": ["@acme", "@other"]}, "policy": {"require_ignore_scripts": True}}
    result = lint_tree(tmp_path, {".npmrc": npmrc}, config)
    (token,) = only(result, "npmrc-plaintext-token")
    assert token.location is not None and token.location.line == 4
    assert "cGFzc3dvcmQ=" not in token.evidence[0]
    (scope,) = only(result, "npmrc-scope-without-registry")
    assert "@other" in scope.title
    assert "npmrc-ignore-scripts-missing" in ids(result)
    assert "tls-verification-disabled" in ids(result)
    assert "npm-lock-http" in ids(result)


def test_apt_files_deb822_and_keys(tmp_path: Path) -> None:
    sources = (
        "# disabled one is ignored\n"
        "Types: deb\nURIs: https://disabled.example\nSuites: x\nEnabled: no\n\n"
        "Types: deb deb-src\nURIs: http://deb.debian.org/debian https://mirror.vendor.example/debian\n"
        "Suites: bookworm\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n"
        " -----END PGP PUBLIC KEY BLOCK-----\n"
    )
    files: dict[str, str | bytes] = {
        "etc/apt/sources.list.d/mixed.sources": sources,
        "etc/apt/trusted.gpg.d/vendor.gpg": b"\x99\x01\x0d",
        "etc/apt/trusted.gpg.d/debian-archive-bookworm-stable.asc": "k",
        "etc/apt/apt.conf.d/99insecure": 'APT::Get::AllowUnauthenticated "true";\nAcquire::https::Verify-Peer "false";\n',
        "etc/apt/sources.list": "deb [ arch=amd64 trusted=yes ] http://ppa.example/ubuntu jammy main\n",
    }
    result = lint_tree(tmp_path, files)
    http = only(result, "package-repo-http")
    severities = {f.title.rsplit(" ", 1)[-1]: f.severity for f in http}
    assert severities == {"http://deb.debian.org/debian": Severity.INFO, "http://ppa.example/ubuntu": Severity.LOW}
    (third_party, other) = sorted(only(result, "apt-third-party-source"), key=lambda f: f.title)
    assert "inline key" in third_party.title or "inline key" in other.title
    assert "disabled.example" not in " ".join(f.title for f in result.findings)
    assert [f.location.path for f in only(result, "apt-trusted-gpg-key") if f.location] == [
        "etc/apt/trusted.gpg.d/vendor.gpg"
    ]
    assert "package-signature-check-disabled" in ids(result)
    assert "tls-verification-disabled" in ids(result)
    assert "apt-trusted-yes" in ids(result)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("package.json", "{not json"),
        ("package-lock.json", "[1, 2"),
        ("package.json", "[]"),
        ("pyproject.toml", "[project\nname ="),
        ("uv.toml", "index-strategy = "),
    ],
)
def test_malformed_files_are_skipped_not_fatal(tmp_path: Path, name: str, content: str) -> None:
    result = lint_tree(tmp_path, {name: content, "requirements.txt": "flask\n"})
    assert [s.what for s in result.skipped] == [name]
    assert "requirements-unpinned" in ids(result)


def test_wrongly_typed_but_valid_documents(tmp_path: Path) -> None:
    files = {
        "package.json": json.dumps({"dependencies": ["not", "a", "dict"], "devDependencies": {"x": 1}}),
        "package-lock.json": json.dumps({"packages": {"node_modules/a": "string", "node_modules/b": {"resolved": 5}}}),
        "pyproject.toml": '[tool.poetry]\nsource = "oops"\n[tool.uv]\nindex = [1, "x"]\n[project]\ndependencies = [3]\n',
    }
    result = lint_tree(tmp_path, files)
    assert not result.skipped


def test_huge_requirements_file_is_linted_quickly(tmp_path: Path) -> None:
    text = "".join(f"package-{i}=={i}.0 --hash={H1}\n" for i in range(20_000))
    result = lint_tree(tmp_path, {"requirements.txt": text})
    assert result.findings == ()


def test_installed_copies_are_not_linted(tmp_path: Path) -> None:
    files = {
        "node_modules/dep/package.json": json.dumps({"dependencies": {"x": "github:o/x"}}),
        ".venv/lib/requirements.txt": "flask\n",
    }
    assert lint_tree(tmp_path, files).files == ()


@pytest.mark.parametrize("lock", ["requirements/lock.txt", "requirements.lock", "requirements-prod.txt", "pylock.toml"])
def test_pip_compile_locks_count_as_locks(tmp_path: Path, lock: str) -> None:
    pyproject = '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask"]\n'
    result = lint_tree(tmp_path, {"pyproject.toml": pyproject, lock: f"flask==3.0.3 --hash={H1}\n"})
    assert "python-lockfile-missing" not in ids(result)


def test_deeply_nested_json_is_skipped(tmp_path: Path) -> None:
    nested = '{"dependencies": ' * 50_000 + "{}" + "}" * 50_000
    result = lint_tree(tmp_path, {"package-lock.json": nested, "requirements.txt": "six\n"})
    assert [s.what for s in result.skipped] == ["package-lock.json"]
    assert "requirements-unpinned" in ids(result)
