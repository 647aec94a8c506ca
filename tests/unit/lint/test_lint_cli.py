"""``chainwarden lint`` through the real CLI: exit codes, formats, SARIF schema, images, --fix."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chainwarden.cli import main
from chainwarden.config import Config
from chainwarden.lint import image_wants, lint_view
from chainwarden.sources import open_source
from support.images import make_oci, make_rootfs
from unit.lint.lint_helpers import write_tree

DOCKERFILE = "FROM node:20\nCOPY package.json package-lock.json ./\nRUN npm install\n"


def _repo(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "repo", {"Dockerfile": DOCKERFILE, "requirements.txt": "flask\n"})


def test_table_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    assert main(["lint", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "npm-install-without-lock" in out and "requirements-unpinned" in out
    assert main(["lint", str(repo), "--fail-on", "medium"]) == 1
    assert main(["lint", str(repo), "--fail-on", "critical"]) == 0


def test_json_output_to_file(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    report = tmp_path / "out.json"
    assert main(["lint", str(repo / "Dockerfile"), "--format", "json", "-o", str(report)]) == 0
    document = json.loads(report.read_text())
    assert document["command"] == "lint"
    assert document["linted_files"] == ["Dockerfile"]
    rules = {f["rule_id"] for f in document["findings"]}
    assert {"dockerfile-unpinned-base", "npm-install-without-lock", "dockerfile-root-user"} <= rules
    finding = next(f for f in document["findings"] if f["rule_id"] == "npm-install-without-lock")
    assert finding["location"] == {"path": "Dockerfile", "layer": None, "line": 3, "column": 9}


def _sarif_validator() -> Any:
    try:
        text = resources.files("chainwarden.report").joinpath("schemas/sarif-schema-2.1.0.json").read_text("utf-8")
    except FileNotFoundError:
        pytest.skip("SARIF schema not bundled yet")
    schema = json.loads(text)
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def test_sarif_is_valid_and_carries_rule_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("chainwarden.report.sarif")
    repo = _repo(tmp_path)
    assert main(["lint", str(repo), "--format", "sarif"]) == 0
    document = json.loads(capsys.readouterr().out)
    errors = sorted(_sarif_validator().iter_errors(document), key=str)
    assert not errors, [e.message for e in errors[:5]]
    (run,) = document["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert "Fix:" in rules["npm-install-without-lock"]["help"]["text"]
    result = next(r for r in run["results"] if r["ruleId"] == "npm-install-without-lock")
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (3, 9)
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("Dockerfile")


def test_fix_through_the_cli_reports_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    assert main(["lint", str(repo), "--fix", "--offline"]) == 0
    captured = capsys.readouterr()
    assert "fixed Dockerfile:3: npm install → npm ci" in captured.err
    assert "RUN npm ci" in (repo / "Dockerfile").read_text()
    assert "npm-install-without-lock" not in captured.out


def test_config_file_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    config = tmp_path / "policy.toml"
    config.write_text('[rules]\ndisabled = ["requirements-unpinned"]\n')
    assert main(["lint", str(repo), "--config", str(config), "--format", "json"]) == 0
    rules = {f["rule_id"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert "requirements-unpinned" not in rules


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    assert main(["lint", str(other)]) == 2
    assert main(["lint", f"oci:{tmp_path}", "--fix"]) == 2
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[rules\n")
    assert main(["lint", str(_repo(tmp_path)), "--config", str(bad_config)]) == 2
    assert "invalid TOML" in capsys.readouterr().err


IMAGE_FILES: dict[str, str] = {
    "etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
    "etc/apt/sources.list.d/debian.sources": (
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    ),
    "etc/apt/sources.list.d/vendor.list": "deb [trusted=yes] https://apt.vendor.example stable main\n",
    "etc/apt/trusted.gpg.d/vendor.gpg": "key",
    "etc/pip.conf": "[global]\nextra-index-url = https://pypi.vendor.example/simple\n",
    "root/.npmrc": "//registry.npmjs.org/:_authToken=npm_0123456789abcdefghijklmnopqrstuvwxyz\n",
    "app/Dockerfile": "FROM node:latest\n",  # not system configuration: not linted in images
}


def test_image_target_audits_system_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = make_oci(tmp_path / "image", [IMAGE_FILES])
    assert main(["lint", f"oci:{layout}", "--format", "json", "--no-cache", "--fail-on", "critical"]) == 1
    document = json.loads(capsys.readouterr().out)
    by_rule = {f["rule_id"]: f for f in document["findings"]}
    assert set(by_rule) == {
        "apt-trusted-yes",
        "apt-third-party-source",
        "apt-trusted-gpg-key",
        "package-repo-http",
        "pip-extra-index-url",
        "npmrc-plaintext-token",
    }
    assert by_rule["apt-trusted-yes"]["location"]["path"] == "/etc/apt/sources.list.d/vendor.list"
    assert str(by_rule["apt-trusted-yes"]["location"]["layer"]).startswith("sha256:")
    assert by_rule["package-repo-http"]["severity"] == "info"


def test_lint_view_on_a_rootfs(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path / "rootfs", IMAGE_FILES)
    with open_source(f"dir:{root}") as source:
        result = lint_view(source.view(image_wants), Config())
    assert "/etc/pip.conf" in result.files
    assert "/app/Dockerfile" not in result.files
    assert image_wants("/etc/apt/sources.list") and not image_wants("/usr/lib/node_modules/x/package.json")
