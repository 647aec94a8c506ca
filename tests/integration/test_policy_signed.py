"""``admit`` authorities/attestations and ``mirror --verify-key`` with real cosign-format signatures.

Images on a real ``docker-registry`` are signed and attested by the signing package
(bundle referrers with the referrers tag schema, and the legacy ``.sig`` layout); the
decisions go through the CLI. A mirrored image's signatures must still verify in the
destination (``chainwarden verify`` there).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainwarden.cli import main
from chainwarden.signing import attest, cosign, keys
from chainwarden.sources.registry import RegistryClient, parse_reference
from integration.policy_registry import push_image
from integration.registry_server import PushClient, RunningRegistry, missing_tools, start_registry

pytestmark = pytest.mark.integration

BUILD_TYPE = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"


@dataclass
class World:
    registry: RunningRegistry
    dst: RunningRegistry
    public_key: Path
    other_key: Path
    signed: str  # digest, signed (bundle) and attested
    legacy: str  # digest, signed in the legacy layout only
    unsigned: str


def _client(reference: str) -> RegistryClient:
    return RegistryClient(parse_reference(reference), reference)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if missing_tools():
        pytest.skip("needs docker-registry and skopeo")
    root = tmp_path_factory.mktemp("signed")
    registry, dst = start_registry(root / "src"), start_registry(root / "dst")
    pusher = PushClient(registry.address)
    try:
        pair = keys.generate_key_pair(b"pw", scrypt_n=1024)
        private = keys.load_private_key(pair.private_pem, b"pw", "test key")
        (root / "cosign.pub").write_bytes(pair.public_pem)
        (root / "other.pub").write_bytes(keys.generate_key_pair(b"pw", scrypt_n=1024).public_pem)
        host = registry.address
        signed = push_image(pusher, "team/signed", "1", {"/etc/s": "signed\n"}).digest
        legacy = push_image(pusher, "team/legacy", "1", {"/etc/l": "legacy\n"}).digest
        unsigned = push_image(pusher, "team/unsigned", "1", {"/etc/u": "unsigned\n"}).digest
        with _client(f"{host}/team/signed@{signed}") as client:
            cosign.sign_image(client, private)
            predicate = {
                "buildDefinition": {"buildType": BUILD_TYPE, "externalParameters": {"workflow": {"ref": "main"}}},
                "runDetails": {"builder": {"id": "https://github.com/actions/runner"}},
            }
            attest.attest_image(client, private, "https://slsa.dev/provenance/v1", predicate)
        with _client(f"{host}/team/legacy@{legacy}") as client:
            cosign.sign_image(client, private, legacy=True)
        yield World(registry, dst, root / "cosign.pub", root / "other.pub", signed, legacy, unsigned)
    finally:
        pusher.close()
        registry.stop()
        dst.stop()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_admit_key_authority_and_attestation_conditions(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = world.registry.address
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"""\
apiVersion: chainwarden.dev/v1alpha1
kind: AdmissionPolicy
gates:
  provenance: true
images:
  - name: team
    glob: "127.0.0.1:*/team/**"
    authorities:
      - name: release
        key: {{path: {world.public_key}}}
    attestations:
      - name: built-by-actions
        predicateType: slsaprovenance1
        conditions:
          - {{path: buildDefinition.buildType, operator: equals, value: "{BUILD_TYPE}"}}
          - {{path: runDetails.builder.id, operator: matches, value: "https://github.com/.*"}}
"""
    )
    code, out, err = run(
        capsys,
        "admit",
        "--policy",
        str(policy),
        f"{host}/team/signed:1",
        f"{host}/team/legacy:1",
        f"{host}/team/unsigned:1",
        "--format",
        "json",
    )
    assert code == 1, err
    decisions = {d["image"].split("/team/")[1]: d for d in json.loads(out)["images"]}
    signed = decisions["signed:1"]
    assert signed["allowed"], signed
    assert [(r["rule"], r["passed"]) for r in signed["rules"]] == [
        ("signature:team", True),
        ("attestation:team/built-by-actions", True),
        ("provenance", True),
    ]
    legacy = {r["rule"]: r for r in decisions["legacy:1"]["rules"]}
    assert legacy["signature:team"]["passed"]  # the legacy .sig layout verifies too
    assert not legacy["attestation:team/built-by-actions"]["passed"]
    assert not decisions["legacy:1"]["allowed"]
    unsigned = {r["rule"]: r for r in decisions["unsigned:1"]["rules"]}
    assert not unsigned["signature:team"]["passed"]
    assert "no signatures found" in unsigned["signature:team"]["message"]
    # a condition the predicate does not meet denies, and says which and why
    policy.write_text(policy.read_text().replace('"https://github.com/.*"', '"https://gitlab.com/.*"'))
    code, out, _ = run(capsys, "admit", "--policy", str(policy), f"{host}/team/signed:1", "--format", "json")
    (decision,) = json.loads(out)["images"]
    failed = {r["rule"]: r["message"] for r in decision["rules"] if not r["passed"]}
    assert code == 1
    assert "runDetails.builder.id matches 'https://gitlab.com/.*'" in failed["attestation:team/built-by-actions"]


def test_admit_wrong_key_is_denied(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"images:\n  - glob: '**'\n    authorities:\n      - key: {{path: {world.other_key}}}\n")
    code, out, _ = run(
        capsys, "admit", "--policy", str(policy), f"{world.registry.address}/team/signed:1", "--format", "json"
    )
    (decision,) = json.loads(out)["images"]
    assert code == 1 and not decision["allowed"]


def test_mirror_verify_key_refuses_unsigned_and_keeps_signatures_verifiable(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    src, dst = world.registry.address, world.dst.address
    code, _, err = run(
        capsys, "mirror", f"{src}/team/unsigned:1", f"{dst}/m/unsigned", "--verify-key", str(world.public_key)
    )
    assert code == 1 and "refusing to mirror an image that does not verify" in err
    code, _, err = run(
        capsys, "mirror", f"{src}/team/signed:1", f"{dst}/m/signed", "--verify-key", str(world.other_key)
    )
    assert code == 1 and "refusing to mirror" in err
    for name in ("signed", "legacy"):
        code, out, err = run(
            capsys, "mirror", f"{src}/team/{name}:1", f"{dst}/m/{name}", "--verify-key", str(world.public_key)
        )
        assert code == 0, err
        assert "verified by" in out
        # the copy's signatures verify in the destination
        code, out, err = run(capsys, "verify", f"{dst}/m/{name}:1", "--key", str(world.public_key))
        assert code == 0, err + out
    code, out, err = run(
        capsys,
        "verify-attestation",
        f"{dst}/m/signed:1",
        "--key",
        str(world.public_key),
        "--type",
        "slsaprovenance1",
    )
    assert code == 0, err + out
