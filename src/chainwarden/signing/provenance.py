"""npm and PyPI publish provenance: fetch what the registry publishes, verify it offline, say who built it.

- **npm** serves ``GET {registry}/-/npm/v1/attestations/NAME@VERSION``:
  ``{"attestations": [{"predicateType", "bundle"}, …]}`` with a *publish*
  attestation (DSSE signed with the registry's own key, keyid ``SHA256:…``,
  listed by ``/-/npm/v1/keys``) and, when published with ``--provenance``, a
  keyless SLSA provenance bundle from the CI's Fulcio certificate. Both
  statements' subject must be ``pkg:npm/NAME@VERSION`` with the tarball's
  sha512 (the packument's ``dist.integrity``).
- **PyPI** (PEP 740) serves ``GET /integrity/NAME/VERSION/FILENAME/provenance``:
  attestation bundles grouped by Trusted Publisher (GitHub, GitLab, Google).
  Each attestation is turned back into the Sigstore bundle it is and verified
  keyless against the publisher's identity; its subject must be the file name
  with the file's sha256.

The answer per package version is *verified* (with repository, workflow and
commit from the Fulcio certificate), *none published* (a 404 is exactly that,
never an error), or *invalid* (something was published and does not verify:
the compromised-maintainer pattern).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx
from cryptography import x509

from chainwarden._internal.http import RetryPolicy, read_with_retries
from chainwarden.errors import NetworkError, SigningError, VerificationError
from chainwarden.signing import bundle as sigbundle
from chainwarden.signing import keys
from chainwarden.signing.trustroot import TrustedRoot

NPM_PUBLISH_PREDICATE = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
SLSA_PREDICATES = frozenset({"https://slsa.dev/provenance/v0.2", "https://slsa.dev/provenance/v1"})
PYPI_INTEGRITY_TYPE = "application/vnd.pypi.integrity.v1+json"
MAX_DOCUMENT = 16 * 1024 * 1024
#: CI issuers whose certificates name a repository and workflow.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
GOOGLE_ISSUER = "https://accounts.google.com"
CI_ISSUERS = frozenset({GITHUB_ISSUER, GITLAB_ISSUER})

# Fulcio certificate extensions (sigstore/fulcio docs/oid-info.md)
_OID_SOURCE_REPO_URI = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.12")
_OID_SOURCE_REPO_DIGEST = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.13")
_OID_BUILD_CONFIG_URI = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.18")
_OID_GITHUB_REPOSITORY = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.5")
_OID_GITHUB_WORKFLOW_SHA = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.3")
_OID_GITHUB_WORKFLOW_NAME = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.4")


class ProvenanceStatus(enum.StrEnum):
    VERIFIED = "verified"
    NONE = "none"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Provenance:
    """The verdict on one package version's published provenance."""

    ecosystem: str  # "npm" | "pypi"
    name: str
    version: str
    status: ProvenanceStatus
    repository: str | None = None
    workflow: str | None = None
    commit: str | None = None
    issuer: str | None = None
    reason: str | None = None  # why invalid, or what "none" covers

    def describe(self) -> str:
        if self.status is ProvenanceStatus.VERIFIED:
            where = " ".join(
                part for part in (self.repository, self.workflow, self.commit and self.commit[:12]) if part
            )
            return f"verified ({where})" if where else "verified"
        if self.status is ProvenanceStatus.NONE:
            return "none published" + (f" ({self.reason})" if self.reason else "")
        return f"invalid: {self.reason}"


@dataclass(frozen=True, slots=True)
class BuildIdentity:
    repository: str | None
    workflow: str | None
    commit: str | None
    issuer: str | None


# -- npm -------------------------------------------------------------------------------------------


def bundled_npm_keys() -> dict[str, keys.PublicKey]:
    """npm registry signing keys shipped with chainwarden (keyid → key); see data/sigstore/README.md."""
    data = resources.files("chainwarden").joinpath("data/sigstore/npm-registry-keys.json").read_bytes()
    return parse_npm_keys(json.loads(data), "bundled npm-registry-keys.json")


