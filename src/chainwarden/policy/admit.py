"""Admission policy: which images may run, and one decision function for the CLI and the webhook.

The policy file is modelled on what sigstore policy-controller (``ClusterImagePolicy``) and
Kyverno (``verifyImages``) users write — image globs → authorities (keys with a threshold,
keyless identity + issuer), required attestations by predicate type with simple conditions
on the predicate, ``mode: enforce|warn`` — plus chainwarden's own gates::

    apiVersion: chainwarden.dev/v1alpha1
    kind: AdmissionPolicy
    mode: enforce              # or warn: violations are reported, never denied
    noMatch: deny              # an image no rule's glob matches: deny | warn | allow
    mutate: false              # webhook only: rewrite tags to digests in the admitted object
    registryTimeout: 5         # seconds; keep it below the API server's webhook timeout
    cacheTTL: 300              # seconds a decision (per digest + policy hash) is reused
    gates:
      digestPinned: true       # references must carry @sha256:
      allowedRegistries: ["registry.example.com", "127.0.0.1:*"]
      vulnerabilities: {failOn: high, db: osv.sqlite3, inUseOnly: false, profile: profile.json}
      malicious: true          # no known-malicious package, no malicious-code heuristic finding
      provenance: true         # a verified SLSA provenance attestation from the rule's authorities
    images:
      - name: release
        glob: ["registry.example.com/team/**"]
        mode: warn             # optional, overrides the policy's mode for this rule
        authorities:
          - name: release-key
            key: {path: cosign.pub}
            threshold: 1
          - name: ci
            keyless: {identity: "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main",
                      issuer: "https://token.actions.githubusercontent.com"}
        attestations:
          - name: provenance
            predicateType: slsaprovenance
            conditions:
              - {path: buildDefinition.buildType, operator: equals, value: "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"}

Every rule of every matching image rule is evaluated and reported (a reason per rule);
the image is admitted when none fails, or when the failing rules are all in warn mode.
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chainwarden._internal.files import read_bounded
from chainwarden.errors import Error, UsageError
from chainwarden.models import Digest, Finding, Severity
from chainwarden.policy.interface import Authority, PolicyError, SignatureCheck, SignatureVerifier
from chainwarden.policy.resolve import ResolveFailure, Resolver
from chainwarden.sources.registry import DOCKER_HUB_NAMES, DOCKER_HUB_REGISTRY, ImageReference, parse_reference

MAX_POLICY = 1024 * 1024
PREDICATE_TYPES = {
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "cyclonedx": "https://cyclonedx.org/bom",
    "spdx": "https://spdx.dev/Document",
    "spdxjson": "https://spdx.dev/Document",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "openvex": "https://openvex.dev/ns",
    "custom": "https://cosign.sigstore.dev/attestation/v1",
}
PROVENANCE_TYPES = ("https://slsa.dev/provenance/v1", "https://slsa.dev/provenance/v0.2")
OPERATORS = ("equals", "notequals", "in", "notin", "exists", "matches")


class Mode(enum.StrEnum):
    ENFORCE = "enforce"
    WARN = "warn"


class NoMatch(enum.StrEnum):
    DENY = "deny"
    WARN = "warn"
    ALLOW = "allow"


@dataclass(frozen=True, slots=True)
class Condition:
    """``path`` (dotted, into the predicate) ``operator`` ``value``."""

    path: str
    operator: str
    value: Any = None

    def holds(self, predicate: Any) -> tuple[bool, str]:
        found, actual = _lookup(predicate, self.path)
        shown = f"{self.path}={actual!r}" if found else f"{self.path} missing"
        if self.operator == "exists":
            return found == bool(self.value if self.value is not None else True), shown
        if not found:
            return False, shown
        if self.operator == "equals":
            return actual == self.value, shown
        if self.operator == "notequals":
            return actual != self.value, shown
        if self.operator == "in":
            return actual in self.value, shown
        if self.operator == "notin":
            return actual not in self.value, shown
        return isinstance(actual, str) and re.fullmatch(str(self.value), actual) is not None, shown

    def __str__(self) -> str:
        return f"{self.path} {self.operator} {self.value!r}" if self.operator != "exists" else f"{self.path} exists"


@dataclass(frozen=True, slots=True)
class AttestationRequirement:
    name: str
    predicate_type: str
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageRule:
    name: str
    globs: tuple[str, ...]
    authorities: tuple[Authority, ...] = ()
    attestations: tuple[AttestationRequirement, ...] = ()
    mode: Mode | None = None

    def matches(self, name: str) -> bool:
        return any(glob_matches(glob, name) for glob in self.globs)


@dataclass(frozen=True, slots=True)
class VulnerabilityGate:
    fail_on: Severity
    db: Path | None = None
    in_use_only: bool = False
    profile: Path | None = None


@dataclass(frozen=True, slots=True)
class Gates:
    digest_pinned: bool = False
    allowed_registries: tuple[str, ...] = ()
    vulnerabilities: VulnerabilityGate | None = None
    malicious: bool = False
    provenance: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    mode: Mode
    rules: tuple[ImageRule, ...]
    gates: Gates
    no_match: NoMatch = NoMatch.DENY
    mutate: bool = False
    registry_timeout: float = 5.0
    cache_ttl: float = 300.0
    digest: str = ""  # sha256 of the policy file: part of every cache key
    source: str = ""

    def needs_verifier(self) -> bool:
        return self.gates.provenance or any(rule.authorities or rule.attestations for rule in self.rules)


# -- loading -----------------------------------------------------------------------------------


def _check_keys(value: Any, where: str, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected a mapping")
    allowed_set = set(allowed)
    unknown = sorted(str(k) for k in value if k not in allowed_set)
    if unknown:
        raise PolicyError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed_set))})")
    for key in required:
        if key not in value:
            raise PolicyError(f"{where}: {key!r} is required")
    return value


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{where}: expected a string or a non-empty list of strings")
    return tuple(value)


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PolicyError(f"{where}: expected a number between {low:g} and {high:g}")
    return float(value)


def _mode(value: Any, where: str) -> Mode:
    try:
        return Mode(str(value).lower())
    except ValueError as exc:
        raise PolicyError(f"{where}: mode must be enforce or warn, not {value!r}") from exc


def predicate_type_uri(name: str, where: str) -> str:
    if name.lower() in PREDICATE_TYPES:
        return PREDICATE_TYPES[name.lower()]
    if "://" in name and " " not in name:
        return name
    raise PolicyError(
        f"{where}: predicateType {name!r} is neither a known name ({', '.join(PREDICATE_TYPES)}) nor a URI"
    )


def _authority(value: Any, where: str, base: Path) -> Authority:
    data = _check_keys(value, where, ("name", "key", "keyless", "threshold"))
    name = str(data.get("name") or where)
    threshold = int(_number(data.get("threshold", 1), f"{where}.threshold", 1, 100))
    if ("key" in data) == ("keyless" in data):
        raise PolicyError(f"{where}: give exactly one of key or keyless")
    if "key" in data:
        key = _check_keys(data["key"], f"{where}.key", ("path", "data"))
        if "path" in key:
            path = Path(str(key["path"]))
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise PolicyError(f"{where}.key.path: {path}: no such file")
            return Authority(name, key_path=str(path), threshold=threshold)
        if isinstance(key.get("data"), str) and "PUBLIC KEY" in key["data"]:
            digest = hashlib.sha256(key["data"].encode()).hexdigest()[:12]
            return Authority(name, key_path=f"inline:{digest}", key_data=key["data"], threshold=threshold)
        raise PolicyError(f"{where}.key: give path (a PEM public key file) or data (the PEM text)")
    keyless = _check_keys(data["keyless"], f"{where}.keyless", ("identity", "identityRegExp", "issuer"), ("issuer",))
    if not (keyless.get("identity") or keyless.get("identityRegExp")):
        raise PolicyError(f"{where}.keyless: identity or identityRegExp is required")
    if keyless.get("identityRegExp"):
        try:
            re.compile(str(keyless["identityRegExp"]))
        except re.error as exc:
            raise PolicyError(f"{where}.keyless.identityRegExp: {exc}") from exc
    return Authority(
        name,
        identity=keyless.get("identity"),
        identity_regexp=keyless.get("identityRegExp"),
        issuer=str(keyless["issuer"]),
        threshold=threshold,
    )


def _condition(value: Any, where: str) -> Condition:
    data = _check_keys(value, where, ("path", "operator", "value"), ("path", "operator"))
    operator = str(data["operator"]).lower()
    if operator not in OPERATORS:
        raise PolicyError(f"{where}.operator: {operator!r} is not one of {', '.join(OPERATORS)}")
    if operator in ("in", "notin") and not isinstance(data.get("value"), list):
        raise PolicyError(f"{where}.value: {operator} needs a list")
    if operator == "matches":
        try:
            re.compile(str(data.get("value")))
        except re.error as exc:
            raise PolicyError(f"{where}.value: {exc}") from exc
    if operator not in ("exists",) and "value" not in data:
        raise PolicyError(f"{where}: {operator} needs a value")
    return Condition(str(data["path"]), operator, data.get("value"))


def parse_policy(data: Any, source: str, base: Path, digest: str = "") -> Policy:
    """Validate a policy document (already parsed YAML/JSON); every mistake names its place."""
    top = _check_keys(
        data,
        source,
        ("apiVersion", "kind", "mode", "noMatch", "mutate", "registryTimeout", "cacheTTL", "gates", "images"),
    )
    if top.get("kind", "AdmissionPolicy") != "AdmissionPolicy":
        raise PolicyError(f"{source}: kind must be AdmissionPolicy")
    gates_data = _check_keys(
        top.get("gates", {}) or {},
        f"{source}: gates",
        ("digestPinned", "allowedRegistries", "vulnerabilities", "malicious", "provenance"),
    )
    vulnerabilities = None
    if gates_data.get("vulnerabilities"):
        vuln = _check_keys(
            gates_data["vulnerabilities"],
            f"{source}: gates.vulnerabilities",
            ("failOn", "db", "inUseOnly", "profile"),
            ("failOn",),
        )
        try:
            fail_on = Severity(str(vuln["failOn"]).lower())
        except ValueError as exc:
            raise PolicyError(f"{source}: gates.vulnerabilities.failOn: {vuln['failOn']!r} is not a severity") from exc

        def resolved(key: str) -> Path | None:
            if not vuln.get(key):
                return None
            path = Path(str(vuln[key]))
            return path if path.is_absolute() else base / path

        if vuln.get("inUseOnly") and not vuln.get("profile"):
            raise PolicyError(f"{source}: gates.vulnerabilities.inUseOnly needs a profile (chainwarden profile)")
        vulnerabilities = VulnerabilityGate(fail_on, resolved("db"), bool(vuln.get("inUseOnly")), resolved("profile"))
    gates = Gates(
        digest_pinned=bool(gates_data.get("digestPinned", False)),
        allowed_registries=_string_list(gates_data["allowedRegistries"], f"{source}: gates.allowedRegistries")
        if gates_data.get("allowedRegistries")
        else (),
        vulnerabilities=vulnerabilities,
        malicious=bool(gates_data.get("malicious", False)),
        provenance=bool(gates_data.get("provenance", False)),
    )
    rules: list[ImageRule] = []
    images = top.get("images", []) or []
    if not isinstance(images, list):
        raise PolicyError(f"{source}: images: expected a list")
    for index, item in enumerate(images):
        where = f"{source}: images[{index}]"
        rule = _check_keys(item, where, ("name", "glob", "authorities", "attestations", "mode"), ("glob",))
        name = str(rule.get("name") or f"images[{index}]")
        authorities = rule.get("authorities", []) or []
        attestations = rule.get("attestations", []) or []
        if not isinstance(authorities, list) or not isinstance(attestations, list):
            raise PolicyError(f"{where}: authorities and attestations are lists")
        parsed_attestations = []
        for number, attestation in enumerate(attestations):
            at = f"{where}.attestations[{number}]"
            spec = _check_keys(attestation, at, ("name", "predicateType", "conditions"), ("predicateType",))
            conditions = spec.get("conditions", []) or []
            if not isinstance(conditions, list):
                raise PolicyError(f"{at}.conditions: expected a list")
            parsed_attestations.append(
                AttestationRequirement(
                    str(spec.get("name") or spec["predicateType"]),
                    predicate_type_uri(str(spec["predicateType"]), at),
                    tuple(_condition(c, f"{at}.conditions[{i}]") for i, c in enumerate(conditions)),
                )
            )
        if parsed_attestations and not authorities:
            raise PolicyError(f"{where}: attestations need authorities to verify them against")
        rules.append(
            ImageRule(
                name,
                tuple(_canonical_glob(g) for g in _string_list(rule["glob"], f"{where}.glob")),
                tuple(_authority(a, f"{where}.authorities[{i}]", base) for i, a in enumerate(authorities)),
                tuple(parsed_attestations),
                _mode(rule["mode"], f"{where}.mode") if "mode" in rule else None,
            )
        )
    if gates.provenance and not any(rule.authorities for rule in rules):
        raise PolicyError(f"{source}: gates.provenance needs image rules with authorities to verify provenance")
    try:
        no_match = NoMatch(str(top.get("noMatch", "deny")).lower())
    except ValueError as exc:
        raise PolicyError(f"{source}: noMatch must be deny, warn or allow") from exc
    if not rules and not any((gates.digest_pinned, gates.allowed_registries, gates.vulnerabilities, gates.malicious)):
        raise PolicyError(f"{source}: the policy checks nothing (no images rules and no gates)")
    return Policy(
        mode=_mode(top.get("mode", "enforce"), f"{source}: mode"),
        rules=tuple(rules),
        gates=gates,
        no_match=no_match if rules else NoMatch.ALLOW,
        mutate=bool(top.get("mutate", False)),
        registry_timeout=_number(top.get("registryTimeout", 5), f"{source}: registryTimeout", 0.5, 30),
        cache_ttl=_number(top.get("cacheTTL", 300), f"{source}: cacheTTL", 0, 86400),
        digest=digest,
        source=source,
    )


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file (YAML or JSON)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    raw = read_bounded(path, MAX_POLICY, PolicyError, "policy")
    try:
        data = YAML(typ="safe", pure=True).load(raw.decode("utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: malformed policy ({str(exc).splitlines()[0]})") from exc
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    return parse_policy(data, str(path), path.resolve().parent, digest)


def _canonical_glob(glob: str) -> str:
    first, sep, rest = glob.partition("/")
    if sep and first.lower() in DOCKER_HUB_NAMES:
        return f"{DOCKER_HUB_REGISTRY}/{rest if '/' in rest or '*' in rest else 'library/' + rest}"
    if sep and not ("." in first or ":" in first or first == "localhost" or "*" in first):
        return f"{DOCKER_HUB_REGISTRY}/{glob}"
    return glob


def glob_matches(glob: str, name: str) -> bool:
    """policy-controller globs: ``*`` within one path component, ``**`` across components."""
    pattern = ""
    index = 0
    while index < len(glob):
        if glob.startswith("**", index):
            pattern += ".*"
            index += 2
        elif glob[index] == "*":
            pattern += "[^/]*"
            index += 1
        elif glob[index] == "?":
            pattern += "[^/]"
            index += 1
        else:
            pattern += re.escape(glob[index])
            index += 1
    return re.fullmatch(pattern, name) is not None


def _lookup(value: Any, path: str) -> tuple[bool, Any]:
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


# -- deciding ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's verdict on one image, with its reason."""

    rule: str  # "digest-pinned", "allowed-registries", "resolve", "no-match", "signature:<rule>/<authority>", …
    passed: bool
    mode: Mode
    message: str


