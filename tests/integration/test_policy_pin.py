"""``chainwarden pin`` against Debian's real ``docker-registry`` on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainwarden.cli import main
from integration.policy_registry import push_image, push_multi
from integration.registry_server import PushClient, RunningRegistry, missing_tools, start_registry

pytestmark = pytest.mark.integration


@dataclass
class Registry:
    running: RunningRegistry
    pusher: PushClient
    app: str  # digest of app:1 (single platform)
    multi: str  # index digest of multi:1
    platforms: dict[str, str]

    @property
    def host(self) -> str:
        return self.running.address


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if missing_tools():
        pytest.skip("needs docker-registry and skopeo")
    running = start_registry(tmp_path_factory.mktemp("pin-registry"))
    pusher = PushClient(running.address)
    try:
        app = push_image(pusher, "app", "1", {"/etc/app": "one\n"})
        push_image(pusher, "tool", "2", {"/bin/tool": "two\n"})
        push_image(pusher, "tool", "3", {"/bin/tool": "three\n"})
        multi, platforms = push_multi(pusher, "multi", "1")
        yield Registry(running, pusher, app.digest, multi, platforms)
    finally:
        pusher.close()
        running.stop()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


DOCKERFILE = """\
# syntax=docker/dockerfile:1
# escape=`
ARG BASE={host}/app:1
ARG HELPER={host}/tool:2
FROM --platform=$BUILDPLATFORM ${{BASE}} AS build
ARG HELPER
RUN echo $HELPER `
    && true
FROM {host}/multi:1 AS final
COPY --from=build /x /x
COPY --from={host}/tool:2 --chown=0:0 /bin/tool /usr/bin/tool
RUN --mount=type=bind,from={host}/tool:3,target=/t cp /t/bin/tool /tool
FROM ${{HELPER}} AS helper
FROM ${{MISSING:-{host}/app}}:1
"""


def test_dockerfile_pinned_byte_for_byte(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = registry.host
    dockerfile = tmp_path / "Dockerfile"
    original = DOCKERFILE.format(host=host)
    dockerfile.write_text(original)
    dockerfile.chmod(0o640)
    code, out, err = run(capsys, "pin", str(tmp_path), "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    by_line = {(r["line"], r["context"]): r for r in document["references"]}
    # ARG BASE feeds FROM only: pinned; ARG HELPER is re-declared in a stage: reported, untouched
    assert by_line[(3, "ARG BASE")]["status"] == "pinned"
    assert by_line[(3, "ARG BASE")]["digest"] == registry.app
    assert by_line[(4, "ARG HELPER")]["status"] == "skipped"
    assert "also used inside a stage" in by_line[(4, "ARG HELPER")]["note"]
    assert by_line[(9, "FROM")]["digest"] == registry.multi  # the index, not a platform's manifest
    assert by_line[(14, "FROM")]["status"] == "skipped"
    assert {(r["line"], r["context"]) for r in document["references"]} == {
        (3, "ARG BASE"),
        (4, "ARG HELPER"),
        (9, "FROM"),
        (11, "COPY --from"),
        (12, "RUN --mount from"),
        (14, "FROM"),
    }
    # one manifest request per distinct reference (app:1, multi:1, tool:2, tool:3)
    assert document["manifest_requests"] == 4
    text = dockerfile.read_text()
    tool2_digest = by_line[(11, "COPY --from")]["digest"]
    tool3_digest = by_line[(12, "RUN --mount from")]["digest"]
    expected = (
        original.replace(f"ARG BASE={host}/app:1", f"ARG BASE={host}/app:1@{registry.app}")
        .replace(f"FROM {host}/multi:1 AS", f"FROM {host}/multi:1@{registry.multi} AS")
        .replace(f"COPY --from={host}/tool:2 ", f"COPY --from={host}/tool:2@{tool2_digest} ")
        .replace(f"from={host}/tool:3,", f"from={host}/tool:3@{tool3_digest},")
    )
    assert text == expected
    assert dockerfile.stat().st_mode & 0o777 == 0o640
    # a second run changes nothing and --check passes... except the skipped reference without digest
    code, out, _ = run(capsys, "pin", str(tmp_path), "--check", "--format", "json")
    statuses = {r["line"]: r["status"] for r in json.loads(out)["references"]}
    assert statuses[3] == statuses[9] == statuses[11] == statuses[12] == "current"
    assert code == 1  # line 14 cannot be checked: built from a build argument
    assert dockerfile.read_text() == expected


def test_platform_pins_one_manifest_never_attestation(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {registry.host}/multi:1\n")
    code, out, err = run(capsys, "pin", str(dockerfile), "--platform", "linux/arm64", "--format", "json")
    assert code == 0, err
    (reference,) = json.loads(out)["references"]
    assert reference["digest"] == registry.platforms["linux/arm64"]
    assert "linux/arm64 manifest" in reference["note"]
    assert dockerfile.read_text() == f"FROM {registry.host}/multi:1@{registry.platforms['linux/arm64']}\n"
    code, _, err = run(capsys, "pin", str(dockerfile), "--platform", "unknown/unknown")
    assert code == 2 and "attestations" in err
    dockerfile.write_text(f"FROM {registry.host}/multi:1\n")
    code, out, err = run(capsys, "pin", str(dockerfile), "--platform", "linux/s390x", "--format", "json")
    assert code == 2, err
    (reference,) = json.loads(out)["references"]
    assert reference["status"] == "error" and "no manifest for platform linux/s390x" in reference["note"]
    assert dockerfile.read_text() == f"FROM {registry.host}/multi:1\n"


YAML_FILES = {
    "deploy/k8s.yaml": """\
# workloads
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: "{host}/tool:2"   # quoted, with a comment
      containers:
        - name: web
          image: {host}/app:1
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - {{name: job, image: '{host}/multi:1'}}
---
apiVersion: v1
kind: Pod
metadata: {{name: debug}}
spec:
  containers: []
  ephemeralContainers:
    - name: dbg
      image: {host}/tool:3
""",
    "compose.yaml": """\
services:
  web:
    image: {host}/app:1
  db:
    image: ${{DB_IMAGE:-{host}/tool:2}}
""",
    "chart/values.yaml": """\
image:
  registry: {host}
  repository: app
  tag: "1"   # keep quotes
sidecar:
  image: {{repository: {host}/tool, tag: 3}}
appVersionImage:
  repository: {host}/tool
  tag: ""
""",
    ".github/workflows/ci.yml": """\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    container:
      image: {host}/app:1
    services:
      cache:
        image: {host}/tool:2
    steps:
      - uses: docker://{host}/tool:3
      - uses: actions/checkout@v4
  other:
    runs-on: ubuntu-latest
    container: {host}/multi:1
""",
}


def test_yaml_files_round_trip(registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = registry.host
    originals = {}
    for name, template in YAML_FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        originals[name] = template.format(host=host)
        path.write_text(originals[name])
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    code, out, err = run(capsys, "pin", str(tmp_path), "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    digests = {r["reference"]: r["digest"] for r in document["references"] if r["digest"]}
    app, multi = registry.app, registry.multi
    tool2, tool3 = digests[f"{host}/tool:2"], digests[f"{host}/tool:3"]
    assert document["manifest_requests"] == 4
    k8s = (tmp_path / "deploy/k8s.yaml").read_text()
    assert k8s == (
        originals["deploy/k8s.yaml"]
        .replace(f'"{host}/tool:2"', f'"{host}/tool:2@{tool2}"')
        .replace(f"image: {host}/app:1", f"image: {host}/app:1@{app}")
        .replace(f"'{host}/multi:1'", f"'{host}/multi:1@{multi}'")
        .replace(f"image: {host}/tool:3", f"image: {host}/tool:3@{tool3}")
    )
    compose = (tmp_path / "compose.yaml").read_text()
    assert compose == originals["compose.yaml"].replace(f"image: {host}/app:1", f"image: {host}/app:1@{app}")
    values = (tmp_path / "chart/values.yaml").read_text()
    assert values == (
        originals["chart/values.yaml"].replace('tag: "1"', f'tag: "1@{app}"').replace("tag: 3}", f"tag: 3@{tool3}}}")
    )
    workflow = (tmp_path / ".github/workflows/ci.yml").read_text()
    assert workflow == (
        originals[".github/workflows/ci.yml"]
        .replace(f"image: {host}/app:1", f"image: {host}/app:1@{app}")
        .replace(f"image: {host}/tool:2", f"image: {host}/tool:2@{tool2}")
        .replace(f"docker://{host}/tool:3", f"docker://{host}/tool:3@{tool3}")
        .replace(f"container: {host}/multi:1", f"container: {host}/multi:1@{multi}")
    )
    skipped = {r["reference"]: r["note"] for r in document["references"] if r["status"] == "skipped"}
    assert any("variable" in note for note in skipped.values())  # compose ${DB_IMAGE:-…}
    assert any("appVersion" in note for note in skipped.values())  # Helm tag: ""


def test_check_reports_moved_tag_and_offline(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pusher = registry.pusher
    first = push_image(pusher, "moving", "1", {"/v": "1\n"})
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {registry.host}/moving:1@{first.digest}\nFROM {registry.host}/app:1\n")
    code, out, _ = run(capsys, "pin", str(dockerfile), "--check")
    assert code == 1 and "unpinned" in out
    code, out, _ = run(capsys, "pin", str(dockerfile), "--offline", "--check", "--format", "json")
    assert code == 1
    assert [r["status"] for r in json.loads(out)["references"]] == ["current", "unpinned"]
    assert json.loads(out)["manifest_requests"] == 0
    second = push_image(pusher, "moving", "1", {"/v": "2\n"})
    code, out, _ = run(capsys, "pin", str(dockerfile), "--check", "--format", "json")
    assert code == 1
    moved = json.loads(out)["references"][0]
    assert moved["status"] == "moved"
    assert moved["note"] == f"tag moved: was {first.digest}, now {second.digest}"
    before = dockerfile.read_text()
    run(capsys, "pin", str(dockerfile))  # pins app:1, leaves the moved one alone
    assert f"moving:1@{first.digest}" in dockerfile.read_text() != before
    run(capsys, "pin", str(dockerfile), "--update")
    assert f"moving:1@{second.digest}" in dockerfile.read_text()
    code, _, _ = run(capsys, "pin", str(dockerfile), "--check")
    assert code == 0


def test_unresolvable_reference_is_an_error_not_a_pass(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {registry.host}/nope:1\n")
    code, out, err = run(capsys, "pin", str(dockerfile), "--check")
    assert code == 2
    assert "could not be resolved" in err and "404" in out, out
    assert dockerfile.read_text() == f"FROM {registry.host}/nope:1\n"
    code, _, err = run(capsys, "pin", str(tmp_path / "missing"))
    assert code == 2 and err.startswith("chainwarden: error:")


def test_lint_fix_pins_unpinned_bases(registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {registry.host}/app:1\nCOPY --from={registry.host}/tool:2 /a /a\nUSER 1000\n")
    _, out, err = run(capsys, "lint", str(tmp_path), "--fix", "--format", "json")
    assert f"fixed Dockerfile:1: {registry.host}/app:1 pinned to {registry.app}" in err
    assert dockerfile.read_text().startswith(
        f"FROM {registry.host}/app:1@{registry.app}\nCOPY --from={registry.host}/tool:2 "
    )
    assert "dockerfile-unpinned-base" not in {f["rule_id"] for f in json.loads(out)["findings"]}
    dockerfile.write_text(f"FROM {registry.host}/nope:1\n")
    _, _, err = run(capsys, "lint", str(tmp_path), "--fix")
    assert f"chainwarden: not pinned Dockerfile:1: {registry.host}/nope:1:" in err
    assert dockerfile.read_text() == f"FROM {registry.host}/nope:1\n"
