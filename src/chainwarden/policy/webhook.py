"""``chainwarden admit serve``: a Kubernetes validating (and optionally mutating) admission webhook.

Speaks ``admission.k8s.io/v1`` AdmissionReview over HTTPS, as an ASGI application served
by uvicorn (its C-accelerated stack: httptools for HTTP/1.1, uvloop for the event loop);
``/healthz``, ``/metrics`` and error pages go through Starlette; metrics are kept by
prometheus-client. Endpoints:

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

The cached path is answered on the event loop, without a thread hop: a review whose
images were all decided within their TTL (tag → digest and digest → decision both
cached) reuses the verdict for that set of images, kept no longer than the earliest of
the underlying cache entries. Anything that needs the registry, a verifier or a scanner
runs in a thread pool. With ``workers > 1``, uvicorn's supervisor runs that many worker
processes on one listening socket, each with its own caches; ``/metrics`` then adds up
every worker's counters (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from chainwarden.errors import Error, UsageError
from chainwarden.policy.admit import Decider, ImageDecision, Mode, RuleResult

#: names the parent process passes to its worker processes (uvicorn spawns them afresh)
SETTINGS_ENV = "CHAINWARDEN_ADMIT_SERVE"
PROMETHEUS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

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
        # orjson: a kubectl-applied Deployment review (last-applied annotation, managedFields,
        # oldObject: ~9 KB) parses in 49 µs instead of json's 114 µs, the largest cost of a
        # cached answer; and nesting deeper than 1024 is an error, not a RecursionError
        review = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
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


@dataclass(frozen=True, slots=True)
class ParsedReview:
    """What the answer to an AdmissionReview depends on."""

    uid: str
    kind: str | None
    name: str | None  # the object's metadata.name, for the denial message
    images: tuple[ContainerImage, ...]
    checked: bool = True  # False: a DELETE/CONNECT or a kind that is not a workload, allowed undecided
    note: str | None = None  # the warning for an unchecked kind


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to a review apart from its uid and the object's name: reusable for the same images."""

    allowed: bool
    reasons: str | None  # why it is denied, per image
    warnings: tuple[str, ...]
    patch: str | None  # base64 JSONPatch (``/mutate`` with ``mutate: true``)
    outcomes: tuple[bool, ...] = ()  # allowed or not, per distinct image (metrics)


VerdictKey = tuple[str | None, bool, tuple[ContainerImage, ...]]


class VerdictCache:
    """Verdicts per (kind, mutate, images with their pointers), each until its own expiry.

    The expiry is the earliest of the cache entries the verdict was made from (tag → digest
    in the resolver, digest → decision in the decision cache), so reusing a verdict never
    extends the policy's ``cacheTTL``.
    """

    def __init__(self, clock: Callable[[], float], max_entries: int = 10000) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: dict[VerdictKey, tuple[float, Verdict]] = {}
        self._lock = threading.Lock()

    def get(self, key: VerdictKey) -> Verdict | None:
        entry = self._entries.get(key)
        if entry is None or self._clock() > entry[0]:
            return None
        return entry[1]

    def put(self, key: VerdictKey, verdict: Verdict, until: float) -> None:
        with self._lock:
            if len(self._entries) >= self._max:
                now = self._clock()
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
                if len(self._entries) >= self._max:
                    self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (until, verdict)


def _response(
    uid: str, allowed: bool, message: str | None, warnings: tuple[str, ...], patch: str | None
) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if message is not None:
        response["status"] = {"code": 403 if not allowed else 200, "message": message}
    if warnings:
        response["warnings"] = list(warnings)
    if patch is not None:
        response["patchType"] = "JSONPatch"
        response["patch"] = patch
    return {"apiVersion": ADMISSION_API, "kind": "AdmissionReview", "response": response}


def _warning(text: str) -> str:
    # the API server shows at most 120 characters per warning, and drops non-printable ones
    return text if len(text) <= 120 else text[:119] + "…"