def parse_npm_keys(document: object, where: str) -> dict[str, keys.PublicKey]:
    """``/-/npm/v1/keys``: ``{"keys": [{"keyid": "SHA256:…", "key": "<base64 DER SPKI>", …}]}``."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SigningError(f"{where}: not an npm keys document")
    result: dict[str, keys.PublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("keyid"), str):
            continue
        try:
            der = base64.b64decode(str(entry.get("key", "")), validate=True)
            pem = b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"
            result[entry["keyid"]] = keys.load_public_key(pem, where)
        except (binascii.Error, ValueError, SigningError):
            continue
    return result


def npm_attestations_url(registry: str, name: str, version: str) -> str:
    quoted = urllib.parse.quote(name, safe="@")
    return f"{registry.rstrip('/')}/-/npm/v1/attestations/{quoted}@{urllib.parse.quote(version)}"


def fetch_json(
    client: httpx.Client, url: str, accept: str = "application/json", retry: RetryPolicy | None = None
) -> Any | None:
    """The JSON document at ``url``; None on 404 ("none published"). Size-bounded, one line on failure.

    A connection error, a 429/5xx answer or a body cut mid-way is retried, as
    ``retry`` says (the shared policy by default).
    """

    def send() -> httpx.Response:
        return client.send(client.build_request("GET", url, headers={"Accept": accept}), stream=True)

    def read(response: httpx.Response) -> bytes | None:
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise NetworkError(f"{url}: HTTP {response.status_code}")
        chunks, total = [], 0
        for chunk in response.iter_bytes(1 << 16):
            total += len(chunk)
            if total > MAX_DOCUMENT:
                raise NetworkError(f"{url}: answer larger than {MAX_DOCUMENT} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        body = read_with_retries(send, read, retry or RetryPolicy())
    except httpx.TransportError as exc:
        raise NetworkError(f"{url}: {type(exc).__name__}: {exc}") from exc
    if body is None:
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _MalformedDocument(url)


@dataclass(frozen=True, slots=True)
class _MalformedDocument:
    url: str


def npm_purl(name: str, version: str) -> str:
    """``pkg:npm/NAME@VERSION`` as npm writes the subject (the scope's ``@`` percent-encoded)."""
    return f"pkg:npm/{name.replace('@', '%40', 1) if name.startswith('@') else name}@{version}"


def verify_npm(
    document: object,
    name: str,
    version: str,
    integrity: str,
    *,
    npm_keys: Mapping[str, keys.PublicKey],
    trusted_root: TrustedRoot,
) -> Provenance:
    """Verify npm's attestations document for ``name@version`` whose ``dist.integrity`` is ``integrity``."""

    def invalid(reason: str) -> Provenance:
        return Provenance("npm", name, version, ProvenanceStatus.INVALID, reason=reason)

    if document is None:
        return Provenance("npm", name, version, ProvenanceStatus.NONE)
    if isinstance(document, _MalformedDocument):
        return invalid("attestations document is not JSON")
    algorithm, _, encoded = integrity.partition("-")
    try:
        sha512 = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        sha512 = b""
    if algorithm != "sha512" or len(sha512) != 64:
        return invalid(f"packument integrity {integrity[:20]!r} is not sha512")
    attestations = document.get("attestations") if isinstance(document, dict) else None
    if not isinstance(attestations, list) or not attestations:
        return invalid("attestations document lists no attestations")
    identity: BuildIdentity | None = None
    published = False
    for index, item in enumerate(attestations):
        label = f"npm:{name}@{version} attestation {index}"
        if not isinstance(item, dict) or not isinstance(item.get("bundle"), dict):
            return invalid(f"{label} has no bundle")
        try:
            parsed = sigbundle.parse_bundle(json.dumps(item["bundle"]).encode(), label)
            if parsed.envelope is None:
                raise VerificationError(f"{label}: no DSSE envelope")
            predicate_type = _statement(parsed.envelope, label).get("predicateType")
            if predicate_type == NPM_PUBLISH_PREDICATE:
                key = npm_keys.get(parsed.key_hint or "")
                if key is None:
                    raise VerificationError(f"{label}: signed by unknown npm registry key {parsed.key_hint!r}")
                sigbundle.verify_with_key(parsed, None, key, trusted_root, require_tlog=True)
                statement = _check_npm_subject(parsed.envelope, name, version, sha512, label)
                predicate = statement.get("predicate")
                if not isinstance(predicate, dict) or (predicate.get("name"), predicate.get("version")) != (
                    name,
                    version,
                ):
                    raise VerificationError(f"{label}: publish predicate names another package")
                published = True
            elif predicate_type in SLSA_PREDICATES:
                identity = _verify_ci_bundle(parsed, trusted_root, label)
                _check_npm_subject(parsed.envelope, name, version, sha512, label)
            else:
                raise VerificationError(f"{label}: unknown predicate type {str(predicate_type)[:80]!r}")
        except VerificationError as exc:
            return invalid(exc.diagnostics())
    if identity is None:
        note = "registry publish attestation only, no build provenance" if published else None
        return Provenance("npm", name, version, ProvenanceStatus.NONE, reason=note)
    return Provenance(
        "npm",
        name,
        version,
        ProvenanceStatus.VERIFIED,
        identity.repository,
        identity.workflow,
        identity.commit,
        identity.issuer,
    )


def _statement(envelope: sigbundle.Envelope, label: str) -> dict[str, Any]:
    if envelope.payload_type != sigbundle.INTOTO_PAYLOAD_TYPE:
        raise VerificationError(f"{label}: payload is not an in-toto statement")
    try:
        statement = json.loads(envelope.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"{label}: statement is not JSON") from exc
    if not isinstance(statement, dict):
        raise VerificationError(f"{label}: statement is not an object")
    return statement


def _check_npm_subject(
    envelope: sigbundle.Envelope, name: str, version: str, sha512: bytes, label: str
) -> dict[str, Any]:
    statement = _statement(envelope, label)
    subjects = statement.get("subject")
    wanted = npm_purl(name, version)
    for subject in subjects if isinstance(subjects, list) else []:
        if not isinstance(subject, dict) or subject.get("name") != wanted:
            continue
        digest = subject.get("digest")
        if isinstance(digest, dict) and digest.get("sha512") == sha512.hex():
            return statement
        raise VerificationError(f"{label}: subject sha512 is not the tarball's (dist.integrity)")
    raise VerificationError(f"{label}: no subject is {wanted}")


def _verify_ci_bundle(parsed: sigbundle.ParsedBundle, trusted_root: TrustedRoot, label: str) -> BuildIdentity:
    """A keyless bundle from a CI: any identity, but a CI issuer; returns who built it."""
    if parsed.certificate is None:
        raise VerificationError(f"{label}: provenance is not signed by a Fulcio certificate")
    try:
        cert = x509.load_der_x509_certificate(parsed.certificate)
    except ValueError as exc:
        raise VerificationError(f"{label}: signing certificate is not DER X.509") from exc
    issuer = sigbundle.certificate_issuer(cert)
    if issuer not in CI_ISSUERS:
        raise VerificationError(f"{label}: provenance certificate issued for {issuer!r}, not a CI")
    sigbundle.verify_keyless(parsed, None, trusted_root, identity_regexp=r".+", issuer=issuer)
    return build_identity(cert)


def build_identity(cert: x509.Certificate) -> BuildIdentity:
    """Repository, workflow and commit from the Fulcio extensions (v2 first, then v1)."""
    repository = _extension(cert, _OID_SOURCE_REPO_URI, der=True) or _extension(cert, _OID_GITHUB_REPOSITORY)
    if repository and repository.startswith("https://github.com/"):
        repository = repository.removeprefix("https://github.com/")
    workflow = _extension(cert, _OID_BUILD_CONFIG_URI, der=True)
    if workflow is None:
        name = _extension(cert, _OID_GITHUB_WORKFLOW_NAME)
        sans = [str(v) for v in _sans(cert)]
        workflow = next((s.split("/.github/workflows/", 1)[1] for s in sans if "/.github/workflows/" in s), name)
    elif "/.github/workflows/" in workflow:
        workflow = workflow.split("/.github/workflows/", 1)[1]
    commit = _extension(cert, _OID_SOURCE_REPO_DIGEST, der=True) or _extension(cert, _OID_GITHUB_WORKFLOW_SHA)
    return BuildIdentity(repository, workflow, commit, sigbundle.certificate_issuer(cert))


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.UniformResourceIdentifier), *san.get_values_for_type(x509.RFC822Name)]


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier, *, der: bool = False) -> str | None:
    try:
        value = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    if der and raw[:1] == b"\x0c":
        length, offset = raw[1], 2
        if length & 0x80:
            count = length & 0x7F
            length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
        return raw[offset : offset + length].decode("utf-8", "replace")
    return raw.decode("utf-8", "replace") or None


