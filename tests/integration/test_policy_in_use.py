"""The ``vulnerabilities.inUseOnly`` gate end to end: a real profile, a real registry, ``admit`` and ``admit serve``.

An image in Debian's ``docker-registry`` holds two vulnerable packages: ``used-tool``
(a high CVE), whose program the probe runs, and ``unused-data`` (a critical CVE), which
nothing touches. ``chainwarden profile`` records it from the registry in the sandbox
(bwrap + strace) and writes the profile file the policy names; ``chainwarden db import``
builds the OSV database. The gate must then count the used package's finding and not the
unused one's — through the CLI and through the webhook over HTTPS — and must not let a
profile recorded for one image excuse the findings of another.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chainwarden.cli import main
from integration.policy_registry import push_image
from integration.registry_server import PushClient, RunningRegistry, missing_tools, start_registry
from integration.test_policy_webhook import make_certificate, review, start_server, stop
from support.images import Content, Symlink, dpkg_status_entry
from support.osv import import_records

pytestmark = pytest.mark.integration

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8


@dataclass
class World:
    root: Path
    registry: RunningRegistry
    image: str  # registry/repo:tag@digest
    other: str  # the same packages in another image, never profiled
    db: Path
    profile: Path


def _advisory(vuln_id: str, name: str, score: str) -> dict[str, Any]:
    return {
        "id": vuln_id,
        "modified": "2024-06-01T00:00:00Z",
        "aliases": [vuln_id.removeprefix("DEBIAN-")],
        "summary": f"{name}: {vuln_id}",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1-1"}]}],
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": score}],
    }


def _tree(marker: str) -> dict[str, Content]:
    status = "\n".join(
        [
            dpkg_status_entry("busybox-static", "1:1.35.0-4"),
            dpkg_status_entry("used-tool", "1.0-1"),
            dpkg_status_entry("unused-data", "1.0-1"),
        ]
    )
    return {
        "/bin": Symlink("usr/bin"),
        "/usr/bin/busybox": Path("/bin/busybox").read_bytes(),
        "/usr/bin/sh": Symlink("busybox"),
        "/usr/bin/cat": Symlink("busybox"),
        "/usr/bin/used-tool": "#!/bin/sh\ncat /usr/share/used-tool/greeting\n",
        "/usr/share/used-tool/greeting": f"hello {marker}\n",
        "/usr/share/unused-data/table": "never read\n",
        "/etc/os-release": OS_RELEASE,
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "/var/lib/dpkg/status": status,
        "/var/lib/dpkg/info/busybox-static.list": "/.\n/bin\n/bin/busybox\n/bin/sh\n/bin/cat\n",
        "/var/lib/dpkg/info/used-tool.list": "/.\n/usr/bin/used-tool\n/usr/share/used-tool/greeting\n",
        "/var/lib/dpkg/info/unused-data.list": "/.\n/usr/share/unused-data/table\n",
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if missing_tools():
        pytest.skip("needs docker-registry and skopeo")
    missing = [pkg for tool, pkg in (("bwrap", "bubblewrap"), ("strace", "strace")) if shutil.which(tool) is None]
    if not Path("/bin/busybox").is_file():
        missing.append("busybox-static")
    if missing and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", *missing], check=False, capture_output=True)
    for tool in ("bwrap", "strace"):
        assert shutil.which(tool), f"{tool} is required for the in-use admission tests"
    assert Path("/bin/busybox").is_file(), "busybox-static is required for the in-use admission tests"
    root = tmp_path_factory.mktemp("in-use")
    db = import_records(
        root,
        [
            _advisory("DEBIAN-CVE-2024-2001", "used-tool", CVSS_HIGH),
            _advisory("DEBIAN-CVE-2024-2002", "unused-data", CVSS_CRITICAL),
        ],
    )
    registry = start_registry(root / "registry")
    pusher = PushClient(registry.address)
    try:
        host = registry.address
        image = f"{host}/team/app:1@{push_image(pusher, 'team/app', '1', _tree('app')).digest}"
        other = f"{host}/team/other:1@{push_image(pusher, 'team/other', '1', _tree('other')).digest}"
        profile = root / "profile.json"
        code = main(
            ["profile", f"registry:{image}", "--probe", "used-tool", "--timeout", "30", "-o", str(profile)]
        )  # fmt: skip
        assert code == 0
        yield World(root, registry, image, other, db, profile)
    finally:
        pusher.close()
        registry.stop()


def policy(world: World, name: str, fail_on: str, *, in_use_only: bool) -> Path:
    path = world.root / f"{name}.yaml"
    gate = f"{{failOn: {fail_on}, db: {world.db}, inUseOnly: {str(in_use_only).lower()}, profile: {world.profile}}}"
    path.write_text(f"gates:\n  allowedRegistries: ['127.0.0.1:*']\n  vulnerabilities: {gate}\n")
    return path


def vulnerabilities_rule(
    capsys: pytest.CaptureFixture[str], policy_path: Path, image: str
) -> tuple[int, dict[str, Any]]:
    code = main(["admit", "--policy", str(policy_path), image, "--format", "json"])
    (decision,) = json.loads(capsys.readouterr().out)["images"]
    rule = next(r for r in decision["rules"] if r["rule"] == "vulnerabilities")
    return code, rule


def test_the_profile_records_what_the_probe_used(world: World) -> None:
    document = json.loads(world.profile.read_text())
    statuses = {p["name"]: p["status"] for p in document["packages"]}
    assert statuses == {"busybox-static": "executed", "used-tool": "executed", "unused-data": "unused"}
    assert document["target"]["digest"] == world.image.rsplit("@", 1)[1]
    assert document["probes"][0]["stdout"] == "hello app\n"


def test_admit_counts_only_findings_in_use(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # the critical finding is on a package nothing used: the in-use gate admits, the plain gate denies
    code, rule = vulnerabilities_rule(
        capsys, policy(world, "critical-in-use", "critical", in_use_only=True), world.image
    )
    assert code == 0 and rule["passed"], rule
    assert rule["message"] == "no vulnerability ≥ critical in use"
    code, rule = vulnerabilities_rule(capsys, policy(world, "critical", "critical", in_use_only=False), world.image)
    assert code == 1 and not rule["passed"]
    assert rule["message"] == "1 vulnerabilities ≥ critical: unused-data@1.0-1: CVE-2024-2002 (critical)"
    # the high finding is on the program the probe ran: denied with it, and only it
    code, rule = vulnerabilities_rule(capsys, policy(world, "high-in-use", "high", in_use_only=True), world.image)
    assert code == 1 and not rule["passed"]
    assert rule["message"] == "1 vulnerabilities ≥ high in use: used-tool@1.0-1: CVE-2024-2001 (high)"


def test_a_profile_of_another_image_excuses_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # same package names and versions, another digest: the profile says nothing about what runs in it
    code, rule = vulnerabilities_rule(
        capsys, policy(world, "critical-in-use", "critical", in_use_only=True), world.other
    )
    assert code == 1 and not rule["passed"], rule
    assert "unused-data@1.0-1: CVE-2024-2002 (critical)" in rule["message"]
    assert f"{world.profile} was recorded for {world.image.rsplit('@', 1)[1]}" in rule["message"]


def test_admit_serve_counts_only_findings_in_use(world: World) -> None:
    cert, key = make_certificate(world.root)
    servers = [
        start_server(policy(world, name, fail_on, in_use_only=True), cert, key, world.root / f"{name}.log")
        for name, fail_on in (("serve-critical", "critical"), ("serve-high", "high"))
    ]
    try:
        body = review("pod_creation_with_init_container.json", [world.image, world.image])
        with servers[0].client() as client:
            first = client.post("/validate", json=body).json()["response"]
            again = client.post("/validate", json=body).json()["response"]  # from the cache this time
            metrics = client.get("/metrics").text
        assert first == again == {"uid": body["request"]["uid"], "allowed": True}
        assert "chainwarden_admission_cache_hits_total 1.0" in metrics
        with servers[1].client() as client:
            denied = client.post("/validate", json=body).json()["response"]
        assert denied["allowed"] is False
        message = denied["status"]["message"]
        assert message == (
            f"chainwarden denied Pod nginx: {world.image}: vulnerabilities: "
            "1 vulnerabilities ≥ high in use: used-tool@1.0-1: CVE-2024-2001 (high)"
        )
    finally:
        for server in servers:
            stop(server)
