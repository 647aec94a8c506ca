"""``chainwarden admit serve``: a Kubernetes validating (and optionally mutating) admission webhook.

Speaks ``admission.k8s.io/v1`` AdmissionReview over HTTPS, as an ASGI application
(Starlette) served by uvicorn; metrics are kept by prometheus-client. Endpoints:

- ``POST /validate`` — the decision for every image of a Pod, Deployment, ReplicaSet,
  ReplicationController, StatefulSet, DaemonSet, Job or CronJob (``containers``,
  ``initContainers``, ``ephemeralContainers``). Tags are resolved to digests for the
  decision; the object is never rewritten here.
- ``POST /mutate`` — with ``mutate: true`` in the policy, a JSONPatch that pins each
  admitted image to the digest the decision was made on (register it as a
  MutatingWebhookConfiguration); without it, an allow with no patch.
- ``GET /healthz`` and ``GET /metrics`` (Prometheus text format).

Each request has a deadline below the API server's webhook timeout (the policy's
``registryTimeout``, one attempt per registry call): a registry that does not answer in
time gives a decision (denied in enforce mode, with the reason) instead of the API
server's own timeout, so ``failurePolicy`` is only consulted when the webhook is down.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chainwarden.policy.admit import Decider, ImageDecision, Mode

#: The API server sends at most ~3 MiB (etcd's object limit plus envelope); more is hostile.
MAX_BODY = 3 * 1024 * 1024
ADMISSION_API = "admission.k8s.io/v1"
#: request kind → where the pod spec is
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


class ReviewError(Exception):
    """The body is not an AdmissionReview we can answer (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class ContainerImage:
    pointer: str  # JSON pointer of the image field, for a patch
    image: str


def pod_images(kind: str, obj: Any) -> list[ContainerImage]:
    """Every container image of a workload object, with its JSON pointer."""
    path = POD_SPEC_PATHS[kind]
    node = obj
    pointer = ""  # JSONPatch paths are relative to the object
    for part in path:
        if not isinstance(node, dict):
            return []
        node = node.get(part)
        pointer += f"/{part}"
    if not isinstance(node, dict):
        return []
    found = []
    for key in CONTAINER_LISTS:
        containers = node.get(key)
        if not isinstance(containers, list):
            continue
        for index, container in enumerate(containers):
            if not isinstance(container, dict):
                raise ReviewError(f"{pointer}/{key}/{index}: a container is not an object")
            image = container.get("image")
            if image is None:
                continue
            if not isinstance(image, str):
                raise ReviewError(f"{pointer}/{key}/{index}/image: not a string")
            found.append(ContainerImage(f"{pointer}/{key}/{index}/image", image))
    return found


def parse_review(body: bytes) -> dict[str, Any]:
    """The ``request`` of an AdmissionReview v1; :class:`ReviewError` says what is wrong."""
    try:
        review = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReviewError(f"malformed JSON: {exc}") from exc
    if not isinstance(review, dict):
        raise ReviewError("expected an AdmissionReview object")
    if review.get("kind") != "AdmissionReview" or review.get("apiVersion") != ADMISSION_API:
        raise ReviewError(
            f"expected kind AdmissionReview, apiVersion {ADMISSION_API}; "
            f"got {str(review.get('kind'))[:60]!r}, {str(review.get('apiVersion'))[:60]!r}"
        )
    request = review.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("uid"), str) or not request["uid"]:
        raise ReviewError("request.uid is missing")
    return request


def _response(uid: str, allowed: bool, message: str | None, warnings: list[str], patch: Any = None) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if message is not None:
        response["status"] = {"code": 403 if not allowed else 200, "message": message}
    if warnings:
        # the API server shows at most 120 characters per warning, and drops non-printable ones
        response["warnings"] = [w if len(w) <= 120 else w[:119] + "…" for w in warnings[:20]]
    if patch is not None:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return {"apiVersion": ADMISSION_API, "kind": "AdmissionReview", "response": response}