# -- PyPI (PEP 740) ------------------------------------------------------------------------------------


def pypi_provenance_url(base: str, name: str, version: str, filename: str) -> str:
    """PyPI's integrity API URL; ``base`` is the index host root (``https://pypi.org``)."""
    quoted = [urllib.parse.quote(part, safe="") for part in (name, version, filename)]
    return f"{base.rstrip('/')}/integrity/{quoted[0]}/{quoted[1]}/{quoted[2]}/provenance"


def attestation_to_bundle(attestation: Mapping[str, Any], label: str) -> bytes:
    """A PEP 740 attestation object as the Sigstore bundle v0.3 it encodes (pypi-attestations' ``to_bundle``)."""
    try:
        material = attestation["verification_material"]
        envelope = attestation["envelope"]
        document: dict[str, Any] = {
            "mediaType": sigbundle.MEDIA_V03,
            "verificationMaterial": {
                "certificate": {"rawBytes": material["certificate"]},
                "tlogEntries": list(material["transparency_entries"]),
            },
            "dsseEnvelope": {
                "payload": envelope["statement"],
                "payloadType": sigbundle.INTOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": envelope["signature"]}],
            },
        }
        timestamps = material.get("timestamps")
        if timestamps:
            document["verificationMaterial"]["timestampVerificationData"] = {
                "rfc3161Timestamps": [{"signedTimestamp": t} for t in timestamps]
            }
    except (KeyError, TypeError) as exc:
        raise VerificationError(f"{label}: not a PEP 740 attestation object") from exc
    return json.dumps(document).encode()


