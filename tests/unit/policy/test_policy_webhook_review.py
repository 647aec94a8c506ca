"""The webhook's AdmissionReview handling without HTTP (the HTTPS path is in tests/integration)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from chainwarden.models import Digest
from chainwarden.policy.admit import Decider, DecisionCache, parse_policy
from chainwarden.policy.resolve import Resolver
from chainwarden.policy.webhook import POD_SPEC_PATHS, ReviewError, Webhook, parse_review, pod_images
from chainwarden.sources.registry import RegistryClient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "admission-review"
DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def envelope(request: dict[str, Any]) -> bytes:
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}).encode()


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_fixture_kind_yields_its_images_with_patch_pointers(path: Path) -> None:
    request = json.loads(path.read_text())
    kind = request["kind"]["kind"]
    assert kind in POD_SPEC_PATHS
    images = pod_images(kind, request["object"])
    assert images, kind
    for image in images:
        node: Any = request["object"]
        for part in image.pointer.strip("/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert node == image.image


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "expected an AdmissionReview object"),
        (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}', "request.uid is missing"),
        (b'{"kind": "Pod", "apiVersion": "v1"}', "expected kind AdmissionReview"),
        (b"\xff\xfe", "malformed JSON"),
    ],
)
def test_bad_reviews(body: bytes, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        parse_review(body)


def webhook(tmp_path: Path, document: dict[str, Any]) -> Webhook:
    return Webhook(Decider(parse_policy(document, "p.yaml", tmp_path), Resolver()))


def test_denial_lists_every_reason_and_delete_is_allowed(tmp_path: Path) -> None:
    hook = webhook(tmp_path, {"gates": {"allowedRegistries": ["registry.example.com"]}})
    try:
        request = json.loads((FIXTURES / "pod_creation_with_init_container.json").read_text())
        request["object"]["spec"]["containers"][0]["image"] = f"evil.example.com/x@{DIGEST}"
        request["object"]["spec"]["initContainers"][0]["image"] = f"registry.example.com/init@{DIGEST}"
        response = hook.review(envelope(request), mutate=False)["response"]
        assert response["allowed"] is False
        assert response["status"]["message"] == (
            f"chainwarden denied Pod nginx: evil.example.com/x@{DIGEST}: "
            "allowed-registries: registry evil.example.com is not one of registry.example.com"
        )
        request["operation"] = "DELETE"
        assert hook.review(envelope(request), mutate=False)["response"] == {"uid": request["uid"], "allowed": True}
        request["operation"] = "CREATE"
        request["object"]["spec"]["containers"][0]["image"] = 7
        with pytest.raises(ReviewError, match="/spec/containers/0/image: not a string"):
            hook.review(envelope(request), mutate=False)
    finally:
        hook.close()


class FakeRegistry:
    """A registry client answering every tag with one manifest (optionally held back by ``gate``)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls = 0
        self.gate = gate

    def get_manifest(self, tag: str) -> tuple[bytes, str, Digest]:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        media_type = "application/vnd.oci.image.manifest.v1+json"
        return json.dumps({"schemaVersion": 2, "mediaType": media_type}).encode(), media_type, Digest(DIGEST)

    def close(self) -> None:
        pass


def clocked(tmp_path: Path, document: dict[str, Any], registry: FakeRegistry, clock: Callable[[], float]) -> Webhook:
    policy = parse_policy(document, "p.yaml", tmp_path, "sha256:" + "0" * 64)
    resolver = Resolver(client_factory=lambda ref: cast(RegistryClient, registry), ttl=policy.cache_ttl, clock=clock)
    return Webhook(Decider(policy, resolver, cache=DecisionCache(policy.cache_ttl, clock=clock)))


def two_images(init: str, app: str) -> bytes:
    request = json.loads((FIXTURES / "pod_creation_with_init_container.json").read_text())
    request["object"]["spec"]["initContainers"][0]["image"] = init
    request["object"]["spec"]["containers"][0]["image"] = app
    return envelope(request)


def metric(hook: Webhook, name: str) -> float:
    line = next(line for line in hook.metrics.render().decode().splitlines() if line.startswith(name + " "))
    return float(line.split()[-1])


def test_a_verdict_is_reused_until_the_earliest_cache_entry_behind_it_expires(tmp_path: Path) -> None:
    now = [0.0]
    registry = FakeRegistry()
    document = {"cacheTTL": 60, "mutate": True, "gates": {"allowedRegistries": ["reg.example"]}}
    hook = clocked(tmp_path, document, registry, lambda: now[0])
    try:
        tag_only = hook.parse(two_images("reg.example/team/app:1", "reg.example/team/app:1"))
        assert hook.quick(tag_only, mutate=False) is None  # nothing cached: the registry is needed
        assert hook.decide(tag_only, mutate=False).allowed and registry.calls == 1  # tag and digest cached at 0
        now[0] = 30.0
        both = hook.parse(two_images(f"reg.example/team/init@{OTHER}", "reg.example/team/app:1"))
        assert hook.quick(both, mutate=False) is None  # the pinned image was never decided
        verdict = hook.decide(both, mutate=False)  # its decision is kept until 90, the tag's until 60
        now[0] = 59.0
        assert hook.quick(both, mutate=False) is verdict
        patched = hook.quick(both, mutate=True)  # another verdict: the patch pins the tag
        assert patched is not None and patched is not verdict and patched.patch is not None
        assert json.loads(base64.b64decode(patched.patch)) == [
            {"op": "replace", "path": "/spec/containers/0/image", "value": f"reg.example/team/app:1@{DIGEST}"}
        ]
        now[0] = 61.0
        assert hook.quick(both, mutate=False) is None  # the tag must be resolved again
        assert hook.decide(both, mutate=False).allowed and registry.calls == 2
        # misses: the tag at 0, the pinned image at 30, the tag at 61; every other image decision was a hit
        assert metric(hook, "chainwarden_admission_cache_misses_total") == 3.0
        assert metric(hook, "chainwarden_admission_cache_hits_total") == 6.0
    finally:
        hook.close()


def test_a_verdict_cut_short_by_the_deadline_is_never_reused(tmp_path: Path) -> None:
    gate = threading.Event()
    registry = FakeRegistry(gate)
    hook = clocked(tmp_path, {"registryTimeout": 0.5, "gates": {"digestPinned": False, "malicious": False,
                                                                   "allowedRegistries": ["reg.example"]}},
                   registry, time.monotonic)  # fmt: skip
    try:
        parsed = hook.parse(two_images("reg.example/team/app:1", "reg.example/team/app:1"))
        late = hook.decide(parsed, mutate=False)
        assert not late.allowed and "deadline: no decision within 0.5 s" in (late.reasons or "")
        gate.set()  # the registry answers after all; the decision lands in the caches
        deadline = time.monotonic() + 10
        while hook.decider.cached_until("reg.example/team/app:1") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        again = hook.quick(parsed, mutate=False)
        assert again is not None and again.allowed
    finally:
        hook.close()


def test_nesting_deeper_than_json_allows_is_a_bad_request() -> None:
    with pytest.raises(ReviewError, match="malformed JSON"):
        parse_review(b"[" * 5000 + b"]" * 5000)
