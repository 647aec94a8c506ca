"""The webhook's AdmissionReview handling without HTTP (the HTTPS path is in tests/integration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainwarden.policy.admit import Decider, parse_policy
from chainwarden.policy.resolve import Resolver
from chainwarden.policy.webhook import POD_SPEC_PATHS, ReviewError, Webhook, parse_review, pod_images

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "admission-review"
DIGEST = "sha256:" + "a" * 64


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