def publisher_policy(publisher: Mapping[str, Any], label: str) -> tuple[str | None, str | None, str]:
    """(identity, identity regexp, issuer) a Trusted Publisher's certificates must carry."""
    kind = publisher.get("kind")
    if kind == "GitHub":
        repository, workflow = publisher.get("repository"), publisher.get("workflow")
        if not isinstance(repository, str) or not isinstance(workflow, str):
            raise VerificationError(f"{label}: GitHub publisher without repository/workflow")
        pattern = rf"https://github\.com/{re.escape(repository)}/\.github/workflows/{re.escape(workflow)}@.+"
        return None, pattern, GITHUB_ISSUER
    if kind == "GitLab":
        repository, path = publisher.get("repository"), publisher.get("workflow_filepath")
        if not isinstance(repository, str) or not isinstance(path, str):
            raise VerificationError(f"{label}: GitLab publisher without repository/workflow_filepath")
        return None, rf"https://gitlab\.com/{re.escape(repository)}//{re.escape(path)}@.+", GITLAB_ISSUER
    if kind == "Google":
        email = publisher.get("email")
        if not isinstance(email, str):
            raise VerificationError(f"{label}: Google publisher without email")
        return email, None, GOOGLE_ISSUER
    raise VerificationError(f"{label}: unsupported Trusted Publisher kind {str(kind)[:40]!r}")


