"""The advisories ``make demo`` bundles find what the demo image installs, in every ecosystem they cover."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from chainwarden.cli import main

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tasks.imagebuild.flavours import DEMO_NPM, DEMO_REMOVED_WHEEL, DEMO_WHEELS  # noqa: E402

ADVISORIES = ROOT / "demo" / "advisories"


def test_every_bundled_record_is_licensed_and_described() -> None:
    readme = (ADVISORIES / "README.md").read_text()
    for record in sorted((ADVISORIES / "pypi").glob("*.yaml")):
        assert record.stem in readme
        assert yaml.safe_load(record.read_text())["id"] == record.stem
    assert (ADVISORIES / "pypi" / "LICENSE").read_text().startswith("Attribution 4.0 International")


def test_the_demo_packages_have_python_and_npm_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo image's Python and npm pins, as a project, scanned against the bundled advisories only."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    project = tmp_path / "project"
    project.mkdir()
    wheels = [w for w in DEMO_WHEELS if not w.startswith(f"{DEMO_REMOVED_WHEEL}==")]
    (project / "requirements.txt").write_text("".join(f"{w}\n" for w in wheels))
    packages = {}
    for spec in DEMO_NPM:
        name, _, version = spec.rpartition("@")
        packages[f"node_modules/{name}"] = {"version": version}
    lock = {"name": "demo", "lockfileVersion": 3, "packages": {"": {"name": "demo"}, **packages}}
    (project / "package-lock.json").write_text(json.dumps(lock, indent=2))
    db = tmp_path / "osv.sqlite3"
    assert main(["db", "import", "--db", str(db), str(ADVISORIES)]) == 0
    capsys.readouterr()
    assert main(["scan", str(project), "--db", str(db), "-f", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    vulnerable = {(f["package"]["ecosystem"], f["package"]["name"]) for f in findings}
    assert {("pypi", "requests"), ("pypi", "urllib3"), ("pypi", "jinja2"), ("pypi", "idna")} <= vulnerable
    assert {("npm", "lodash"), ("npm", "minimist"), ("npm", "debug"), ("npm", "node-fetch")} <= vulnerable