@dataclass(frozen=True, slots=True)
class ImageDecision:
    image: str  # as given
    resolved: str | None  # registry/repo@sha256:…
    digest: Digest | None
    allowed: bool
    results: tuple[RuleResult, ...]
    cached: bool = False

    @property
    def denials(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed and r.mode is Mode.ENFORCE]

    @property
    def warnings(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed and r.mode is Mode.WARN]


@dataclass(frozen=True, slots=True)
class ContentReport:
    findings: tuple[Finding, ...]
    skipped: tuple[str, ...] = ()
    in_use_note: str | None = None  # why the in-use levels of the policy's profile were not applied


class ContentScanner(Protocol):
    """Findings about an image's content (vulnerabilities, malicious code), by digest."""

    def scan(self, reference: str, gates: Gates) -> ContentReport: ...


class DecisionCache:
    """Decisions keyed by (reference name, digest, policy digest), each kept ``ttl`` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10000) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: dict[tuple[str, str, str], tuple[float, ImageDecision]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> ImageDecision | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock() - entry[0] > self.ttl:
                return None
            return entry[1]

    def fresh_until(self, key: tuple[str, str, str]) -> float | None:
        """Until when (on the cache's clock) the decision cached for ``key`` stays fresh; None
        when none is."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock() - entry[0] > self.ttl:
                return None
            return entry[0] + self.ttl

    def now(self) -> float:
        return self._clock()

    def put(self, key: tuple[str, str, str], decision: ImageDecision) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max:
                now = self._clock()
                self._entries = {k: v for k, v in self._entries.items() if now - v[0] <= self.ttl}
                if len(self._entries) >= self._max:
                    self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (self._clock(), decision)


@dataclass
class Decider:
    """Everything :func:`decide` needs besides the policy, shared across calls (and threads)."""

    policy: Policy
    resolver: Resolver
    verifier: SignatureVerifier | None = None
    scanner: ContentScanner | None = None
    cache: DecisionCache | None = None
    _scan_lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, image: str) -> ImageDecision:
        return decide(image, self)

    def cached_until(self, image: str, decided: ImageDecision | None = None) -> float | None:
        """Until when (on the cache's clock) :meth:`decide` answers ``image`` from the caches
        alone, without any network request; None when it needs the registry now, or when
        the caches no longer hold the digest ``decided`` was made on.

        The tag's digest and the decision for that digest must both be cached: the earlier of
        their expiries bounds the answer (the resolver and the cache share the monotonic clock).
        """
        if self.cache is None:
            return None
        try:
            ref = parse_reference(image)
        except UsageError:
            return math.inf  # refused without any request, now and later
        until = math.inf
        digest = ref.digest
        if digest is None:
            peeked = self.resolver.peek(ref)
            if peeked is None:
                return None
            digest, until = peeked[0].digest, peeked[1]
        if decided is not None and decided.digest != digest:
            return None
        fresh = self.cache.fresh_until((f"{ref.registry}/{ref.repository}", str(digest), self.policy.digest))
        return None if fresh is None else min(until, fresh)

    def decide_all(self, images: Sequence[str]) -> list[ImageDecision]:
        return [decide(image, self) for image in images]


