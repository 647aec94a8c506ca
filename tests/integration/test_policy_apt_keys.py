"""``chainwarden apt-keys``: keys made by the real gpg, read back by ``gpg --show-keys``.

The benign side is Debian's own archive keyring as installed on this machine
(``/usr/share/keyrings/debian-archive-keyring.gpg``, from the debian-archive-keyring package).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chainwarden.cli import main
from support.images import make_oci

pytestmark = pytest.mark.integration

DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def gpg(home: Path, *args: str) -> bytes:
    result = subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", "", *args],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def make_key(work: Path, name: str, algorithm: str, *, expire: str = "never", faked_time: str | None = None) -> bytes:
    home = work / f"gnupg-{name}"
    home.mkdir(mode=0o700)
    try:
        extra = ["--faked-system-time", faked_time] if faked_time else []
        uid = f"{name} Vendor <{name}@example.com>"
        gpg(home, *extra, "--quick-gen-key", uid, algorithm, "sign", expire)
        return gpg(home, "--export", uid)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gpg") is None:
        pytest.skip("needs gpg")
    work = tmp_path_factory.mktemp("apt-keys")
    root = work / "root"
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    (root / "etc/apt/trusted.gpg.d").mkdir(parents=True)
    (root / "etc/apt/keyrings").mkdir(parents=True)
    (root / "usr/share/keyrings").mkdir(parents=True)
    (root / "etc/apt/trusted.gpg.d/vendor.gpg").write_bytes(make_key(work, "weak", "rsa1024"))
    (root / "usr/share/keyrings/good.gpg").write_bytes(make_key(work, "good", "ed25519"))
    (root / "etc/apt/keyrings/old.gpg").write_bytes(
        make_key(work, "old", "rsa3072", expire="1y", faked_time="20200101T000000")
    )
    (root / "etc/apt/keyrings/dsa.gpg").write_bytes(make_key(work, "dsa", "dsa2048"))
    if DEBIAN_KEYRING.is_file():
        shutil.copy(DEBIAN_KEYRING, root / "etc/apt/trusted.gpg.d/debian-archive-keyring.gpg")
    (root / "etc/apt/sources.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
    lists = root / "etc/apt/sources.list.d"
    (lists / "vendor.list").write_text("deb https://apt.vendor.example stable main\n")
    (lists / "good.sources").write_text(
        "Types: deb\nURIs: https://pkgs.good.example/apt\nSuites: stable\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/good.gpg\n"
    )
    (lists / "same-vendor.list").write_text(
        "deb [signed-by=/usr/share/keyrings/good.gpg] https://cdn.good.example/apt stable main\n"
    )
    (lists / "unrelated.list").write_text(
        "deb [signed-by=/usr/share/keyrings/good.gpg] https://repo.unrelated.example stable main\n"
    )
    (lists / "old.list").write_text(
        "deb [signed-by=/etc/apt/keyrings/old.gpg] https://old.example.org/apt stable main\n"
    )
    (lists / "dsa.list").write_text(
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/dsa.gpg] https://dsa.example.net stable main\n"
    )
    (lists / "missing.list").write_text(
        "deb [signed-by=/etc/apt/keyrings/nope.gpg] https://gone.example.com stable main\n"
    )
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def check_document(document: dict[str, Any]) -> None:
    findings = document["findings"]
    assert isinstance(findings, list)
    by_rule: dict[str, list[str]] = {}
    for finding in findings:
        by_rule.setdefault(finding["rule_id"], []).append(finding["title"])
    assert any("weak Vendor" in t and "RSA-1024" in t for t in by_rule["apt-key-weak"])
    assert any("dsa Vendor" in t and "DSA" in t for t in by_rule["apt-key-weak"])
    assert len(by_rule["apt-key-weak"]) == 2  # Debian's RSA-4096 keys and the ed25519 key are not weak
    (expired,) = by_rule["apt-key-expired"]  # made in 2020 with a one-year expiry; Debian's keys are current
    assert expired.startswith("old Vendor <old@example.com>") and "expired on 2020-12-31" in expired
    (global_third_party,) = by_rule["apt-key-global-third-party"]
    assert global_third_party.startswith("apt.vendor.example trusts every key in trusted.gpg(.d)")
    assert "weak Vendor <weak@example.com>" in global_third_party
    (shared,) = by_rule["apt-key-shared"]  # cdn.good.example is the same vendor: not counted
    assert "cdn.good.example, pkgs.good.example, repo.unrelated.example" in shared
    (missing,) = by_rule["apt-key-missing"]
    assert "gone.example.com: signed-by /etc/apt/keyrings/nope.gpg is not there" in missing
    sources = {s["uri"]: s for s in document["sources"]}
    assert (
        sources["http://deb.debian.org/debian"]["official"]
        and sources["http://deb.debian.org/debian"]["trust"] == "global"
    )
    assert sources["https://pkgs.good.example/apt"]["trust"] == "signed-by"
    keys = {k["fingerprint"]: k for k in document["keys"]}
    good = next(k for k in keys.values() if k["user_ids"] == ["good Vendor <good@example.com>"])
    assert good["algorithm"] == "EdDSA" and good["curve"] == "ed25519"


def test_tree_audit(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "apt-keys", str(tree), "--format", "json", "--fail-on", "high")
    assert code == 1
    check_document(json.loads(out))
    code, out = run(capsys, "apt-keys", str(tree))
    assert "third-party" in out and "good Vendor <good@example.com>" in out


def test_image_audit_matches_tree(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {"/" + p.relative_to(tree).as_posix(): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    make_oci(tmp_path / "image", [files])
    code, out = run(capsys, "apt-keys", f"oci:{tmp_path / 'image'}", "--format", "json")
    assert code == 0
    check_document(json.loads(out))


def test_debian_only_is_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not DEBIAN_KEYRING.is_file():
        pytest.skip("debian-archive-keyring not installed")
    (tmp_path / "etc/apt/trusted.gpg.d").mkdir(parents=True)
    shutil.copy(DEBIAN_KEYRING, tmp_path / "etc/apt/trusted.gpg.d/debian-archive-keyring.gpg")
    (tmp_path / "etc/apt/sources.list").write_text("deb https://deb.debian.org/debian bookworm main\n")
    code, out = run(capsys, "apt-keys", str(tmp_path), "--format", "json", "--fail-on", "low")
    document = json.loads(out)
    assert code == 0 and document["findings"] == []
    assert len(document["keys"]) >= 3


def test_sbom_lists_third_party_sources_with_key_owner(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "sbom", str(tree), "--format", "json")
    assert code == 0
    listed = {s["uri"]: s for s in json.loads(out)["apt_third_party_sources"]}
    assert "http://deb.debian.org/debian" not in listed
    assert listed["https://pkgs.good.example/apt"]["key_owner"] == "good Vendor <good@example.com>"
    assert listed["https://apt.vendor.example"]["trust"] == "global"
    code, out = run(capsys, "sbom", str(tree))
    assert "Third-party APT sources:" in out and "https://repo.unrelated.example  (signed-by; key: good Vendor" in out
