"""``chainwarden admit serve`` under load: requests/s, p50 and p99, and the CPU each side spends.

    .venv/bin/python bench/webhook_load.py [--clients 50] [--requests 10000] [--rate 500]

Starts Debian's ``docker-registry`` on 127.0.0.1 with one image and runs the webhook as the
CLI runs it (uvicorn over TLS, a self-signed P-256 certificate):

- cached decisions (``cacheTTL: 300``), with one server process and with ``--workers 2``;
- uncached ones (``cacheTTL: 0``: every request resolves the tag against the registry);
- the floor: a constant-answer ASGI application under the same uvicorn stack and TLS, which
  is what HTTP/1.1 + TLS + the kernel's loopback cost before any webhook logic.

The body is a real AdmissionReview (kubewarden's Deployment document,
tests/fixtures/admission-review) naming the image by tag; one row repeats it with a
kubectl-sized one (~9 KB: last-applied annotation, managedFields, oldObject of an UPDATE).

The load generator is bench/webhook_loadgen.go, built here with Debian's golang-go
(standard library only; one keep-alive HTTPS connection per client, GOMAXPROCS=1, which
costs it the least CPU). Closed loop: ``--clients`` clients each wait for their answer
before the next request, so latency is queueing (p50 ≈ clients ÷ throughput). Open loop:
``--rate`` requests per second spread over the same connections whatever the answers do
(what a Kubernetes API server sends), latency counted from each request's scheduled time.
Every answer must be HTTP 200 and allowed. Server CPU is read from /proc (the server and
its worker processes); the load generator reports its own. Both share the machine's cores.

Goal from issue 12: cached p99 < 20 ms at 50 concurrent clients. The peers (sigstore
policy-controller, Kyverno) run only inside a Kubernetes cluster, which this machine does
not have: the floor row stands in as the reference.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO / "src", REPO / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from integration.policy_registry import push_image  # noqa: E402
from integration.registry_server import PushClient, free_port, start_registry  # noqa: E402
from integration.test_policy_webhook import Server, make_certificate, review, start_server, stop  # noqa: E402

GOAL_P99_MS = 20.0
FLOOR_APP = """
import sys
import uvicorn

ANSWER = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"x","allowed":true}}'


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_certfile=sys.argv[2], ssl_keyfile=sys.argv[3],
            loop="uvloop", http="httptools", log_level="warning", access_log=False, lifespan="off")
