"""Sign and verify 100 images in a local registry; median and p99 per operation.

    .venv/bin/python bench/sign_verify.py [--images 100]

Starts Debian's ``docker-registry`` on 127.0.0.1 (a throwaway store), pushes
``--images`` small distinct images with chainwarden's own registry client, and
times, per image, on one warm connection:

- ``sign`` (bundle referrer layout: resolve, DSSE-sign, push config + bundle +
  referrer manifest, update the ``sha256-<hex>`` referrers tag index) and
  ``sign --legacy-tag`` (``.sig`` image);
- ``verify --key`` finding and checking both signatures against the digest;
- keyless: the sigstore-conformance ``happy-path-v0.3`` bundle (a real Fulcio
  certificate + Rekor entry) verified offline against the public-good root —
  chain, SCT, SET/inclusion proof, identity (no registry involved);
- the peer: @sigstore/verify (sigstore-js, ``make interop-tools``) verifying the
  same bundles chainwarden pushed, in one node process, against the same key
  (cosign itself cannot be installed here: no Go toolchain new enough, no
  binary in the package registries reachable).

Goal from issue 11: verify < 50 ms median on a warm registry connection.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import io
import json
import shutil
import socket
import statistics
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from chainwarden.signing import bundle as sigbundle
from chainwarden.signing import cosign, keys
from chainwarden.signing.trustroot import default_trusted_root
from chainwarden.sources.registry import RegistryClient, parse_reference

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / "tests/unit/signing/fixtures/conformance"
INTEROP = ROOT / "tests/interop"
GOAL_MS = 50.0
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"

NODE_BATCH = r"""
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { Verifier, toTrustMaterial, toSignedEntity } = require('@sigstore/verify');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const [dir, keyPath, rootPath] = process.argv.slice(2);
const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
const key = crypto.createPublicKey(fs.readFileSync(keyPath));
const verifier = new Verifier(toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true })),
  { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
const times = [];
for (const name of fs.readdirSync(dir).sort()) {
  const start = process.hrtime.bigint();
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(`${dir}/${name}`, 'utf8')));
  verifier.verify(toSignedEntity(bundle));
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
console.log(JSON.stringify(times));
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()
    if shutil.which("docker-registry") is None:
        print("needs Debian's docker-registry (apt-get install docker-registry)")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-sign-") as tmp:
        work = Path(tmp)
        process, address = _start_registry(work)
        try:
            return _run(address, args.images, work)
        finally:
            process.terminate()
            process.wait(timeout=10)


def _run(address: str, count: int, work: Path) -> int:
    key = ec.generate_private_key(ec.SECP256R1())
    root = default_trusted_root()
    policy = cosign.VerifyPolicy(root, key=key.public_key())
    times: dict[str, list[float]] = {"sign (bundle)": [], "sign (legacy)": [], "verify --key (both)": []}
    bundles = work / "bundles"
    bundles.mkdir()
    with RegistryClient(parse_reference(f"{address}/bench:seed"), "bench") as client:
        references = [_push_image(client, address, i) for i in range(count)]
    for i, reference in enumerate(references):
        with RegistryClient(parse_reference(reference), reference) as client:
            times["sign (bundle)"].append(_timed(functools.partial(cosign.sign_image, client, key)))
            times["sign (legacy)"].append(_timed(functools.partial(cosign.sign_image, client, key, legacy=True)))
            client.get_manifest(client.ref.manifest_reference)  # the connection is warm
            start = time.perf_counter()
            outcome = cosign.verify_image(client, policy)
            times["verify --key (both)"].append((time.perf_counter() - start) * 1000)
            if len(outcome.verified) != 2:
                print(f"{reference}: expected 2 verified signatures, got {outcome}")
                return 1
            ((_, data),) = list(cosign.bundle_referrers(client, outcome.digest, cosign.COSIGN_SIGN_PREDICATE))
            (bundles / f"{i:04d}.json").write_bytes(data)
    keyless_bundle = (CONFORMANCE / "happy-path-v0.3/bundle.sigstore.json").read_bytes()
    artifact = sigbundle.Artifact.from_bytes((CONFORMANCE / "a.txt").read_bytes())
    times["verify keyless (fixture, offline)"] = [
        _timed(
            lambda: sigbundle.verify_keyless(
                sigbundle.parse_bundle(keyless_bundle, "fixture"), artifact, root, identity=IDENTITY, issuer=ISSUER
            )
        )
        for _ in range(count)
    ]
    # the same work without the registry: the bundle already in hand
    data = (bundles / "0000.json").read_bytes()
    digest_artifact = None
    times["verify bundle in hand (chainwarden)"] = [
        _timed(
            lambda: sigbundle.verify_with_key(
                sigbundle.parse_bundle(data, "b"), digest_artifact, key.public_key(), root
            )
        )
        for _ in range(count)
    ]
    peer = _peer(work, bundles, key)
    print(f"{count} images, docker-registry on {address}, one warm connection per image\n")
    print(f"{'operation':<40} {'median ms':>10} {'p99 ms':>10}")
    for name, values in times.items():
        print(f"{name:<40} {statistics.median(values):>10.2f} {_p99(values):>10.2f}")
    if peer is None:
        print(f"{'@sigstore/verify bundle in hand (peer)':<40} {'skipped: run make interop-tools':>21}")
    else:
        print(f"{'@sigstore/verify bundle in hand (peer)':<40} {statistics.median(peer):>10.2f} {_p99(peer):>10.2f}")
    median = statistics.median(times["verify --key (both)"])
    verdict = "met" if median < GOAL_MS else "NOT met"
    print(f"\ngoal: verify < {GOAL_MS:.0f} ms median on a warm connection — {verdict} ({median:.1f} ms)")
    return 0


def _push_image(client: RegistryClient, address: str, index: int) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        body = f"image {index}\n".encode()
        info = tarfile.TarInfo("etc/bench-id")
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))
    tar = buffer.getvalue()
    layer = gzip.compress(tar, mtime=0)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}}
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": client.push_blob(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": client.push_blob(layer),
                "size": len(layer),
            }
        ],
    }
    client.put_manifest(f"img{index}", json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    return f"{address}/bench:img{index}"


def _peer(work: Path, bundles: Path, key: ec.EllipticCurvePrivateKey) -> list[float] | None:
    node = shutil.which("node")
    if node is None or not (INTEROP / "node_modules/@sigstore/verify").is_dir():
        return None
    (work / "key.pub").write_bytes(keys.public_key_pem(key.public_key()))
    script = INTEROP / ".bench-batch.js"
    script.write_text(NODE_BATCH)
    try:
        result = subprocess.run(
            [node, str(script), str(bundles), str(work / "key.pub"), str(default_trusted_root_path())],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            cwd=INTEROP,
        )
    finally:
        script.unlink(missing_ok=True)
    values: list[float] = json.loads(result.stdout)
    return values


def default_trusted_root_path() -> Path:
    return ROOT / "src/chainwarden/data/sigstore/trusted_root.json"


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _start_registry(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{address}/v2/", timeout=1).status_code == 200:
                return process, address
        except httpx.TransportError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("docker-registry did not start")


if __name__ == "__main__":
    raise SystemExit(main())