class Metrics:
    """Prometheus metrics of one webhook, in a registry of its own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chainwarden_admission_requests",
            "AdmissionReview requests by endpoint and outcome",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.images = Counter(
            "chainwarden_admission_images",
            "Image decisions by outcome and whether they came from the cache",
            ["outcome", "cached"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "chainwarden_admission_request_duration_seconds",
            "Time to answer an AdmissionReview",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))


class Webhook:
    """The decision logic of the webhook, independent of HTTP (tested directly and through it)."""

    def __init__(self, decider: Decider, *, workers: int = 16) -> None:
        self.decider = decider
        self.metrics = Metrics()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chainwarden-admit")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.decider.resolver.close()

    def review(self, body: bytes, *, mutate: bool) -> dict[str, Any]:
        """The AdmissionReview answering ``body``; raises :class:`ReviewError` for a bad request."""
        request = parse_review(body)
        uid = request["uid"]
        kind_info = request.get("kind")
        kind = kind_info.get("kind") if isinstance(kind_info, dict) else None
        if request.get("operation") in ("DELETE", "CONNECT"):
            return _response(uid, True, None, [])
        if not isinstance(kind, str) or kind not in POD_SPEC_PATHS:
            # not a workload: nothing to check here, and the webhook's rules should not send it
            return _response(uid, True, None, [f"chainwarden: kind {str(kind)[:40]} is not checked"])
        obj = request.get("object")
        if not isinstance(obj, dict):
            raise ReviewError("request.object is missing")
        images = pod_images(kind, obj)
        decisions = self._decide({image.image for image in images})
        denied = [d for d in decisions.values() if not d.allowed]
        warnings = [f"{d.image}: {w.rule}: {w.message}" for d in decisions.values() for w in d.warnings if d.image]
        for decision in decisions.values():
            self.metrics.images.labels(
                "allowed" if decision.allowed else "denied", "true" if decision.cached else "false"
            ).inc()
        if denied:
            reasons = "; ".join(f"{d.image}: " + ", ".join(f"{r.rule}: {r.message}" for r in d.denials) for d in denied)
            name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else None
            message = f"chainwarden denied {kind} {name or ''}".rstrip() + f": {reasons}"
            return _response(uid, False, message[:4000], warnings)
        patch = None
        if mutate and self.decider.policy.mutate:
            patch = [
                {"op": "replace", "path": image.pointer, "value": _pinned(image.image, decisions[image.image])}
                for image in images
                if decisions[image.image].digest is not None and "@" not in image.image
            ] or None
        return _response(uid, True, None, warnings, patch)

    def _decide(self, images: set[str]) -> dict[str, ImageDecision]:
        """Decide every image concurrently within the policy's deadline."""
        policy = self.decider.policy
        deadline = policy.registry_timeout
        decisions: dict[str, ImageDecision] = {}
        pending = []
        for image in sorted(images):
            if self.decider.answerable_from_cache(image):
                decisions[image] = self.decider.decide(image)  # no I/O: no thread hop, no deadline needed
            else:
                pending.append(image)
        futures = {image: self._pool.submit(self.decider.decide, image) for image in pending}
        started = time.monotonic()
        for image, future in futures.items():
            remaining = max(0.0, deadline - (time.monotonic() - started))
            try:
                decisions[image] = future.result(timeout=remaining)
            except TimeoutError:
                from chainwarden.policy.admit import RuleResult

                result = RuleResult("deadline", False, policy.mode, f"no decision within {deadline:g} s")
                decisions[image] = ImageDecision(image, None, None, policy.mode is Mode.WARN, (result,))
        return decisions


def _pinned(image: str, decision: ImageDecision) -> str:
    return f"{image}@{decision.digest}"


def create_app(webhook: Webhook) -> Any:
    """The Starlette application serving ``webhook``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    async def read_body(request: Request) -> bytes | Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
        chunks: list[bytes] = []
        total = 0
        try:
            async for chunk in request.stream():
                total += len(chunk)
                if total > MAX_BODY:
                    return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
                chunks.append(chunk)
        except ClientDisconnect:
            return Response(status_code=400)
        return b"".join(chunks)

    def endpoint(name: str, mutate: bool) -> Any:
        async def handle(request: Request) -> Response:
            started = time.perf_counter()
            body = await read_body(request)
            if isinstance(body, Response):
                webhook.metrics.requests.labels(name, "too-large").inc()
                return body
            try:
                answer = await run_in_threadpool(webhook.review, body, mutate=mutate)
            except ReviewError as exc:
                webhook.metrics.requests.labels(name, "bad-request").inc()
                return JSONResponse({"error": str(exc)}, status_code=400)
            allowed = answer["response"]["allowed"]
            webhook.metrics.requests.labels(name, "allowed" if allowed else "denied").inc()
            webhook.metrics.duration.observe(time.perf_counter() - started)
            return JSONResponse(answer)

        return handle

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def metrics(request: Request) -> Response:
        cache = webhook.decider.cache
        text = webhook.metrics.render()
        if cache is not None:
            text += (
                b"# HELP chainwarden_admission_cache_hits Decision cache hits\n"
                b"# TYPE chainwarden_admission_cache_hits counter\n"
                + f"chainwarden_admission_cache_hits_total {cache.hits}\n".encode()
                + b"# HELP chainwarden_admission_cache_misses Decision cache misses\n"
                b"# TYPE chainwarden_admission_cache_misses counter\n"
                + f"chainwarden_admission_cache_misses_total {cache.misses}\n".encode()
            )
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    return Starlette(
        routes=[
            Route("/validate", endpoint("validate", False), methods=["POST"]),
            Route("/mutate", endpoint("mutate", True), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


def serve(
    webhook: Webhook,
    *,
    host: str,
    port: int,
    tls_cert: str,
    tls_key: str,
) -> None:
    """Serve ``webhook`` over HTTPS with uvicorn until interrupted."""
    import uvicorn

    config = uvicorn.Config(
        create_app(webhook),
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        limit_concurrency=1000,
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    finally:
        webhook.close()


def iter_images(review: dict[str, Any]) -> Iterator[str]:
    """The images of an AdmissionReview's object (for tools and tests)."""
    request = review.get("request") or {}
    kind = (request.get("kind") or {}).get("kind")
    if kind in POD_SPEC_PATHS:
        for image in pod_images(kind, request.get("object")):
            yield image.image