def _rule_mode(policy: Policy, rule: ImageRule | None) -> Mode:
    if policy.mode is Mode.WARN:
        return Mode.WARN
    return rule.mode if rule is not None and rule.mode is not None else policy.mode


def decide(image: str, decider: Decider) -> ImageDecision:
    """The admission decision for one image reference under ``decider.policy``.

    Never passes on nothing checked: a reference that cannot be parsed or resolved is
    denied (in enforce mode) with the reason, and a policy whose rules need a verifier
    or scanner that is not available is an error, not a pass.
    """
    policy = decider.policy
    mode = policy.mode
    try:
        ref = parse_reference(image)
    except UsageError as exc:
        result = RuleResult("reference", False, mode, exc.diagnostics())
        return ImageDecision(image, None, None, mode is Mode.WARN, (result,))
    name = f"{ref.registry}/{ref.repository}"
    results: list[RuleResult] = []
    if policy.gates.digest_pinned:
        results.append(
            RuleResult(
                "digest-pinned",
                ref.digest is not None,
                mode,
                "pinned by digest" if ref.digest else f"{image} is not pinned by digest (use chainwarden pin)",
            )
        )
    if policy.gates.allowed_registries:
        allowed = any(glob_matches(pattern, ref.registry) for pattern in policy.gates.allowed_registries)
        results.append(
            RuleResult(
                "allowed-registries",
                allowed,
                mode,
                f"registry {ref.registry} is allowed"
                if allowed
                else f"registry {ref.registry} is not one of {', '.join(policy.gates.allowed_registries)}",
            )
        )
    digest = ref.digest
    if digest is None:
        answer = decider.resolver.try_resolve(ref)
        if isinstance(answer, ResolveFailure):
            results.append(RuleResult("resolve", False, mode, f"cannot resolve {image}: {answer.reason}"))
            return _finish(image, None, None, results, policy)
        digest = answer.digest
    resolved = f"{name}@{digest}"
    key = (name, str(digest), policy.digest)
    if decider.cache is not None:
        cached = decider.cache.get(key)
        if cached is not None:
            # the name-only gates above were evaluated for this reference; the rest comes from the cache
            rest = [r for r in cached.results if r.rule not in ("digest-pinned", "allowed-registries")]
            return _finish(image, resolved, digest, results + rest, policy, cached=True)
    content_results = _content_results(ref, name, digest, decider)
    decision = _finish(image, resolved, digest, results + content_results, policy)
    if decider.cache is not None:
        decider.cache.put(key, decision)
    return decision