def verify_pypi(
    document: object, name: str, version: str, filename: str, sha256: str, *, trusted_root: TrustedRoot
) -> Provenance:
    """Verify a PEP 740 provenance object for one distribution file with the given sha256 (hex)."""

    def invalid(reason: str) -> Provenance:
        return Provenance("pypi", name, version, ProvenanceStatus.INVALID, reason=reason)

    if document is None:
        return Provenance("pypi", name, version, ProvenanceStatus.NONE)
    if isinstance(document, _MalformedDocument):
        return invalid("provenance is not JSON")
    bundles = document.get("attestation_bundles") if isinstance(document, dict) else None
    if not isinstance(document, dict) or document.get("version") != 1 or not isinstance(bundles, list) or not bundles:
        return invalid("not a PEP 740 provenance object (version 1 with attestation_bundles)")
    identity: BuildIdentity | None = None
    artifact = sigbundle.Artifact.from_digest(f"sha256:{sha256}")
    try:
        for b_index, group in enumerate(bundles):
            label = f"pypi:{filename} bundle {b_index}"
            publisher = group.get("publisher") if isinstance(group, dict) else None
            attestations = group.get("attestations") if isinstance(group, dict) else None
            if not isinstance(publisher, dict) or not isinstance(attestations, list) or not attestations:
                raise VerificationError(f"{label}: lacks publisher or attestations")
            exact, pattern, issuer = publisher_policy(publisher, label)
            for a_index, attestation in enumerate(attestations):
                a_label = f"{label} attestation {a_index}"
                if not isinstance(attestation, dict):
                    raise VerificationError(f"{a_label}: not an object")
                parsed = sigbundle.parse_bundle(attestation_to_bundle(attestation, a_label), a_label)
                sigbundle.verify_keyless(
                    parsed, artifact, trusted_root, identity=exact, identity_regexp=pattern, issuer=issuer
                )
                assert parsed.envelope is not None
                assert parsed.certificate is not None
                statement = _statement(parsed.envelope, a_label)
                if not any(
                    isinstance(s, dict) and _same_filename(str(s.get("name")), filename)
                    for s in statement.get("subject", [])
                ):
                    raise VerificationError(f"{a_label}: subject does not name {filename}")
                found = build_identity(x509.load_der_x509_certificate(parsed.certificate))
                if publisher.get("kind") == "Google":
                    found = BuildIdentity(exact, None, None, issuer)
                identity = identity or found
    except VerificationError as exc:
        return invalid(exc.diagnostics())
    assert identity is not None
    return Provenance(
        "pypi",
        name,
        version,
        ProvenanceStatus.VERIFIED,
        identity.repository,
        identity.workflow,
        identity.commit,
        identity.issuer,
    )


def _same_filename(subject: str, filename: str) -> bool:
    # PEP 740: the subject names the distribution; wheel/sdist names compare after normalisation
    return subject == filename or subject.lower().replace("-", "_") == filename.lower().replace("-", "_")


# -- checking package versions against their registries --------------------------------------------------

RULE_INVALID = "provenance-invalid"
RULE_NONE = "provenance-none"
RULE_VERIFIED = "provenance-verified"
RULE_LOST = "provenance-lost"
DEFAULT_NPM = "https://registry.npmjs.org"
DEFAULT_PYPI = "https://pypi.org/simple"
PEP691_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True, slots=True)
class PackageVersion:
    ecosystem: str  # "npm" | "pypi"
    name: str
    version: str


