"""Where pin finds references, and that rewriting touches nothing else (no registry needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainwarden.models import Digest
from chainwarden.policy.interface import PolicyError
from chainwarden.policy.pin import (
    FileKind,
    Occurrence,
    PinResult,
    Status,
    apply_pins,
    dockerfile_references,
    yaml_references,
)

DIGEST = Digest("sha256:" + "ab" * 32)


def pin_all(text: str, occurrences: list[Occurrence]) -> str:
    results = [PinResult(o, Status.PINNED, DIGEST, None, "") for o in occurrences if o.offset is not None]
    return apply_pins(text, results)


def test_crlf_bom_and_backtick_continuations_survive() -> None:
    text = "\ufeff# escape=`\r\nFROM `\r\n  reg.example/a:1 AS x\r\nRUN echo `\r\n  hi\r\nFROM x\r\nFROM reg.example/b:2\r\n"
    found = dockerfile_references(text, "Dockerfile")
    assert [(o.line, o.text) for o in found] == [(3, "reg.example/a:1"), (7, "reg.example/b:2")]
    assert pin_all(text, found) == text.replace("a:1 ", f"a:1@{DIGEST} ").replace("b:2\r", f"b:2@{DIGEST}\r")


def test_stage_names_numbers_scratch_and_platform_flags_are_not_images() -> None:
    text = (
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
        "FROM scratch\n"
        "COPY --from=build /a /a\n"
        "COPY --from=0 /b /b\n"
        "COPY --from=later /c /c\n"
        "RUN --mount=type=cache,target=/root/.cache go build\n"
        "FROM alpine:3 AS later\n"
    )
    found = dockerfile_references(text, "Dockerfile")
    assert [(o.line, o.context, o.text) for o in found] == [(1, "FROM", "golang:1.22"), (7, "FROM", "alpine:3")]


def test_arg_default_pinned_only_when_it_feeds_from_alone() -> None:
    text = 'ARG A="reg.example/a:1"\nARG B=reg.example/b:1\nARG C\nFROM $A\nFROM ${B}\nARG B\nRUN echo $B\nFROM $C\n'
    found = {o.context: o for o in dockerfile_references(text, "Dockerfile")}
    assert found["ARG A"].offset is not None and found["ARG A"].text == "reg.example/a:1"
    assert found["ARG B"].skip_reason == "ARG B is also used inside a stage"
    assert found["FROM"].skip_reason == "ARG C has no default"
    assert pin_all(text, list(found.values())).startswith(f'ARG A="reg.example/a:1@{DIGEST}"\n')


def test_yaml_flow_and_block_scalars(tmp_path: Path) -> None:
    text = "kind: List\napiVersion: v1\nitems:\n- kind: Pod\n  spec:\n    containers:\n    - image: >-\n        x:1\n    - {image: y:2}\n"
    kind, found = yaml_references(text, "k.yaml", tmp_path / "k.yaml")
    assert kind is FileKind.KUBERNETES
    assert [(o.text, o.skip_reason) for o in found] == [("x:1", "not a simple scalar"), ("y:2", None)]
    assert pin_all(text, found) == text.replace("y:2}", f"y:2@{DIGEST}}}")


def test_unrelated_yaml_is_ignored(tmp_path: Path) -> None:
    assert yaml_references("a: 1\nimage: x:1\n", "x.yaml", tmp_path / "x.yaml") == (None, [])


def test_malformed_yaml_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="malformed YAML"):
        yaml_references("kind: [\n", "bad.yaml", tmp_path / "bad.yaml")


@given(st.text(max_size=300))
def test_parser_never_raises_and_rewrites_only_references(text: str) -> None:
    found = dockerfile_references(text, "Dockerfile")
    pinned = pin_all(text, found)
    assert len(pinned) == len(text) + sum(len("@" + DIGEST) for o in found if o.offset is not None)