def _finish(
    image: str,
    resolved: str | None,
    digest: Digest | None,
    results: list[RuleResult],
    policy: Policy,
    *,
    cached: bool = False,
) -> ImageDecision:
    allowed = not any(not r.passed and r.mode is Mode.ENFORCE for r in results)
    return ImageDecision(image, resolved, digest, allowed, tuple(results), cached)


def _content_results(ref: ImageReference, name: str, digest: Digest, decider: Decider) -> list[RuleResult]:
    policy = decider.policy
    results: list[RuleResult] = []
    matching = [rule for rule in policy.rules if rule.matches(name)]
    subject = f"{name}@{digest}"
    if policy.rules and not matching:
        if policy.no_match is NoMatch.ALLOW:
            results.append(RuleResult("no-match", True, policy.mode, f"no image rule matches {name} (allowed)"))
        else:
            no_match_mode = Mode.WARN if policy.no_match is NoMatch.WARN else policy.mode
            results.append(RuleResult("no-match", False, no_match_mode, f"no image rule matches {name}"))
    for rule in matching:
        mode = _rule_mode(policy, rule)
        if rule.authorities:
            results.append(_signature_result(rule, subject, digest, decider, mode))
        for requirement in rule.attestations:
            results.append(_attestation_result(rule, requirement, subject, digest, decider, mode))
    if policy.gates.provenance:
        authorities = [a for rule in matching for a in rule.authorities]
        requirement = AttestationRequirement("provenance", PROVENANCE_TYPES[0])
        if not authorities:
            results.append(
                RuleResult("provenance", False, policy.mode, f"no image rule with authorities matches {name}")
            )
        else:
            outcomes = []
            for predicate_type in PROVENANCE_TYPES:
                requirement = AttestationRequirement("provenance", predicate_type)
                holder = ImageRule("provenance", (), tuple(authorities))
                outcomes.append(_attestation_result(holder, requirement, subject, digest, decider, policy.mode))
            passed = next((o for o in outcomes if o.passed), None)
            results.append(
                RuleResult("provenance", True, policy.mode, passed.message)
                if passed is not None
                else RuleResult(
                    "provenance",
                    False,
                    policy.mode,
                    "no verified SLSA provenance: " + "; ".join(o.message for o in outcomes),
                )
            )
    gates = policy.gates
    if gates.vulnerabilities is not None or gates.malicious:
        results.extend(_content_gates(subject, decider))
    return results


