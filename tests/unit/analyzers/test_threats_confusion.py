"""Dependency-confusion config analysis (pip, uv, Poetry, npm/yarn) and claim findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.analyzers.confusion import ClaimResult, InternalName, analyze_project, claim_findings
from chainwarden.analyzers.typosquat import bare_package
from chainwarden.config import Config, Internal
from chainwarden.models import Ecosystem, Severity

ACME = Config(internal=Internal(patterns=("acme-*",), scopes=("@acme",)))
PRIVATE = "https://pypi.acme.example.invalid/simple"


def rules(project: Path, config: Config = ACME, env: dict[str, str] | None = None) -> dict[str, Severity]:
    picture = analyze_project(
        project, config, env=env or {}, packages=[bare_package(Ecosystem.PYPI, "acme-core", "1.0")]
    )
    worst: dict[str, Severity] = {}
    for finding in picture.findings:
        if finding.rule_id not in worst or finding.severity.rank > worst[finding.rule_id].rank:
            worst[finding.rule_id] = finding.severity
    return worst


def test_pip_extra_index_in_requirements(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"--extra-index-url {PRIVATE}\nacme-core==1.0\n")
    picture = analyze_project(tmp_path, ACME, env={}, packages=[bare_package(Ecosystem.PYPI, "acme-core", "1.0")])
    finding = next(f for f in picture.findings if f.rule_id == "dependency-confusion-extra-index")
    assert finding.severity is Severity.HIGH
    assert finding.location is not None and finding.location.line == 1
    assert any("acme-core" in e for e in finding.evidence)
    assert PRIVATE in picture.private_pypi


def test_hash_pinning_lowers_extra_index_severity(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        f"--extra-index-url {PRIVATE}\nacme-core==1.0 --hash=sha256:{'a' * 64}\n"
    )
    assert rules(tmp_path)["dependency-confusion-extra-index"] is Severity.MEDIUM


def test_pip_env_and_pip_conf(tmp_path: Path) -> None:
    assert "dependency-confusion-extra-index" in rules(tmp_path, env={"PIP_EXTRA_INDEX_URL": PRIVATE})
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nextra-index-url = {PRIVATE}\n")
    assert "dependency-confusion-extra-index" in rules(tmp_path)


def test_index_url_alone_is_not_confusion(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"--index-url {PRIVATE}\nacme-core==1.0\n")
    assert "dependency-confusion-extra-index" not in rules(tmp_path)


def test_uv_unsafe_strategy_and_unpinned_index(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.uv]\nindex-strategy = "unsafe-best-match"\n\n[[tool.uv.index]]\nname = "acme"\nurl = "{PRIVATE}"\n'
    )
    found = rules(tmp_path)
    assert found["dependency-confusion-index-strategy"] is Severity.HIGH


def test_uv_explicit_index_with_sources_is_clean(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[[tool.uv.index]]\nname = "acme"\nurl = "{PRIVATE}"\nexplicit = true\n\n'
        '[tool.uv.sources]\nacme-core = { index = "acme" }\n'
    )
    picture = analyze_project(tmp_path, ACME, env={}, packages=[bare_package(Ecosystem.PYPI, "acme-core", "1.0")])
    assert picture.findings == []
    assert (Ecosystem.PYPI, "acme-core") in picture.pinned
    assert picture.internal[(Ecosystem.PYPI, "acme-core")].version == "1.0"


def test_poetry_supplemental_source_without_pins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.11"\nacme-core = "^1.0"\n\n'
        f'[[tool.poetry.source]]\nname = "acme"\nurl = "{PRIVATE}"\npriority = "supplemental"\n'
    )
    assert rules(tmp_path)["dependency-confusion-source-priority"] is Severity.HIGH


def test_poetry_pinned_source_is_low(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\nacme-core = { version = "^1.0", source = "acme" }\n\n'
        f'[[tool.poetry.source]]\nname = "acme"\nurl = "{PRIVATE}"\npriority = "supplemental"\n'
    )
    assert rules(tmp_path)["dependency-confusion-source-priority"] is Severity.LOW


def test_npm_unscoped_internal_and_unmapped_scope(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        '{"dependencies": {"acme-widgets": "1.0.0", "@acme/ui": "2.0.0", "react": "18"}}'
    )
    found = rules(tmp_path)
    assert found["dependency-confusion-unscoped-internal"] is Severity.HIGH
    assert found["dependency-confusion-unmapped-scope"] is Severity.HIGH


def test_npm_scope_mapping_and_private_default_registry(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"dependencies": {"acme-widgets": "1.0.0", "@acme/ui": "2.0.0"}}')
    (tmp_path / ".npmrc").write_text(
        "registry=https://npm.acme.example.invalid/\n@acme:registry=https://npm.acme.example.invalid/\n"
    )
    found = rules(tmp_path)
    assert "dependency-confusion-unmapped-scope" not in found
    assert found["dependency-confusion-unscoped-internal"] is Severity.MEDIUM


def test_yarn_berry_scopes(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"dependencies": {"@acme/ui": "2.0.0"}}')
    (tmp_path / ".yarnrc.yml").write_text(
        'npmScopes:\n  acme:\n    npmRegistryServer: "https://npm.acme.example.invalid"\n'
    )
    picture = analyze_project(tmp_path, ACME, env={})
    assert picture.scope_registries["@acme"] == "https://npm.acme.example.invalid"
    assert (Ecosystem.NPM, "@acme/ui") in picture.internal


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", "\x00\x01", '{"dependencies": 5}'],
)
def test_malformed_manifests_do_not_crash(tmp_path: Path, content: str) -> None:
    (tmp_path / "package.json").write_text(content)
    (tmp_path / "pyproject.toml").write_text("[tool.uv\nbroken")
    (tmp_path / ".yarnrc.yml").write_text(": : :\n\t- [")
    assert isinstance(analyze_project(tmp_path, ACME, env={}).findings, list)


def test_claim_findings_outcomes() -> None:
    mine = InternalName(Ecosystem.PYPI, "acme-core", "1.0", "matches pattern")
    results = [
        ClaimResult(mine, "claimed", ("0.1", "9.9"), "9.9", frozenset({"eve"})),
        ClaimResult(InternalName(Ecosystem.PYPI, "acme-old", "5.0"), "claimed", ("1.0",), "1.0"),
        ClaimResult(InternalName(Ecosystem.NPM, "acme-free", "1.0.0"), "unclaimed"),
        ClaimResult(InternalName(Ecosystem.NPM, "@acme/ui", "1.0.0"), "claimed-by-you", detail="maintained by you"),
        ClaimResult(InternalName(Ecosystem.PYPI, "acme-down"), "lookup-failed", detail="timeout"),
    ]
    findings = claim_findings(results, registry_urls={Ecosystem.PYPI: "https://pypi.org/simple", Ecosystem.NPM: "npm"})
    by_name = {f.package.name: f for f in findings if f.package}
    assert by_name["acme-core"].severity is Severity.CRITICAL
    assert "higher version 9.9" in by_name["acme-core"].title
    assert by_name["acme-old"].severity is Severity.HIGH
    assert by_name["acme-free"].rule_id == "dependency-confusion-unclaimed"
    assert by_name["@acme/ui"].severity is Severity.INFO
    assert by_name["acme-down"].severity is Severity.UNKNOWN
