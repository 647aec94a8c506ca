"""npm and PyPI publish provenance, fetched over HTTP from a local server serving real published documents.

- npm: sigstore@1.3.0's publish attestation (signed with npm's registry key)
  and its keyless SLSA provenance (GitHub Actions, 2023), as sigstore-go keeps
  them in ``examples/``, served at ``/-/npm/v1/attestations/sigstore@1.3.0``
  beside a version manifest carrying the tarball's real ``dist.integrity``.
- PyPI: pypi-attestations' ``gcb_attestation_test-0.0.0.tar.gz.provenance``
  (a PEP 740 provenance object of a Google Trusted Publisher) served at the
  integrity API path, listed by a PEP 691 project page.

Nothing here reaches the internet; every 404 must read "none published".
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainwarden.cli import main
from chainwarden.errors import NetworkError
from chainwarden.signing.provenance import (
    NPM_PUBLISH_PREDICATE,
    ProvenanceChecker,
    ProvenanceStatus,
)
from chainwarden.signing.trustroot import default_trusted_root
from integration.flaky_http import Server

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "unit/signing/fixtures"
SIGSTORE_SHA512 = bytes.fromhex(
    "76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6"
    "b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751"
)
GCB_FILE = "gcb_attestation_test-0.0.0.tar.gz"
GCB_SHA256 = "461317362419124b6012e855423a9078d6de8aed3e74fa78cc74d669b23dc6cf"


def npm_document() -> dict[str, Any]:
    return {
        "attestations": [
            {
                "predicateType": NPM_PUBLISH_PREDICATE,
                "bundle": json.loads((FIXTURES / "npm-provenance/bundle-publish.json").read_text()),
            },
            {
                "predicateType": "https://slsa.dev/provenance/v0.2",
                "bundle": json.loads((FIXTURES / "npm-provenance/bundle-provenance.json").read_text()),
            },
        ]
    }


def packument(name: str, versions: dict[str, bytes]) -> dict[str, Any]:
    """An npm packument whose versions have the given tarball sha512 digests."""
    return {
        "name": name,
        "versions": {
            version: {
                "name": name,
                "version": version,
                "dist": {"integrity": "sha512-" + base64.b64encode(sha512).decode(), "tarball": "http://invalid/"},
            }
            for version, sha512 in versions.items()
        },
    }


def project_page(name: str, filename: str, sha256: str, provenance: str | None) -> dict[str, Any]:
    return {
        "meta": {"api-version": "1.1"},
        "name": name,
        "files": [
            {
                "filename": filename,
                "url": f"../../files/{filename}",
                "hashes": {"sha256": sha256},
                "provenance": provenance,
            }
        ],
    }


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    # sigstore@1.3.1 is a hijacked release: sigstore@1.3.0's attestations replayed for another tarball
    running.json("/sigstore", packument("sigstore", {"1.3.0": SIGSTORE_SHA512, "1.3.1": b"\2" * 64}))
    running.json("/-/npm/v1/attestations/sigstore@1.3.0", npm_document())
    running.json("/-/npm/v1/attestations/sigstore@1.3.1", npm_document())
    running.json("/left-pad", packument("left-pad", {"1.3.0": b"\1" * 64}))
    integrity_path = f"/integrity/gcb-attestation-test/0.0.0/{GCB_FILE}/provenance"
    running.json(
        "/simple/gcb-attestation-test/",
        project_page("gcb-attestation-test", GCB_FILE, GCB_SHA256, integrity_path),
        "application/vnd.pypi.simple.v1+json",
    )
    running.routes[integrity_path] = (
        200,
        (FIXTURES / "pypi-attestations" / f"{GCB_FILE}.provenance").read_bytes(),
        "application/vnd.pypi.integrity.v1+json",
    )
    running.json(
        "/simple/tidy-lib/",
        project_page("tidy-lib", "tidy_lib-1.0.tar.gz", "ab" * 32, None),
        "application/vnd.pypi.simple.v1+json",
    )
    yield running
    running.close()


@pytest.fixture
def checker(server: Server) -> Iterator[ProvenanceChecker]:
    with ProvenanceChecker(default_trusted_root(), npm_url=server.url, pypi_url=server.url + "/simple") as running:
        yield running


def test_npm_provenance_verified(checker: ProvenanceChecker, server: Server) -> None:
    result = checker.check_npm("sigstore", "1.3.0")
    assert result.status is ProvenanceStatus.VERIFIED, result
    assert result.repository == "sigstore/sigstore-js"
    assert result.workflow is not None
    assert result.workflow.startswith("release.yml")
    assert result.commit == "dae8bd8eb433a4147b4655c00fe73e0f22bc0fb1"
    assert result.issuer == "https://token.actions.githubusercontent.com"
    assert "/-/npm/v1/attestations/sigstore@1.3.0" in server.requests


def test_transient_failures_are_retried(checker: ProvenanceChecker, server: Server) -> None:
    path = "/-/npm/v1/attestations/sigstore@1.3.0"
    server.failures[path] = [503, 0]
    assert checker.check_npm("sigstore", "1.3.0").status is ProvenanceStatus.VERIFIED
    assert server.requests.count(path) == 3
    server.failures["/sigstore"] = [502, 502, 502]
    with pytest.raises(NetworkError, match=r"/sigstore: HTTP 502$"):
        checker.check_npm("sigstore", "1.3.0")


def test_npm_404_is_none_published(checker: ProvenanceChecker) -> None:
    result = checker.check_npm("left-pad", "1.3.0")
    assert result.status is ProvenanceStatus.NONE
    assert result.describe() == "none published"


def test_npm_replayed_attestations_are_invalid(checker: ProvenanceChecker) -> None:
    result = checker.check_npm("sigstore", "1.3.1")
    assert result.status is ProvenanceStatus.INVALID
    assert "no subject is pkg:npm/sigstore@1.3.1" in (result.reason or "")


@pytest.mark.parametrize(
    ("index", "edit", "reason"),
    [
        (
            0,
            lambda b: b["dsseEnvelope"].__setitem__(
                "signatures", [{"sig": base64.b64encode(b"0" * 70).decode(), "keyid": ""}]
            ),
            "signature",
        ),
        (
            1,
            lambda b: b["dsseEnvelope"]["signatures"][0].__setitem__(
                "sig", base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()
            ),
            "signature",
        ),
        (
            0,
            lambda b: b["verificationMaterial"]["publicKey"].__setitem__("hint", "SHA256:someone-else"),
            "unknown npm registry key",
        ),
        (
            1,
            lambda b: b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"].__setitem__(
                "signedEntryTimestamp",
                b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"][:-8]
                + "AAAAAAA=",
            ),
            "signed entry timestamp",
        ),
    ],
)
def test_npm_tampered_attestations_are_invalid(
    server: Server, checker: ProvenanceChecker, index: int, edit: Any, reason: str
) -> None:
    document = copy.deepcopy(npm_document())
    edit(document["attestations"][index]["bundle"])
    server.json("/-/npm/v1/attestations/sigstore@1.3.0", document)
    result = checker.check_npm("sigstore", "1.3.0")
    assert result.status is ProvenanceStatus.INVALID
    assert reason in (result.reason or ""), result.reason


def test_npm_publish_attestation_alone_is_no_provenance(server: Server, checker: ProvenanceChecker) -> None:
    document = npm_document()
    document["attestations"] = document["attestations"][:1]
    server.json("/-/npm/v1/attestations/sigstore@1.3.0", document)
    result = checker.check_npm("sigstore", "1.3.0")
    assert result.status is ProvenanceStatus.NONE
    assert "publish attestation only" in (result.reason or "")


def test_pypi_provenance_verified(checker: ProvenanceChecker, server: Server) -> None:
    result = checker.check_pypi("gcb-attestation-test", "0.0.0")
    assert result.status is ProvenanceStatus.VERIFIED, result
    assert result.issuer == "https://accounts.google.com"
    assert result.repository == "919436158236-compute@developer.gserviceaccount.com"
    assert f"/integrity/gcb-attestation-test/0.0.0/{GCB_FILE}/provenance" in server.requests


def test_pypi_none_published(checker: ProvenanceChecker) -> None:
    assert checker.check_pypi("tidy-lib", "1.0").status is ProvenanceStatus.NONE
    assert checker.check_pypi("no-such-project", "1.0").status is ProvenanceStatus.NONE


def test_pypi_file_digest_must_match(server: Server, checker: ProvenanceChecker) -> None:
    integrity_path = f"/integrity/gcb-attestation-test/0.0.0/{GCB_FILE}/provenance"
    server.json(
        "/simple/gcb-attestation-test/",
        project_page("gcb-attestation-test", GCB_FILE, "cd" * 32, integrity_path),
        "application/vnd.pypi.simple.v1+json",
    )
    result = checker.check_pypi("gcb-attestation-test", "0.0.0")
    assert result.status is ProvenanceStatus.INVALID
    assert "no in-toto subject has the digest" in (result.reason or "")


def test_pypi_wrong_publisher_is_invalid(server: Server, checker: ProvenanceChecker) -> None:
    document = json.loads((FIXTURES / "pypi-attestations" / f"{GCB_FILE}.provenance").read_text())
    document["attestation_bundles"][0]["publisher"]["email"] = "attacker@example.com"
    server.routes[f"/integrity/gcb-attestation-test/0.0.0/{GCB_FILE}/provenance"] = (
        200,
        json.dumps(document).encode(),
        "application/json",
    )
    result = checker.check_pypi("gcb-attestation-test", "0.0.0")
    assert result.status is ProvenanceStatus.INVALID
    assert "does not match attacker@example.com" in (result.reason or "")


def test_vet_provenance_on_a_lockfile(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "app"
    project.mkdir()
    lock = {
        "name": "app",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {"name": "app", "version": "1.0.0", "dependencies": {"sigstore": "1.3.1", "left-pad": "1.3.0"}},
            "node_modules/sigstore": {
                "version": "1.3.1",
                "integrity": "sha512-" + base64.b64encode(b"\2" * 64).decode(),
            },
            "node_modules/left-pad": {
                "version": "1.3.0",
                "integrity": "sha512-" + base64.b64encode(b"\1" * 64).decode(),
            },
        },
    }
    (project / "package.json").write_text(
        json.dumps({"name": "app", "version": "1.0.0", "dependencies": {"sigstore": "1.3.1", "left-pad": "1.3.0"}})
    )
    (project / "package-lock.json").write_text(json.dumps(lock))
    (project / "requirements.txt").write_text(f"gcb-attestation-test==0.0.0 --hash=sha256:{GCB_SHA256}\n")
    code = main(
        [
            "vet",
            str(project),
            "--provenance",
            "--no-claim-check",
            "--npm-url",
            server.url,
            "--pypi-url",
            server.url + "/simple",
            "-f",
            "json",
            "--fail-on",
            "critical",
        ]
    )
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    document = json.loads(captured.out)
    rows = {(row["ecosystem"], row["name"], row["version"]): row["status"] for row in document["provenance"]}
    assert rows == {
        ("npm", "left-pad", "1.3.0"): "none",
        ("npm", "sigstore", "1.3.1"): "invalid",
        ("pypi", "gcb-attestation-test", "0.0.0"): "verified",
    }
    assert code == 1
    invalid = [f for f in document["findings"] if f["rule_id"] == "provenance-invalid"]
    assert len(invalid) == 1
    assert invalid[0]["severity"] == "critical"


def test_diff_reports_lost_provenance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sigstore 1.3.0 (real tarball, real attestations) → 1.3.1 published without any: high."""
    from integration.fake_registry import build_npm_tarball, serve

    with serve() as registry:
        real = (FIXTURES / "npm-provenance/sigstore-1.3.0.tgz").read_bytes()
        registry.add_npm("sigstore", "1.3.0", real)
        registry.add_npm(
            "sigstore", "1.3.1", build_npm_tarball("sigstore", "1.3.1", {"index.js": "module.exports = 2;\n"}, {})
        )
        registry.blobs["/npm/-/npm/v1/attestations/sigstore@1.3.0"] = json.dumps(npm_document()).encode()
        code = main(
            [
                "diff",
                "npm:sigstore@1.3.0..1.3.1",
                "--provenance",
                "--npm-url",
                registry.npm_url,
                "-f",
                "json",
                "--fail-on",
                "high",
            ]
        )
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    document = json.loads(captured.out)
    assert document["provenance"]["1.3.0"]["status"] == "verified"
    assert document["provenance"]["1.3.1"]["status"] == "none"
    lost = [f for f in document["findings"] if f["rule_id"] == "provenance-lost"]
    assert len(lost) == 1
    assert lost[0]["severity"] == "high"
    assert "sigstore/sigstore-js" in lost[0]["title"]
    assert code == 1
