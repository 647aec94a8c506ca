"""``chainwarden admit`` against a real ``docker-registry`` and a real OSV database on disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chainwarden.cli import main
from integration.policy_registry import push_image
from integration.registry_server import PushClient, RunningRegistry, missing_tools, start_registry
from support.images import dpkg_status_entry, npm_package
from support.osv import import_records

pytestmark = pytest.mark.integration

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


@dataclass
class World:
    registry: RunningRegistry
    clean: str
    vulnerable: str
    malicious: str
    db: Path


def _advisory(vuln_id: str, ecosystem: str, name: str, fixed: str | None, **extra: Any) -> dict[str, Any]:
    events: list[dict[str, str]] = [{"introduced": "0"}] + ([{"fixed": fixed}] if fixed else [])
    kind = "SEMVER" if ecosystem == "npm" else "ECOSYSTEM"
    return {
        "id": vuln_id,
        "modified": "2024-06-01T00:00:00Z",
        "summary": f"{name}: {vuln_id}",
        "affected": [{"package": {"ecosystem": ecosystem, "name": name}, "ranges": [{"type": kind, "events": events}]}],
        **extra,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if missing_tools():
        pytest.skip("needs docker-registry and skopeo")
    root = tmp_path_factory.mktemp("admit")
    db = import_records(
        root,
        [
            _advisory(
                "DEBIAN-CVE-2024-1001",
                "Debian:12",
                "openssl",
                "3.0.11-1~deb12u2",
                aliases=["CVE-2024-1001"],
                severity=[{"type": "CVSS_V3", "score": CVSS_CRITICAL}],
            ),
            _advisory("MAL-2024-9999", "npm", "evil-pkg", None, database_specific={"malicious-packages-origins": []}),
        ],
    )
    running = start_registry(root / "registry")
    pusher = PushClient(running.address)
    try:
        clean = push_image(pusher, "team/clean", "1", {"/etc/os-release": OS_RELEASE, "/var/lib/dpkg/status": ""})
        vulnerable = push_image(
            pusher,
            "team/vulnerable",
            "1",
            {
                "/etc/os-release": OS_RELEASE,
                "/var/lib/dpkg/status": dpkg_status_entry("openssl", "3.0.11-1~deb12u1"),
            },
        )
        malicious = push_image(
            pusher,
            "team/malicious",
            "1",
            {"/etc/os-release": OS_RELEASE, **npm_package("/app", "evil-pkg", "1.0.0")},
        )
        yield World(running, clean.digest, vulnerable.digest, malicious.digest, db)
    finally:
        pusher.close()
        running.stop()


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_gates_with_reasons_per_rule(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = world.registry.address
    policy = write_policy(
        tmp_path,
        f"""\
apiVersion: chainwarden.dev/v1alpha1
kind: AdmissionPolicy
mode: enforce
gates:
  digestPinned: true
  allowedRegistries: ["127.0.0.1:*"]
  vulnerabilities: {{failOn: high, db: {world.db}}}
  malicious: true
""",
    )
    clean_pinned = f"{host}/team/clean:1@{world.clean}"
    code, out, err = run(capsys, "admit", "--policy", str(policy), clean_pinned, "--format", "json")
    assert code == 0, err
    (decision,) = json.loads(out)["images"]
    assert decision["allowed"] and decision["digest"] == world.clean
    assert [r["rule"] for r in decision["rules"]] == [
        "digest-pinned",
        "allowed-registries",
        "vulnerabilities",
        "malicious",
    ]
    code, out, _ = run(
        capsys,
        "admit",
        "check",
        "--policy",
        str(policy),
        f"{host}/team/clean:1",
        f"{host}/team/vulnerable:1@{world.vulnerable}",
        f"{host}/team/malicious:1",
        "--format",
        "json",
    )
    assert code == 1
    images = {d["image"].split("/team/")[1]: d for d in json.loads(out)["images"]}
    failed = {name: {r["rule"]: r["message"] for r in d["rules"] if not r["passed"]} for name, d in images.items()}
    assert images["clean:1"]["digest"] == world.clean  # the tag was resolved for the decision
    assert set(failed["clean:1"]) == {"digest-pinned"}
    assert "not pinned by digest" in failed["clean:1"]["digest-pinned"]
    assert set(failed["vulnerable:1@" + world.vulnerable]) == {"vulnerabilities"}
    assert "CVE-2024-1001 (critical)" in failed["vulnerable:1@" + world.vulnerable]["vulnerabilities"]
    assert set(failed["malicious:1"]) == {"digest-pinned", "malicious"}
    assert "known-malicious-package" in failed["malicious:1"]["malicious"]


def test_warn_mode_table_and_sarif(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = world.registry.address
    policy = write_policy(tmp_path, "mode: warn\ngates:\n  digestPinned: true\n  allowedRegistries: [ghcr.io]\n")
    code, out, err = run(capsys, "admit", "--policy", str(policy), f"{host}/team/clean:1")
    assert code == 0
    assert "ALLOWED (warnings)" in out
    assert (
        f"chainwarden: warning: {host}/team/clean:1: allowed-registries: registry {host} is not one of ghcr.io" in err
    )
    code, out, _ = run(capsys, "admit", "--policy", str(policy), f"{host}/team/clean:1", "--format", "sarif")
    document = json.loads(out)
    from importlib import resources

    schema = json.loads(resources.files("chainwarden.report").joinpath("schemas/sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(document, schema)
    assert {r["ruleId"] for r in document["runs"][0]["results"]} == {"admit-digest-pinned", "admit-allowed-registries"}


def test_unresolvable_and_bad_input(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = world.registry.address
    policy = write_policy(tmp_path, "gates:\n  allowedRegistries: ['127.0.0.1:*']\n")
    code, out, _ = run(capsys, "admit", "--policy", str(policy), f"{host}/team/missing:1", "--format", "json")
    assert code == 1
    (decision,) = json.loads(out)["images"]
    assert decision["rules"][-1]["rule"] == "resolve" and "404" in decision["rules"][-1]["message"]
    code, _, err = run(capsys, "admit", "--policy", str(write_policy(tmp_path, "gates: [\n")), "x")
    assert code == 2 and err.startswith("chainwarden: error:") and "malformed policy" in err
    signed = write_policy(
        tmp_path,
        "images:\n  - glob: '**'\n    authorities:\n      - keyless: {identity: a@b.c, issuer: https://x}\n",
    )
    code, out, err = run(capsys, "admit", "--policy", str(signed), f"{host}/team/clean:1@{world.clean}")
    # with the signing package: denied for want of a signature; without: a usage error, never a pass
    assert code in (1, 2) and code != 0