class Metrics:
    """Prometheus metrics of one webhook; with ``PROMETHEUS_MULTIPROC_DIR`` set (``--workers``),
    every worker process writes there and ``/metrics`` adds them up."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.multiprocess_dir = os.environ.get(PROMETHEUS_DIR_ENV) or None
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
        self.cache_hits = Counter(
            "chainwarden_admission_cache_hits", "Image decisions answered from the cache", registry=self.registry
        )
        self.cache_misses = Counter(
            "chainwarden_admission_cache_misses",
            "Image decisions made afresh (registry, verifier, scanner)",
            registry=self.registry,
        )
        self.duration = Histogram(
            "chainwarden_admission_request_duration_seconds",
            "Time to answer an AdmissionReview",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self._allowed = (self.images.labels("allowed", "true"), self.images.labels("allowed", "false"))
        self._denied = (self.images.labels("denied", "true"), self.images.labels("denied", "false"))

    def count_images(self, outcomes: tuple[bool, ...], cached: tuple[bool, ...]) -> None:
        for allowed, from_cache in zip(outcomes, cached, strict=True):
            (self._allowed if allowed else self._denied)[0 if from_cache else 1].inc()
        hits = sum(cached)
        if hits:
            self.cache_hits.inc(hits)
        if hits < len(cached):
            self.cache_misses.inc(len(cached) - hits)

    def render(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest

        if self.multiprocess_dir is None:
            return bytes(generate_latest(self.registry))
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))


class Webhook:
    """The decision logic of the webhook, independent of HTTP (tested directly and through it)."""

    def __init__(self, decider: Decider, *, workers: int = 16) -> None:
        self.decider = decider
        self.metrics = Metrics()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chainwarden-admit")
        self._clock = decider.cache.now if decider.cache is not None else time.monotonic
        self._verdicts = VerdictCache(self._clock)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.decider.resolver.close()

    def review(self, body: bytes, *, mutate: bool) -> dict[str, Any]:
        """The AdmissionReview answering ``body`` (blocking: it may ask the registry);
        raises :class:`ReviewError` for a bad request."""
        parsed = self.parse(body)
        verdict = self.quick(parsed, mutate=mutate) or self.decide(parsed, mutate=mutate)
        return self.answer(parsed, verdict)

    def parse(self, body: bytes) -> ParsedReview:
        """The request's uid, kind, name and images; :class:`ReviewError` says what is wrong."""
        request = parse_review(body)
        uid = request["uid"]
        kind_info = request.get("kind")
        kind = kind_info.get("kind") if isinstance(kind_info, dict) else None
        if request.get("operation") in ("DELETE", "CONNECT"):
            return ParsedReview(uid, None, None, (), checked=False)
        if not isinstance(kind, str) or kind not in POD_SPEC_PATHS:
            # not a workload: nothing to check here, and the webhook's rules should not send it
            return ParsedReview(
                uid, None, None, (), checked=False, note=f"chainwarden: kind {str(kind)[:40]} is not checked"
            )
        obj = request.get("object")
        if not isinstance(obj, dict):
            raise ReviewError("request.object is missing")
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return ParsedReview(uid, kind, name if isinstance(name, str) else None, tuple(pod_images(kind, obj)), True)

    def quick(self, parsed: ParsedReview, *, mutate: bool) -> Verdict | None:
        """The verdict when no network request is needed (cheap enough for the event loop);
        None when an image needs the registry, a verifier or a scanner: then :meth:`decide`."""
        if not parsed.checked:
            return _unchecked(parsed)
        mutate = mutate and self.decider.policy.mutate
        key: VerdictKey = (parsed.kind, mutate, parsed.images)
        verdict = self._verdicts.get(key)
        if verdict is not None:
            self.metrics.count_images(verdict.outcomes, (True,) * len(verdict.outcomes))
            return verdict
        images = sorted({image.image for image in parsed.images})
        # a second of margin: an entry expiring between this check and decide() would make it
        # ask the registry on the event loop
        soon = self._clock() + 1.0
        for image in images:
            until = self.decider.cached_until(image)
            if until is None or until < soon:
                return None
        decisions = {image: self.decider.decide(image) for image in images}
        return self._settle(parsed, key, decisions, complete=True)

    def decide(self, parsed: ParsedReview, *, mutate: bool) -> Verdict:
        """The verdict, asking the registry (and verifiers, scanners) as needed within the
        policy's deadline: blocking, run it in a thread."""
        if not parsed.checked:
            return _unchecked(parsed)
        mutate = mutate and self.decider.policy.mutate
        decisions, complete = self._decide({image.image for image in parsed.images})
        return self._settle(parsed, (parsed.kind, mutate, parsed.images), decisions, complete=complete)

    def answer(self, parsed: ParsedReview, verdict: Verdict) -> dict[str, Any]:
        """The AdmissionReview document for ``parsed`` with ``verdict``."""
        message = None
        if verdict.reasons is not None:
            message = (f"chainwarden denied {parsed.kind} {parsed.name or ''}".rstrip() + f": {verdict.reasons}")[:4000]
        return _response(parsed.uid, verdict.allowed, message, verdict.warnings, verdict.patch)

    def _settle(
        self, parsed: ParsedReview, key: VerdictKey, decisions: dict[str, ImageDecision], *, complete: bool
    ) -> Verdict:
        """The verdict of ``decisions``, kept for reuse when every one of them is cached."""
        verdict = _verdict(parsed, decisions, mutate=key[1])
        self.metrics.count_images(verdict.outcomes, tuple(d.cached for d in decisions.values()))
        if complete:
            until = math.inf
            for decision in decisions.values():
                fresh = self.decider.cached_until(decision.image, decision)
                if fresh is None:
                    return verdict
                until = min(until, fresh)
            self._verdicts.put(key, verdict, until)
        return verdict

    def _decide(self, images: set[str]) -> tuple[dict[str, ImageDecision], bool]:
        """Decide every image concurrently within the policy's deadline; False: some did not finish."""
        policy = self.decider.policy
        deadline = policy.registry_timeout
        decisions: dict[str, ImageDecision] = {}
        futures = {image: self._pool.submit(self.decider.decide, image) for image in sorted(images)}
        started = time.monotonic()
        complete = True
        for image, future in futures.items():
            remaining = max(0.0, deadline - (time.monotonic() - started))
            try:
                decisions[image] = future.result(timeout=remaining)
            except TimeoutError:
                complete = False
                result = RuleResult("deadline", False, policy.mode, f"no decision within {deadline:g} s")
                decisions[image] = ImageDecision(image, None, None, policy.mode is Mode.WARN, (result,))
        return decisions, complete