def _signature_result(rule: ImageRule, subject: str, digest: Digest, decider: Decider, mode: Mode) -> RuleResult:
    label = f"signature:{rule.name}"
    if decider.verifier is None:
        return RuleResult(label, False, mode, "no signature verifier available in this build")
    reasons = []
    for authority in rule.authorities:
        try:
            check = decider.verifier.verify_signatures(subject, digest, authority)
        except Error as exc:
            check = SignatureCheck(0, exc.diagnostics())
        if check.reason is None and check.verified >= authority.threshold:
            return RuleResult(label, True, mode, f"{check.verified} signature(s) verified by {authority.name}")
        reasons.append(f"{authority.name}: {check.reason or f'{check.verified} of {authority.threshold} verified'}")
    return RuleResult(label, False, mode, "no authority verified: " + "; ".join(reasons))


def _attestation_result(
    rule: ImageRule,
    requirement: AttestationRequirement,
    subject: str,
    digest: Digest,
    decider: Decider,
    mode: Mode,
) -> RuleResult:
    label = f"attestation:{rule.name}/{requirement.name}"
    if decider.verifier is None:
        return RuleResult(label, False, mode, "no signature verifier available in this build")
    reasons = []
    for authority in rule.authorities:
        try:
            check = decider.verifier.verify_attestations(subject, digest, authority, requirement.predicate_type)
        except Error as exc:
            check = SignatureCheck(0, exc.diagnostics())
        if check.verified < 1:  # the threshold counts image signatures; one verified attestation suffices
            reasons.append(f"{authority.name}: {check.reason or 'no verified attestation'}")
            continue
        for statement in check.statements:
            if statement.get("predicateType") != requirement.predicate_type:
                continue
            failed = []
            for condition in requirement.conditions:
                holds, shown = condition.holds(statement.get("predicate"))
                if not holds:
                    failed.append(f"{condition} ({shown})")
            if not failed:
                return RuleResult(
                    label, True, mode, f"{requirement.predicate_type} attestation verified by {authority.name}"
                )
            reasons.append(f"{authority.name}: condition failed: {', '.join(failed)}")
        if not check.statements:
            reasons.append(f"{authority.name}: no {requirement.predicate_type} statement")
    return RuleResult(label, False, mode, "; ".join(reasons) or "no authority")


