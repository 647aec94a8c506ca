"""The admission decision function with a fake verifier and resolver (unit level: no registry)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from chainwarden.models import Digest
from chainwarden.policy.admit import (
    Decider,
    DecisionCache,
    ImageDecision,
    Mode,
    Policy,
    decide,
    glob_matches,
    load_policy,
    parse_policy,
)
from chainwarden.policy.interface import Authority, PolicyError, SignatureCheck
from chainwarden.policy.resolve import Resolver

DIGEST = Digest("sha256:" + "1" * 64)
OTHER = Digest("sha256:" + "2" * 64)
PROVENANCE = {
    "_type": "https://in-toto.io/Statement/v1",
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {"buildDefinition": {"buildType": "https://example.com/build/v1"}, "runDetails": {"builder": {}}},
}


class FakeVerifier:
    """Signatures by authority name, per digest: what a real verifier would have found."""

    def __init__(self, signed: Mapping[tuple[str, str], int], statements: Mapping[str, list[Any]]) -> None:
        self.signed = signed
        self.statements = statements
        self.calls = 0

    def verify_signatures(self, image: str, digest: Digest, authority: Authority) -> SignatureCheck:
        self.calls += 1
        count = self.signed.get((authority.name, digest), 0)
        reason = None if count >= authority.threshold else f"{count} of {authority.threshold} required verified"
        return SignatureCheck(count, reason)

    def verify_attestations(
        self, image: str, digest: Digest, authority: Authority, predicate_type: str
    ) -> SignatureCheck:
        found = [s for s in self.statements.get(authority.name, []) if s["predicateType"] == predicate_type]
        return SignatureCheck(len(found), None if found else "no attestations found", tuple(found))


def policy(data: dict[str, Any], tmp_path: Path) -> Policy:
    (tmp_path / "cosign.pub").write_text("-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n")
    return parse_policy(data, "policy.yaml", tmp_path, "sha256:p")


def decider(p: Policy, verifier: FakeVerifier | None = None, cache: DecisionCache | None = None) -> Decider:
    return Decider(p, Resolver(), verifier, None, cache)


RULES = {
    "mode": "enforce",
    "gates": {"digestPinned": True, "allowedRegistries": ["reg.example", "127.0.0.1:*"]},
    "images": [
        {
            "name": "release",
            "glob": "reg.example/team/**",
            "authorities": [{"name": "k", "key": {"path": "cosign.pub"}, "threshold": 2}],
            "attestations": [
                {
                    "name": "slsa",
                    "predicateType": "slsaprovenance1",
                    "conditions": [
                        {
                            "path": "buildDefinition.buildType",
                            "operator": "equals",
                            "value": "https://example.com/build/v1",
                        }
                    ],
                }
            ],
        },
        {
            "name": "labs",
            "glob": ["reg.example/labs/*"],
            "mode": "warn",
            "authorities": [{"name": "k", "key": {"path": "cosign.pub"}}],
        },
    ],
}


def test_everything_passes_with_reasons(tmp_path: Path) -> None:
    verifier = FakeVerifier({("k", DIGEST): 2}, {"k": [PROVENANCE]})
    decision = decide(f"reg.example/team/app:1@{DIGEST}", decider(policy(RULES, tmp_path), verifier))
    assert decision.allowed
    assert [(r.rule, r.passed) for r in decision.results] == [
        ("digest-pinned", True),
        ("allowed-registries", True),
        ("signature:release", True),
        ("attestation:release/slsa", True),
    ]


def test_threshold_condition_registry_and_pin_each_say_why(tmp_path: Path) -> None:
    wrong = {**PROVENANCE, "predicate": {"buildDefinition": {"buildType": "evil"}}}
    verifier = FakeVerifier({("k", DIGEST): 1}, {"k": [wrong]})
    decision = decide(f"reg.example/team/app@{DIGEST}", decider(policy(RULES, tmp_path), verifier))
    assert not decision.allowed
    messages = {r.rule: r.message for r in decision.results if not r.passed}
    assert messages["signature:release"] == "no authority verified: k: 1 of 2 required verified"
    assert "condition failed: buildDefinition.buildType equals" in messages["attestation:release/slsa"]
    assert "'evil'" in messages["attestation:release/slsa"]
    decision = decide(f"evil.example/team/app@{DIGEST}", decider(policy(RULES, tmp_path), verifier))
    assert {r.rule for r in decision.denials} == {"allowed-registries", "no-match"}


def test_warn_rule_admits_with_warnings_and_policy_warn_mode(tmp_path: Path) -> None:
    verifier = FakeVerifier({}, {})
    decision = decide(f"reg.example/labs/x@{DIGEST}", decider(policy(RULES, tmp_path), verifier))
    assert decision.allowed and [w.rule for w in decision.warnings] == ["signature:labs"]
    warn_all = policy({**RULES, "mode": "warn"}, tmp_path)
    decision = decide(f"reg.example/team/app@{DIGEST}", decider(warn_all, verifier))
    assert decision.allowed and {r.mode for r in decision.results} == {Mode.WARN}
    assert len(decision.warnings) == 2


def test_no_verifier_never_passes(tmp_path: Path) -> None:
    decision = decide(f"reg.example/team/app@{DIGEST}", decider(policy(RULES, tmp_path), None))
    assert not decision.allowed
    assert "no signature verifier" in decision.denials[0].message


def test_cache_is_keyed_by_digest_and_policy(tmp_path: Path) -> None:
    verifier = FakeVerifier({("k", DIGEST): 2, ("k", OTHER): 2}, {"k": [PROVENANCE]})
    now = [0.0]
    cache = DecisionCache(60, clock=lambda: now[0])
    d = decider(policy(RULES, tmp_path), verifier, cache)
    assert d.cached_until(f"reg.example/team/app@{DIGEST}") is None
    first = decide(f"reg.example/team/app@{DIGEST}", d)
    assert not first.cached
    now[0] = 10
    assert d.cached_until(f"reg.example/team/app@{DIGEST}") == 60  # stored at 0, kept 60 s
    assert d.cached_until(f"reg.example/team/app@{DIGEST}", first) == 60
    other = ImageDecision(first.image, first.resolved, Digest(OTHER), True, ())
    assert d.cached_until(f"reg.example/team/app@{DIGEST}", other) is None  # not what is cached
    assert d.cached_until("reg.example/team/app:1") is None  # the tag was never resolved
    assert d.cached_until("Not A Reference") == math.inf  # refused the same way, always
    calls = verifier.calls
    again = decide(f"reg.example/team/app:1@{DIGEST}", d)
    assert again.cached and again.allowed and verifier.calls == calls
    assert not decide(f"reg.example/team/app@{OTHER}", d).cached
    now[0] = 61
    assert not decide(f"reg.example/team/app@{DIGEST}", d).cached


@pytest.mark.parametrize(
    ("glob", "name", "expected"),
    [
        ("reg.example/team/**", "reg.example/team/a/b", True),
        ("reg.example/team/*", "reg.example/team/a/b", False),
        ("reg.example/team/*", "reg.example/team/a", True),
        ("127.0.0.1:*", "127.0.0.1:5000", True),
        ("reg.example/*", "reg.example.evil.com/x", False),
    ],
)
def test_globs(glob: str, name: str, expected: bool) -> None:
    assert glob_matches(glob, name) is expected


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"images": [{"glob": "x/*", "authorities": [{"key": {"path": "nope.pub"}}]}]}, "nope.pub: no such file"),
        ({"images": [{"glob": "x/*", "oops": 1}]}, "unknown key 'oops'"),
        ({"mode": "audit", "gates": {"digestPinned": True}}, "mode must be enforce or warn"),
        ({}, "checks nothing"),
        ({"images": [{"glob": "x/*", "attestations": [{"predicateType": "spdx"}]}]}, "need authorities"),
        ({"gates": {"vulnerabilities": {"failOn": "severe"}}}, "not a severity"),
        ({"gates": {"vulnerabilities": {"failOn": "high", "inUseOnly": True}}}, "needs a profile"),
        (
            {"images": [{"glob": "x/*", "authorities": [{"keyless": {"identity": "a"}}]}]},
            "'issuer' is required",
        ),
    ],
)
def test_policy_mistakes_are_named(document: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=message):
        policy(document, tmp_path)


def test_load_policy_hashes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("gates:\n  digestPinned: true\n")
    first = load_policy(path)
    path.write_text("gates:\n  digestPinned: true\n# changed\n")
    assert load_policy(path).digest != first.digest