def _unchecked(parsed: ParsedReview) -> Verdict:
    return Verdict(True, None, (parsed.note,) if parsed.note else (), None)


def _verdict(parsed: ParsedReview, decisions: dict[str, ImageDecision], *, mutate: bool) -> Verdict:
    denied = [d for d in decisions.values() if not d.allowed]
    warnings = tuple(
        _warning(f"{d.image}: {w.rule}: {w.message}") for d in decisions.values() for w in d.warnings if d.image
    )[:20]
    outcomes = tuple(d.allowed for d in decisions.values())
    if denied:
        reasons = "; ".join(f"{d.image}: " + ", ".join(f"{r.rule}: {r.message}" for r in d.denials) for d in denied)
        return Verdict(False, reasons, warnings, None, outcomes)
    patch = None
    if mutate:
        operations = [
            {"op": "replace", "path": image.pointer, "value": f"{image.image}@{decisions[image.image].digest}"}
            for image in parsed.images
            if decisions[image.image].digest is not None and "@" not in image.image
        ]
        if operations:
            patch = base64.b64encode(orjson.dumps(operations)).decode()
    return Verdict(True, None, warnings, patch, outcomes)


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _json(document: Any) -> bytes:
    return orjson.dumps(document)


async def _read_body(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Any]]) -> bytes | int:
    """The request body, or the HTTP status refusing it (413 too large, 400 client gone)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
            return 413
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return 400
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > MAX_BODY:  # no Content-Length (chunked): the limit holds while streaming
            return 413
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Callable[[Any], Awaitable[None]], status: int, body: bytes) -> None:
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(webhook: Webhook) -> ASGIApp:
    """The ASGI application serving ``webhook``.

    ``POST /validate`` and ``POST /mutate`` are answered directly at the ASGI level (they are
    the hot path: no routing or middleware layers); everything else — ``/healthz``,
    ``/metrics``, wrong methods, unknown paths, lifespan — goes to a Starlette application.
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    metrics = webhook.metrics
    outcomes = {
        (name, outcome): metrics.requests.labels(name, outcome)
        for name in ("validate", "mutate")
        for outcome in ("allowed", "denied", "bad-request", "too-large")
    }

    async def review(scope: MutableMapping[str, Any], receive: Any, send: Any, name: str) -> None:
        started = time.perf_counter()
        body = await _read_body(scope, receive)
        if isinstance(body, int):
            outcomes[name, "too-large" if body == 413 else "bad-request"].inc()
            error = f"body larger than {MAX_BODY} bytes" if body == 413 else "client disconnected"
            await _send(send, body, _json({"error": error}))
            return
        mutate = name == "mutate"
        try:
            parsed = webhook.parse(body)
            verdict = webhook.quick(parsed, mutate=mutate)
            if verdict is None:
                verdict = await run_in_threadpool(webhook.decide, parsed, mutate=mutate)
        except ReviewError as exc:
            outcomes[name, "bad-request"].inc()
            await _send(send, 400, _json({"error": str(exc)}))
            return
        outcomes[name, "allowed" if verdict.allowed else "denied"].inc()
        await _send(send, 200, _json(webhook.answer(parsed, verdict)))
        metrics.duration.observe(time.perf_counter() - started)

    class Endpoint:  # an ASGI application (Starlette calls a plain function with a Request)
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
            await review(scope, receive, send, self.name)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def render_metrics(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            webhook.close()

    fallback = Starlette(
        routes=[
            Route("/validate", Endpoint("validate"), methods=["POST"]),  # other methods: 405
            Route("/mutate", Endpoint("mutate"), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", render_metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    hot = {"/validate": "validate", "/mutate": "mutate"}

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in hot:
            await review(scope, receive, send, hot[scope["path"]])
        else:
            await fallback(scope, receive, send)

    return app


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """How ``admit serve`` runs (what the worker processes need to build their own webhook)."""

    policy: Path
    tls_cert: str
    tls_key: str
    host: str = "0.0.0.0"  # noqa: S104
    port: int = 8443
    workers: int = 1
    insecure_registry: bool = False


def serve(settings: ServeSettings, webhook: Webhook | None = None) -> None:
    """Serve the webhook over HTTPS with uvicorn until interrupted (SIGINT/SIGTERM).

    One worker: ``webhook`` (or one built from the settings) in this process. More: uvicorn's
    supervisor spawns ``settings.workers`` processes sharing the listening socket, each
    building its own webhook from the policy file (so ``SIGHUP`` replaces them one by one,
    re-reading the policy); their metrics meet in a private directory removed on exit.
    """
    import uvicorn

    check_listen(settings.host, settings.port)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "ssl_certfile": settings.tls_cert,
        "ssl_keyfile": settings.tls_key,
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        "timeout_keep_alive": 30,
        "limit_concurrency": 1000,
        "server_header": False,
        # uvicorn's C-accelerated stack: httptools halves the CPU per cached answer against h11
        # (0.16 against 0.30 ms), uvloop takes a little more off (bench/webhook_load.py)
        "loop": "uvloop",
        "http": "httptools",
    }
    if settings.workers <= 1:
        if webhook is None:
            webhook = Webhook(_decider(settings.policy, settings.insecure_registry))
        uvicorn.run(create_app(webhook), **common)
        return
    own_dir = None
    if not os.environ.get(PROMETHEUS_DIR_ENV):
        own_dir = tempfile.mkdtemp(prefix="chainwarden-admit-metrics-")
        os.environ[PROMETHEUS_DIR_ENV] = own_dir
    os.environ[SETTINGS_ENV] = json.dumps(
        {"policy": str(settings.policy.resolve()), "insecure_registry": settings.insecure_registry}
    )
    try:
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.workers, **common)
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
            os.environ.pop(PROMETHEUS_DIR_ENV, None)
        os.environ.pop(SETTINGS_ENV, None)


def check_listen(host: str, port: int) -> None:
    """Refuse an address that cannot be listened on with one line (uvicorn would log and exit 3)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise UsageError(f"--host {host}: {exc.strerror or exc}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def worker_app() -> ASGIApp:
    """The application of one ``--workers`` process (uvicorn imports and calls this factory)."""
    import sys

    try:
        settings = json.loads(os.environ[SETTINGS_ENV])
        decider = _decider(Path(settings["policy"]), bool(settings["insecure_registry"]))
    except Error as exc:
        print(f"chainwarden: error: {exc.diagnostics()}", file=sys.stderr)
        raise SystemExit(3) from exc  # uvicorn's STARTUP_FAILURE: the supervisor stops instead of retrying
    return create_app(Webhook(decider))


def _decider(policy: Path, insecure_registry: bool) -> Decider:
    """The webhook's decider, in the single process and in each ``--workers`` process alike."""
    from chainwarden.policy.decider import build_decider

    return build_decider(policy, insecure_registry=insecure_registry, cache=True, one_attempt=True)


def iter_images(review: dict[str, Any]) -> Iterator[str]:
    """The images of an AdmissionReview's object (for tools and tests)."""
    request = review.get("request") or {}
    kind = (request.get("kind") or {}).get("kind")
    if kind in POD_SPEC_PATHS:
        for image in pod_images(kind, request.get("object")):
            yield image.image