def _content_gates(subject: str, decider: Decider) -> list[RuleResult]:
    policy = decider.policy
    gates = policy.gates
    mode = policy.mode
    if decider.scanner is None:
        message = "no content scanner available"
        results = []
        if gates.vulnerabilities is not None:
            results.append(RuleResult("vulnerabilities", False, mode, message))
        if gates.malicious:
            results.append(RuleResult("malicious", False, mode, message))
        return results
    try:
        report = decider.scanner.scan(subject, gates)
    except Error as exc:
        failed = f"cannot scan {subject}: {exc.diagnostics()}"
        results = []
        if gates.vulnerabilities is not None:
            results.append(RuleResult("vulnerabilities", False, mode, failed))
        if gates.malicious:
            results.append(RuleResult("malicious", False, mode, failed))
        return results
    results = []
    if gates.vulnerabilities is not None:
        threshold = gates.vulnerabilities.fail_on
        bad = [f for f in report.findings if f.rule_id == "vuln" and f.severity.at_least(threshold)]
        if gates.vulnerabilities.in_use_only:
            from chainwarden.models import InUse

            bad = [f for f in bad if (InUse.of(f) or InUse.UNKNOWN).in_use]
        scope = " in use" if gates.vulnerabilities.in_use_only else ""
        if bad:
            shown = ", ".join(f"{_finding_id(f)} ({f.severity.value})" for f in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            message = f"{len(bad)} vulnerabilities ≥ {threshold.value}{scope}: {shown}{more}"
        else:
            message = f"no vulnerability ≥ {threshold.value}{scope}"
        if gates.vulnerabilities.in_use_only and report.in_use_note:
            message += f" ({report.in_use_note})"
        results.append(RuleResult("vulnerabilities", not bad, mode, message))
    if gates.malicious:
        bad = [f for f in report.findings if f.rule_id != "vuln" and f.severity.at_least(Severity.HIGH)]
        if bad:
            shown = "; ".join(f"{f.rule_id}: {f.title}" for f in bad[:3])
            message = f"{len(bad)} malicious-code finding(s): {shown}"
        else:
            message = "no known-malicious package or malicious-code finding"
        results.append(RuleResult("malicious", not bad, mode, message))
    return results


def _finding_id(finding: Finding) -> str:
    from chainwarden.models import primary_vulnerability_id

    package = f"{finding.package.name}@{finding.package.version}: " if finding.package is not None else ""
    return package + (primary_vulnerability_id(finding.aliases) if finding.aliases else finding.title)


# -- report helpers -------------------------------------------------------------------------------


def decision_findings(decisions: Sequence[ImageDecision]) -> list[Finding]:
    """Failed rules as findings (for SARIF): enforce → high, warn → medium."""
    from chainwarden.models import Location, RuleId

    findings = []
    for decision in decisions:
        for result in decision.results:
            if result.passed:
                continue
            rule_id = RuleId("admit-" + result.rule.split(":", 1)[0])
            findings.append(
                Finding(
                    rule_id=rule_id,
                    severity=Severity.HIGH if result.mode is Mode.ENFORCE else Severity.MEDIUM,
                    title=f"{decision.image}: {result.message}",
                    location=Location(decision.image),
                    evidence=(result.rule,) + ((decision.resolved,) if decision.resolved else ()),
                )
            )
    return findings


def decision_document(decision: ImageDecision) -> Mapping[str, Any]:
    return {
        "image": decision.image,
        "resolved": decision.resolved,
        "digest": decision.digest,
        "allowed": decision.allowed,
        "cached": decision.cached,
        "rules": [
            {"rule": r.rule, "passed": r.passed, "mode": r.mode.value, "message": r.message} for r in decision.results
        ],
    }