"""


@dataclass
class Row:
    server: str
    load: str
    result: dict[str, Any]
    server_cpu: float


def build_loadgen(work: Path) -> Path:
    go = shutil.which("go")
    if go is None:
        raise SystemExit("bench/webhook_load.py: needs Debian's golang-go (apt-get install golang-go)")
    binary = work / "webhook_loadgen"
    env = {**os.environ, "GOPROXY": "off", "CGO_ENABLED": "0"}  # standard library only: nothing to download
    subprocess.run([go, "build", "-o", str(binary), str(REPO / "bench" / "webhook_loadgen.go")], check=True, env=env)
    return binary


def process_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (uvicorn's worker processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for process in [str(pid), *children]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run_load(
    loadgen: Path, url: str, cert: Path, body: Path, args: list[str], pid: int
) -> tuple[dict[str, Any], float]:
    before = process_cpu(pid)
    done = subprocess.run(
        [str(loadgen), "-url", url, "-cacert", str(cert), "-body", str(body), *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "GOMAXPROCS": "1"},
        timeout=600,
    )
    spent = process_cpu(pid) - before
    if done.returncode != 0:
        raise SystemExit(f"load generator failed: {done.stdout.strip()} {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout), spent


def kubectl_sized(document: dict[str, Any]) -> dict[str, Any]:
    """The review as ``kubectl apply`` of an existing Deployment sends it: the object carries the
    last-applied annotation and managedFields, and the UPDATE carries the old object too."""
    document = copy.deepcopy(document)
    request = document["request"]
    obj = request["object"]
    metadata = obj.setdefault("metadata", {})
    metadata.update(
        {"namespace": "default", "uid": "4f7b2c1e-0d7e-4c1a-9a43-6a0e1f5b9c11", "resourceVersion": "184467",
         "generation": 7, "creationTimestamp": "2025-01-20T09:14:03Z",
         "labels": {"app.kubernetes.io/name": "nginx", "app.kubernetes.io/part-of": "shop"}}
    )  # fmt: skip
    metadata["annotations"] = {
        "deployment.kubernetes.io/revision": "7",
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(obj, separators=(",", ":")),
    }
    fields: dict[str, Any] = {
        f"f:{name}": {} for name in ("replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "selector")
    }
    template: dict[str, Any] = {
        f"f:{name}": {".": {}, "f:name": {}, "f:image": {}, "f:resources": {}} for name in range(12)
    }
    applied: dict[str, Any] = {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}
    spec = {**fields, "f:template": {"f:spec": {"f:containers": template}}}
    metadata["managedFields"] = [
        {"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": "2025-01-20T09:14:03Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": applied}, "f:spec": spec}}
        for manager in ("kubectl-client-side-apply", "kube-controller-manager", "argocd-controller")
    ]  # fmt: skip
    stamp = "2025-01-20T09:14:03Z"
    available = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.",
                 "lastUpdateTime": stamp, "lastTransitionTime": stamp}  # fmt: skip
    obj["status"] = {"observedGeneration": 7, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                     "availableReplicas": 3, "conditions": [available]}  # fmt: skip
    request["operation"] = "UPDATE"
    request["oldObject"] = copy.deepcopy(obj)
    request["options"] = {
        "kind": "UpdateOptions",
        "apiVersion": "meta.k8s.io/v1",
        "fieldManager": "kubectl-client-side-apply",
    }
    return document


def start_floor(work: Path, cert: Path, key: Path) -> Server:
    app = work / "floor_app.py"
    app.write_text(FLOOR_APP)
    port = free_port()
    process = subprocess.Popen([sys.executable, str(app), str(port), str(cert), str(key)])
    server = Server(f"https://127.0.0.1:{port}", process, cert)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with server.client() as client:
                client.post("/", content=b"{}")
                return server
        except httpx.TransportError:  # not listening yet
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the floor application did not start")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10000, help="per closed-loop run at --clients")
    parser.add_argument("--rate", type=float, default=500.0, help="open loop: requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="open loop: how long")
    args = parser.parse_args()
    closed = ["-conns", str(args.clients), "-requests", str(args.requests)]
    single = ["-conns", "1", "-requests", str(max(500, args.requests // 5))]
    opened = ["-conns", str(args.clients), "-requests", str(int(args.rate * args.seconds)), "-rate", str(args.rate)]
    load_before = os.getloadavg()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as work_dir:
        work = Path(work_dir)
        loadgen = build_loadgen(work)
        registry = start_registry(work / "registry")
        pusher = PushClient(registry.address)
        servers: list[Server] = []
        try:
            push_image(pusher, "team/app", "1", {"/etc/app": "1\n"})
            cert, key = make_certificate(work)
            document = review("deployment_creation_unsigned.json", [f"{registry.address}/team/app:1"])
            body = work / "review.json"
            body.write_bytes(json.dumps(document).encode())
            big = work / "review-kubectl.json"
            big.write_bytes(json.dumps(kubectl_sized(document)).encode())
            size = f"{body.stat().st_size / 1024:.1f} KB"
            big_size = f"{big.stat().st_size / 1024:.1f} KB"

            def measure(server: Server, label: str, plan: list[tuple[str, list[str], Path]], path: str) -> None:
                url = server.url + path
                for load, load_args, load_body in plan:
                    result, cpu = run_load(loadgen, url, cert, load_body, load_args, server.process.pid)
                    rows.append(Row(label, load, result, cpu))

            floor = start_floor(work, cert, key)
            servers.append(floor)
            measure(floor, "floor: constant answer, same uvicorn + TLS", [
                (f"{args.clients} clients, closed loop", closed, body),
                ("1 client", single, body),
                (f"open loop {args.rate:g}/s, {args.clients} conns", opened, body),
            ], "/")  # fmt: skip
            for label, ttl, extra, plan in (
                ("cached, 1 process", 300, (), [
                    (f"{args.clients} clients, closed loop", closed, body),
                    (f"{args.clients} clients, {big_size} body", closed, big),
                    ("1 client", single, body),
                    (f"open loop {args.rate:g}/s, {args.clients} conns", opened, body),
                ]),
                ("cached, --workers 2", 300, ("--workers", "2"), [
                    (f"{args.clients} clients, closed loop", closed, body),
                    (f"open loop {args.rate:g}/s, {args.clients} conns", opened, body),
                ]),
                ("uncached (registry per request)", 0, (), [
                    (f"{args.clients} clients, closed loop", ["-conns", str(args.clients), "-requests", "2000"], body),
                    ("1 client", ["-conns", "1", "-requests", "500"], body),
                ]),
            ):  # fmt: skip
                policy = work / f"policy-{ttl}.yaml"
                policy.write_text(f"cacheTTL: {ttl}\ngates:\n  allowedRegistries: ['127.0.0.1:*']\n")
                server = start_server(policy, cert, key, work / f"server-{len(servers)}.log", *extra)
                servers.append(server)
                measure(server, label, plan, "/validate")
                stop(server)
        finally:
            for server in servers:
                if server.process.poll() is None:
                    stop(server)
            pusher.close()
            registry.stop()
    load_after = os.getloadavg()
    print(f"\nadmit serve: AdmissionReview over HTTPS on 127.0.0.1 ({size} body unless said otherwise)")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores\n")
    header = f"{'server':44} {'load':34} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
    print(header + f" {'server CPU':>11} {'load-gen CPU':>12}")
    for row in rows:
        result = row.result
        count = result["count"]
        generator = result["cpu_user_s"] + result["cpu_system_s"]
        print(
            f"{row.server:44} {row.load:34} {count:8d} {result['rate_per_s']:7.0f} {result['p50_ms']:7.2f} "
            f"{result['p99_ms']:7.2f} {1000 * row.server_cpu / count:8.3f} ms {1000 * generator / count:9.3f} ms"
        )
    print("\nCPU columns: CPU time per request (server: the server process and its workers; load-gen: the Go client).")
    print(f"goal: cached p99 < {GOAL_P99_MS:.0f} ms at {args.clients} concurrent clients. In a closed loop latency is")
    print("queueing (p50 ≈ clients ÷ req/s), so it is bounded by server CPU per request on the cores left over")
    print("by the load generator and whatever else runs; the open-loop rows show latency at a fixed offered rate.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