class ProvenanceChecker:
    """Fetches and verifies provenance for package versions from one npm registry and one PyPI index.

    Every request has a timeout. A 404 anywhere means "none published". The
    npm registry's ``/-/npm/v1/keys`` is used when it answers, the bundled keys otherwise.
    """

    def __init__(
        self,
        trusted_root: TrustedRoot,
        *,
        npm_url: str = DEFAULT_NPM,
        pypi_url: str = DEFAULT_PYPI,
        timeout: float = 15.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.trusted_root = trusted_root
        self.npm_url = npm_url.rstrip("/")
        self.pypi_url = pypi_url.rstrip("/")
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True)
        self._own_client = client is None
        self._npm_keys: dict[str, keys.PublicKey] | None = None

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> ProvenanceChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def npm_keys(self) -> dict[str, keys.PublicKey]:
        if self._npm_keys is None:
            document = fetch_json(self._client, f"{self.npm_url}/-/npm/v1/keys")
            fetched = parse_npm_keys(document, "npm keys") if isinstance(document, dict) else {}
            self._npm_keys = {**bundled_npm_keys(), **fetched}
        return self._npm_keys

    def check(self, package: PackageVersion) -> Provenance:
        if package.ecosystem == "npm":
            return self.check_npm(package.name, package.version)
        if package.ecosystem == "pypi":
            return self.check_pypi(package.name, package.version)
        raise SigningError(f"{package.ecosystem}: no publish provenance in this ecosystem")

    def check_npm(self, name: str, version: str) -> Provenance:
        packument = fetch_json(self._client, f"{self.npm_url}/{urllib.parse.quote(name, safe='@')}")
        versions = packument.get("versions") if isinstance(packument, dict) else None
        manifest = versions.get(version) if isinstance(versions, dict) else None
        dist = manifest.get("dist") if isinstance(manifest, dict) else None
        integrity = dist.get("integrity") if isinstance(dist, dict) else None
        if not isinstance(integrity, str):
            return Provenance("npm", name, version, ProvenanceStatus.NONE, reason="version not found on the registry")
        document = fetch_json(self._client, npm_attestations_url(self.npm_url, name, version))
        return verify_npm(document, name, version, integrity, npm_keys=self.npm_keys(), trusted_root=self.trusted_root)

    def check_pypi(self, name: str, version: str) -> Provenance:
        """Every file of ``name==version``; the verdict is the worst file's (one invalid file taints the release)."""
        normalized = re.sub(r"[-_.]+", "-", name).lower()
        page_url = f"{self.pypi_url}/{normalized}/"
        page = fetch_json(self._client, page_url, PEP691_JSON)
        files = page.get("files") if isinstance(page, dict) else None
        if not isinstance(files, list):
            return Provenance("pypi", name, version, ProvenanceStatus.NONE, reason="project not found on the index")
        base = _index_root(self.pypi_url)
        results = []
        for entry in files:
            if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
                continue
            filename = entry["filename"]
            if _file_version(filename, normalized) != version:
                continue
            hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
            sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
            if not isinstance(sha256, str):
                results.append(
                    Provenance("pypi", name, version, ProvenanceStatus.INVALID, reason=f"{filename}: no sha256")
                )
                continue
            listed = entry.get("provenance")
            if listed is None and "provenance" in entry:
                results.append(Provenance("pypi", name, version, ProvenanceStatus.NONE))
                continue
            url = (
                str(httpx.URL(page_url).join(listed))
                if isinstance(listed, str)
                else pypi_provenance_url(base, normalized, version, filename)
            )
            document = fetch_json(self._client, url, PYPI_INTEGRITY_TYPE)
            results.append(verify_pypi(document, name, version, filename, sha256, trusted_root=self.trusted_root))
        if not results:
            return Provenance("pypi", name, version, ProvenanceStatus.NONE, reason="no files for this version")
        order = {ProvenanceStatus.INVALID: 0, ProvenanceStatus.NONE: 1, ProvenanceStatus.VERIFIED: 2}
        return min(results, key=lambda r: order[r.status])


def _index_root(simple_url: str) -> str:
    """``https://pypi.org/simple`` → ``https://pypi.org`` (the integrity API lives beside the simple index)."""
    return simple_url[: -len("/simple")] if simple_url.endswith("/simple") else simple_url


