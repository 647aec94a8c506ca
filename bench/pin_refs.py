"""``chainwarden pin`` on a repository with 200 image references; time and registry requests.

    .venv/bin/python bench/pin_refs.py [--references 200] [--distinct 50]

Starts Debian's ``docker-registry`` on 127.0.0.1 behind a counting proxy
(tests/integration/registry_server.py), pushes ``--distinct`` small images, and writes a
repository whose Dockerfiles, compose files, Kubernetes manifests and Helm values name
them ``--references`` times in all. Then, in the same run:

- ``chainwarden pin --check`` and ``chainwarden pin`` (rewrite): wall time and the
  manifest requests the registry saw (goal: one per distinct reference);
- the peer: what a pinning script does without a tool — ``skopeo inspect --raw`` once per
  reference, hashing the manifest (crane/regctl/renovate are not installable here).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO / "src", REPO / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from chainwarden.cli import main as chainwarden  # noqa: E402
from integration.policy_registry import push_image  # noqa: E402
from integration.registry_server import AuthProxy, PushClient, start_registry  # noqa: E402


def write_repository(root: Path, refs: list[str], count: int) -> None:
    rng = random.Random(5)
    chosen = [refs[i % len(refs)] for i in range(count)]
    rng.shuffle(chosen)
    per_file = 10
    for index in range(0, count, per_file):
        batch = chosen[index : index + per_file]
        kind = (index // per_file) % 4
        if kind == 0:
            text = "".join(f"FROM {ref} AS s{n}\nRUN true\n" for n, ref in enumerate(batch))
            (root / f"svc{index}").mkdir()
            (root / f"svc{index}/Dockerfile").write_text(text)
        elif kind == 1:
            text = "services:\n" + "".join(f"  s{n}:\n    image: {ref}  # service {n}\n" for n, ref in enumerate(batch))
            (root / f"compose-{index}.yaml").write_text(text)
        elif kind == 2:
            containers = "".join(f'        - name: c{n}\n          image: "{ref}"\n' for n, ref in enumerate(batch))
            text = (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n"
                f"      containers:\n{containers}"
            )
            (root / f"k8s-{index}.yaml").write_text(text)
        else:
            chart = root / f"chart{index}"
            chart.mkdir()
            (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
            blocks = []
            for n, ref in enumerate(batch):
                repository, _, tag = ref.rpartition(":")
                blocks.append(f'c{n}:\n  image:\n    repository: {repository}\n    tag: "{tag}"\n')
            (chart / "values.yaml").write_text("".join(blocks))


def manifest_gets(proxy: AuthProxy) -> int:
    return sum(1 for method, path, _ in proxy.requests if method == "GET" and "/manifests/" in path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--references", type=int, default=200)
    parser.add_argument("--distinct", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pin-") as work:
        registry = start_registry(Path(work) / "registry")
        pusher = PushClient(registry.address)
        try:
            with AuthProxy(registry.address) as proxy:
                refs = []
                for n in range(args.distinct):
                    push_image(pusher, f"lib/img{n % 10}", f"v{n}", {"/etc/n": f"{n}\n"})
                    refs.append(f"{proxy.address}/lib/img{n % 10}:v{n}")
                rows: list[tuple[str, float, int, int, int]] = []
                for label, extra in (("chainwarden pin --check", ["--check"]), ("chainwarden pin", [])):
                    repo = Path(work) / f"repo-{len(rows)}"
                    repo.mkdir()
                    write_repository(repo, refs, args.references)
                    proxy.requests.clear()
                    started = time.perf_counter()
                    code = chainwarden(
                        ["pin", str(repo), "--format", "json", "-o", str(Path(work) / "out.json"), *extra]
                    )
                    elapsed = time.perf_counter() - started
                    rows.append((label, elapsed, manifest_gets(proxy), len(proxy.requests), code))
                proxy.requests.clear()
                started = time.perf_counter()
                for n in range(args.references):
                    ref = refs[n % len(refs)]
                    raw = subprocess.run(
                        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                        capture_output=True,
                        check=True,
                    ).stdout
                    hashlib.sha256(raw).hexdigest()
                rows.append(
                    (
                        "skopeo inspect --raw per reference",
                        time.perf_counter() - started,
                        manifest_gets(proxy),
                        len(proxy.requests),
                        0,
                    )
                )
        finally:
            pusher.close()
            registry.stop()
    print(f"\npin: {args.references} references, {args.distinct} distinct, local docker-registry\n")
    print(f"{'tool':40} {'seconds':>8} {'manifest GETs':>14} {'requests':>9} {'exit':>5}")
    for label, elapsed, gets, total, code in rows:
        print(f"{label:40} {elapsed:8.2f} {gets:14d} {total:9d} {code:5d}")
    print(f"\ngoal: one manifest request per distinct reference ({args.distinct})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
