"""``chainwarden admit serve``: real AdmissionReview documents over HTTPS on 127.0.0.1.

The webhook runs as the CLI runs it (a subprocess: uvicorn serving the Starlette app, TLS
from a certificate made here with openssl), in front of Debian's ``docker-registry``. The
AdmissionRequests are kubewarden's test documents (tests/fixtures/admission-review).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.policy_registry import push_image
from integration.registry_server import PushClient, RunningRegistry, free_port, missing_tools, start_registry

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "admission-review"
CLI = "import sys; from chainwarden.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    cert: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.tls(), timeout=30)

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@dataclass
class World:
    registry: RunningRegistry
    app: str
    enforce: Server
    warn: Server


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=chainwarden-webhook",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def start_server(policy: Path, cert: Path, key: Path, log: Path, *extra: str) -> Server:
    port = free_port()
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "admit", "serve", "--policy", str(policy), "--tls-cert", str(cert),
             "--tls-key", str(key), "--host", "127.0.0.1", "--port", str(port), *extra],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(f"https://127.0.0.1:{port}", process, cert)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"admit serve exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with server.client() as client:
                if client.get("/healthz").status_code == 200:
                    return server
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"admit serve did not answer: {log.read_text()[-2000:]}")


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        raise


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if missing_tools():
        pytest.skip("needs docker-registry and skopeo")
    root = tmp_path_factory.mktemp("webhook")
    registry = start_registry(root / "registry")
    pusher = PushClient(registry.address)
    servers: list[Server] = []
    try:
        app = push_image(pusher, "team/app", "1", {"/etc/app": "1\n"}).digest
        cert, key = make_certificate(root)
        enforce = root / "enforce.yaml"
        enforce.write_text(
            "mode: enforce\ncacheTTL: 300\ngates:\n  digestPinned: true\n  allowedRegistries: ['127.0.0.1:*']\n"
        )
        warn = root / "warn.yaml"
        warn.write_text("mode: warn\nmutate: true\nregistryTimeout: 3\ngates:\n  digestPinned: true\n")
        servers.append(start_server(enforce, cert, key, root / "enforce.log"))
        servers.append(start_server(warn, cert, key, root / "warn.log"))
        yield World(registry, app, servers[0], servers[1])
    finally:
        for server in servers:
            if server.process.poll() is None:
                stop(server)
        pusher.close()
        registry.stop()


def review(name: str, images: list[str]) -> dict[str, Any]:
    """A fixture AdmissionRequest in its AdmissionReview envelope, images replaced in order."""
    request = json.loads((FIXTURES / name).read_text())
    replace = iter(images)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "image" and isinstance(value, str):
                    node[key] = next(replace)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(request["object"])
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


KINDS = [
    "pod_creation_with_init_container.json",
    "deployment_creation_unsigned.json",
    "replicaset_creation_unsigned.json",
    "statefulset_creation_unsigned.json",
    "daemonset_creation_unsigned.json",
    "job_creation_unsigned.json",
    "cronjob_creation_unsigned.json",
]


@pytest.mark.parametrize("name", KINDS)
def test_every_workload_kind_allowed_and_denied(world: World, name: str) -> None:
    host = world.registry.address
    pinned = f"{host}/team/app:1@{world.app}"
    with world.enforce.client() as client:
        count = 2 if "init_container" in name else 1
        answer = client.post("/validate", json=review(name, [pinned] * count))
        assert answer.status_code == 200
        response = answer.json()["response"]
        assert response == {"uid": "1299d386-525b-4032-98ae-1949f69f9cfc", "allowed": True}
        answer = client.post("/validate", json=review(name, [f"{host}/team/app:1"] + [pinned] * (count - 1)))
        response = answer.json()["response"]
        assert response["allowed"] is False
        assert response["status"]["code"] == 403
        assert (
            f"{host}/team/app:1: digest-pinned: {host}/team/app:1 is not pinned by digest"
            in (response["status"]["message"])
        )


def test_denied_for_registry_and_unresolvable(world: World) -> None:
    host = world.registry.address
    with world.enforce.client() as client:
        body = review(
            "pod_creation_with_init_container.json", [f"{host}/team/missing:1", "ghcr.io/x/y@sha256:" + "a" * 64]
        )
        response = client.post("/validate", json=body).json()["response"]
    message = response["status"]["message"]
    assert response["allowed"] is False
    assert "allowed-registries: registry ghcr.io is not one of 127.0.0.1:*" in message
    assert f"{host}/team/missing:1: " in message and "resolve: cannot resolve" in message


def test_warn_mode_admits_with_warnings_and_mutates_only_on_mutate(world: World) -> None:
    host = world.registry.address
    body = review("deployment_creation_unsigned.json", [f"{host}/team/app:1"])
    with world.warn.client() as client:
        validate = client.post("/validate", json=body).json()["response"]
        mutate = client.post("/mutate", json=body).json()["response"]
    assert validate["allowed"] is True and "patch" not in validate
    warning = f"{host}/team/app:1: digest-pinned: {host}/team/app:1 is not pinned by digest (use chainwarden pin)"
    assert validate["warnings"] == [warning if len(warning) <= 120 else warning[:119] + "…"]
    assert mutate["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(mutate["patch"])) == [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": f"{host}/team/app:1@{world.app}"}
    ]


def test_bad_requests(world: World) -> None:
    with world.enforce.client() as client:
        assert client.post("/validate", content=b"{not json").status_code == 400
        assert client.post("/validate", content=b"[" * 5000 + b"]" * 5000).status_code == 400  # too deep to parse
        wrong = review("pod_creation_with_init_container.json", ["a", "b"])
        wrong["apiVersion"] = "admission.k8s.io/v1beta1"
        answer = client.post("/validate", json=wrong)
        assert answer.status_code == 400 and "apiVersion admission.k8s.io/v1" in answer.json()["error"]
        no_uid = copy.deepcopy(review("job_creation_unsigned.json", ["x"]))
        del no_uid["request"]["uid"]
        assert client.post("/validate", json=no_uid).status_code == 400
        config_map = review("job_creation_unsigned.json", ["x"])
        config_map["request"]["kind"] = {"group": "", "version": "v1", "kind": "ConfigMap"}
        response = client.post("/validate", json=config_map).json()["response"]
        assert response["allowed"] is True and response["warnings"] == ["chainwarden: kind ConfigMap is not checked"]
        huge = b'{"apiVersion": "admission.k8s.io/v1", "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
        assert client.post("/validate", content=huge).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
            for _ in range(5):
                yield b"x" * (1024 * 1024)

        assert client.post("/validate", content=chunks()).status_code == 413
        assert client.get("/validate").status_code == 405
        assert client.get("/healthz").text == "ok\n"
        # still serving after all that
        pinned = f"{world.registry.address}/team/app:1@{world.app}"
        assert client.post("/validate", json=review("job_creation_unsigned.json", [pinned])).json()["response"][
            "allowed"
        ]


def test_load_fifty_concurrent_clients(world: World) -> None:
    host = world.registry.address
    bodies = [
        json.dumps(review("deployment_creation_unsigned.json", [f"{host}/team/app:1@{world.app}"])).encode(),
        json.dumps(review("cronjob_creation_unsigned.json", [f"{host}/team/app:1"])).encode(),
    ]
    per_client = 10
    results: list[bool] = []

    async def client_loop(index: int) -> None:
        async with httpx.AsyncClient(base_url=world.enforce.url, verify=world.enforce.tls(), timeout=30) as client:
            for n in range(per_client):
                body = bodies[(index + n) % 2]
                answer = await client.post("/validate", content=body, headers={"Content-Type": "application/json"})
                assert answer.status_code == 200
                results.append(answer.json()["response"]["allowed"])

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(client_loop(i) for i in range(50))), timeout=120)

    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started
    assert len(results) == 50 * per_client
    assert results.count(True) == results.count(False) == 250  # pinned ones allowed, tag ones denied
    assert elapsed < 120
    with world.enforce.client() as client:
        metrics = client.get("/metrics").text
    hits = next(line for line in metrics.splitlines() if line.startswith("chainwarden_admission_cache_hits_total"))
    assert float(hits.split()[-1]) >= 400  # after the first decision per image, the cache answers
    assert 'chainwarden_admission_requests_total{endpoint="validate",outcome="allowed"}' in metrics
    assert "chainwarden_admission_request_duration_seconds_bucket" in metrics


def test_sigterm_stops_the_server(world: World, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("gates:\n  digestPinned: true\n")
    server = start_server(policy, world.enforce.cert, world.enforce.cert.with_name("key.pem"), tmp_path / "log")
    assert stop(server) in (0, -signal.SIGTERM, 143)


def running(pid: str) -> bool:
    """Whether ``pid`` is still a live process (an exited one may wait as a zombie for init to reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def test_workers_share_the_port_and_add_up_their_metrics(world: World, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("gates:\n  allowedRegistries: ['127.0.0.1:*']\n")
    cert = world.enforce.cert
    server = start_server(policy, cert, cert.with_name("key.pem"), tmp_path / "log", "--workers", "2")
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    environ = next(
        dict(item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item)
        for pid in children
        if "CHAINWARDEN_ADMIT_SERVE=" in Path(f"/proc/{pid}/environ").read_text()
    )
    metrics_dir = Path(environ["PROMETHEUS_MULTIPROC_DIR"])
    body = review("deployment_creation_unsigned.json", [f"{world.registry.address}/team/app:1"])

    def metric(text: str, name: str) -> float:
        return float(next(line for line in text.splitlines() if line.startswith(name + " ")).split()[-1])

    async def burst() -> None:  # new connections, so that the kernel hands them to both workers
        async def one() -> None:
            async with httpx.AsyncClient(base_url=server.url, verify=server.tls(), timeout=30) as client:
                answer = await client.post("/validate", json=body)
                assert answer.status_code == 200 and answer.json()["response"]["allowed"]

        await asyncio.gather(*(one() for _ in range(20)))

    try:
        sent = 0
        deadline = time.monotonic() + 60
        while True:
            asyncio.run(burst())
            sent += 20
            with server.client() as client:
                text = client.get("/metrics").text
            # each worker decides the image once for its own cache: two misses once both answered
            if metric(text, "chainwarden_admission_cache_misses_total") >= 2 or time.monotonic() > deadline:
                break
        assert metric(text, "chainwarden_admission_cache_misses_total") == 2
        assert metric(text, "chainwarden_admission_cache_hits_total") == sent - 2
        assert 'chainwarden_admission_requests_total{endpoint="validate",outcome="allowed"} ' + f"{sent}.0" in text
        assert metric(text, "chainwarden_admission_request_duration_seconds_count") == sent
        assert len(list(metrics_dir.glob("*.db"))) >= 2  # one file set per worker process
    finally:
        assert stop(server) in (0, -signal.SIGTERM, 143)
    # workers and multiprocessing's resource tracker stop; the tracker exits once it sees its pipe close,
    # which may come a moment after the supervisor itself has exited
    deadline = time.monotonic() + 10
    while [pid for pid in children if running(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children if running(pid)}
    assert not left
    assert not metrics_dir.exists()  # the private metrics directory goes with the server