def _file_version(filename: str, normalized: str) -> str | None:
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(version) if name == normalized else None


def provenance_rule_infos() -> dict[str, Any]:
    """SARIF/docs metadata of the three provenance rules."""
    from chainwarden.models import Severity
    from chainwarden.report.interface import RuleInfo

    return {
        RULE_INVALID: RuleInfo(
            RULE_INVALID,
            "ProvenanceInvalid",
            "Published provenance does not verify",
            "The registry serves provenance for this version that fails verification (signature, certificate, "
            "transparency log, or a subject that is not this package): the pattern of a tampered or hijacked "
            "release. Do not install it; report it to the registry.",
            Severity.CRITICAL,
        ),
        RULE_NONE: RuleInfo(
            RULE_NONE,
            "ProvenanceNone",
            "No publish provenance",
            "Nothing ties this version to a source repository and build. Prefer versions published with "
            "provenance (npm publish --provenance, PyPI Trusted Publishing).",
            Severity.INFO,
        ),
        RULE_LOST: RuleInfo(
            RULE_LOST,
            "ProvenanceLost",
            "Update lost the provenance its predecessor had",
            "The previous version was built and published by a verified CI workflow; this one was not. That is "
            "the compromised-maintainer pattern: a stolen token publishing from outside the release pipeline.",
            Severity.HIGH,
        ),
        RULE_VERIFIED: RuleInfo(
            RULE_VERIFIED,
            "ProvenanceVerified",
            "Publish provenance verified",
            "The version's provenance verifies: it was built by the repository and workflow named.",
            Severity.INFO,
        ),
    }


def lost_provenance_finding(old: Provenance, new: Provenance) -> Any | None:
    """A high finding when ``new`` has no verified provenance although ``old`` had (None otherwise)."""
    from chainwarden.models import Finding, RuleId, Severity

    if old.status is not ProvenanceStatus.VERIFIED or new.status is ProvenanceStatus.VERIFIED:
        return None
    base = provenance_finding(new)
    return Finding(
        RuleId(RULE_LOST),
        Severity.HIGH,
        f"{new.ecosystem}:{new.name}: {old.version} had verified provenance ({old.describe()}), "
        f"{new.version} has {new.describe()}",
        base.package,
        None,
        tuple(f"{old.version}: {value}" for value in (old.repository, old.workflow, old.commit) if value),
        "Check with the maintainers how this version was published before installing it.",
    )


def provenance_finding(result: Provenance) -> Any:
    """The :class:`chainwarden.models.Finding` reporting ``result``."""
    from packageurl import PackageURL

    from chainwarden.models import Ecosystem, Finding, Package, RuleId, Severity

    ecosystem = Ecosystem.NPM if result.ecosystem == "npm" else Ecosystem.PYPI
    namespace, _, short = result.name.rpartition("/") if result.ecosystem == "npm" else ("", "", result.name)
    purl = PackageURL(type=ecosystem.value, namespace=namespace or None, name=short, version=result.version)
    package = Package(ecosystem, result.name, result.version, str(purl), "provenance")
    rule, severity = {
        ProvenanceStatus.INVALID: (RULE_INVALID, Severity.CRITICAL),
        ProvenanceStatus.NONE: (RULE_NONE, Severity.INFO),
        ProvenanceStatus.VERIFIED: (RULE_VERIFIED, Severity.INFO),
    }[result.status]
    evidence = tuple(
        f"{label}: {value}"
        for label, value in (
            ("repository", result.repository),
            ("workflow", result.workflow),
            ("commit", result.commit),
            ("issuer", result.issuer),
            ("reason", result.reason),
        )
        if value
    )
    remediation = (
        "Do not install this version; report it to the registry." if result.status is ProvenanceStatus.INVALID else None
    )
    return Finding(
        RuleId(rule),
        severity,
        f"{result.ecosystem}:{result.name}@{result.version}: provenance {result.describe()}",
        package,
        None,
        evidence,
        remediation,
    )
