"""``chainwarden mirror`` of a ~500 MB multi-layer image vs ``skopeo copy``, same run, same registries.

    .venv/bin/python bench/mirror_vs_skopeo.py [--layers 5] [--layer-mb 100]

Starts three Debian ``docker-registry`` instances on 127.0.0.1 (source, and one
destination per tool), pushes an image of ``--layers`` incompressible layers (uncompressed
OCI tar layers, so the figure measures transfer and verification, not gzip), then times:

- ``chainwarden mirror SRC DST`` (every blob hashed while streaming, committed only when
  it verifies);
- ``skopeo copy docker://SRC docker://DST`` (the peer);
- a second ``chainwarden mirror`` to the same destination (goal: moves no blob).

Goal from issue 12: chainwarden ≤ 1.0× skopeo.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO / "src", REPO / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from integration.policy_registry import OCI_CONFIG, OCI_MANIFEST, put_blob, sha256  # noqa: E402
from integration.registry_server import PushClient, start_registry  # noqa: E402

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def push_big_image(pusher: PushClient, layers: int, layer_mb: int) -> tuple[str, int]:
    descriptors = []
    total = 0
    for _ in range(layers):
        data = os.urandom(layer_mb * 1024 * 1024)
        descriptors.append({"mediaType": LAYER_TAR, "digest": put_blob(pusher, "big/app", data), "size": len(data)})
        total += len(data)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": put_blob(pusher, "big/app", config), "size": len(config)},
            "layers": descriptors,
        }
    ).encode()
    pusher.put_manifest("big/app", "1", manifest, OCI_MANIFEST)
    return sha256(manifest), total


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {result.stderr[-2000:]}")
    return elapsed, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--layer-mb", type=int, default=100)
    args = parser.parse_args()
    chainwarden = str(Path(sys.executable).with_name("chainwarden"))
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as work:
        registries = [start_registry(Path(work) / name) for name in ("src", "dst-chainwarden", "dst-skopeo")]
        src, dst_cw, dst_skopeo = registries
        pusher = PushClient(src.address)
        pusher._client.timeout = 300  # big uploads in the fixture
        try:
            digest, total = push_big_image(pusher, args.layers, args.layer_mb)
            source = f"{src.address}/big/app:1"
            rows = []
            elapsed, out = timed([chainwarden, "mirror", source, f"{dst_cw.address}/big/app", "--format", "json"])
            first = json.loads(out)["images"][0]
            rows.append(("chainwarden mirror", elapsed, first["blobs_copied"], first["bytes_copied"]))
            elapsed, _ = timed(
                [
                    "skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                    "--dest-tls-verify=false", f"docker://{source}", f"docker://{dst_skopeo.address}/big/app:1",
                ]
            )  # fmt: skip
            rows.append(("skopeo copy", elapsed, args.layers + 1, total))
            elapsed, out = timed([chainwarden, "mirror", source, f"{dst_cw.address}/big/app", "--format", "json"])
            second = json.loads(out)["images"][0]
            rows.append(("chainwarden mirror (again)", elapsed, second["blobs_copied"], second["bytes_copied"]))
            assert first["digest"] == digest
        finally:
            pusher.close()
            for registry in registries:
                registry.stop()
    print(f"\nmirror: one image, {args.layers} layers, {total / 1e6:.0f} MB, between local docker-registry instances\n")
    print(f"{'tool':28} {'seconds':>8} {'blobs moved':>12} {'MB moved':>9} {'MB/s':>7}")
    for label, elapsed, blobs, moved in rows:
        print(f"{label:28} {elapsed:8.2f} {blobs:12d} {moved / 1e6:9.0f} {moved / 1e6 / elapsed:7.0f}")
    ratio = rows[0][1] / rows[1][1]
    print(f"\nchainwarden / skopeo: {ratio:.2f}× (goal ≤ 1.0×); second mirror moved {rows[2][2]} blobs (goal 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
