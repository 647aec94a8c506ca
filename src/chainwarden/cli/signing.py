"""``chainwarden keygen | sign | verify | attest | verify-attestation``: Sigstore-compatible signatures."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from chainwarden.cli.common import EXIT_CLEAN, EXIT_FINDINGS, emit, format_option, output_option
from chainwarden.errors import UsageError, VerificationError

F = TypeVar("F", bound=Callable[..., Any])

KEY_HELP = "Private key file as cosign writes it (password from CHAINWARDEN_PASSWORD/COSIGN_PASSWORD or a prompt)."


def verification_exit(func: F) -> F:
    """A :class:`VerificationError` escaping a command is a verdict (exit 1, one line), not a usage error."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VerificationError as exc:
            click.echo(f"chainwarden: verification failed: {exc.diagnostics()}", err=True)
            return EXIT_FINDINGS

    return wrapper  # type: ignore[return-value]


def _image_reference(image: str) -> str:
    return image.removeprefix("registry:")


@contextmanager
def _client(image: str, insecure_registry: bool) -> Iterator[Any]:
    from chainwarden.sources.registry import RegistryClient, parse_reference

    ref = parse_reference(_image_reference(image))
    with RegistryClient(ref, image, insecure=insecure_registry) as client:
        yield client


def _password(confirm: bool = False) -> bytes:
    from chainwarden.signing.keys import ENV_PASSWORDS, password_from_env

    password = password_from_env()
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise UsageError(f"no password: set {' or '.join(ENV_PASSWORDS)}, or run on a terminal to be prompted")
    text: str = click.prompt(
        "Enter password for private key", hide_input=True, confirmation_prompt=confirm, default="", show_default=False
    )
    return text.encode()


def _load_private_key(path: Path) -> Any:
    from chainwarden.signing.keys import MAX_KEY_FILE, load_private_key

    return load_private_key(_read(path, MAX_KEY_FILE), _password(), str(path))


def _read(path: Path, limit: int) -> bytes:
    from chainwarden._internal.files import read_bounded

    return read_bounded(path, limit, UsageError)


def _annotations(values: tuple[str, ...]) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--annotation")
        result[name] = text
    return result


def registry_option(func: F) -> F:
    return click.option(
        "--insecure-registry", is_flag=True, help="Allow plain http and unverified TLS to the registry (dangerous)."
    )(func)


def policy_options(func: F) -> F:
    """--key / --certificate-identity[-regexp] / --certificate-oidc-issuer / --trusted-root / --require-tlog."""
    options = [
        click.option(
            "--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), help="Public key (cosign.pub)."
        ),
        click.option("--certificate-identity", help="Keyless: the certificate's SAN (email or URI), exactly."),
        click.option("--certificate-identity-regexp", help="Keyless: a regular expression the SAN must fully match."),
        click.option("--certificate-oidc-issuer", help="Keyless: the OIDC issuer Fulcio recorded."),
        click.option(
            "--trusted-root",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="Sigstore trusted_root.json [default: the bundled public-good root].",
        ),
        click.option(
            "--require-tlog", is_flag=True, help="Reject signatures without a verified transparency log entry."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _policy(
    key_path: Path | None,
    certificate_identity: str | None,
    certificate_identity_regexp: str | None,
    certificate_oidc_issuer: str | None,
    trusted_root: Path | None,
    require_tlog: bool,
    annotations: dict[str, str],
) -> Any:
    from chainwarden.signing.cosign import VerifyPolicy
    from chainwarden.signing.keys import MAX_KEY_FILE, load_public_key
    from chainwarden.signing.trustroot import load_trusted_root

    if certificate_identity_regexp is not None:
        import re

        try:
            re.compile(certificate_identity_regexp)
        except re.error as exc:
            raise UsageError(f"--certificate-identity-regexp: {exc}") from exc
    key = load_public_key(_read(key_path, MAX_KEY_FILE), str(key_path)) if key_path is not None else None
    return VerifyPolicy(
        load_trusted_root(trusted_root),
        key=key,
        identity=certificate_identity,
        identity_regexp=certificate_identity_regexp,
        issuer=certificate_oidc_issuer,
        require_tlog=require_tlog,
        annotations=annotations,
    )


def _quiet_sigstore() -> None:
    # sigstore-python logs warnings (e.g. "bundle contains a root CA") that would
    # break the one-line-per-outcome promise; the verdict carries the reason
    import logging

    logging.getLogger("sigstore").setLevel(logging.ERROR)


# -- keygen ------------------------------------------------------------------------------------


@click.command()
@click.option("--output-key-prefix", default="cosign", show_default=True, help="Write PREFIX.key and PREFIX.pub.")
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
def keygen(output_key_prefix: str, force: bool) -> int:
    """Generate an ECDSA P-256 key pair exactly as `cosign generate-key-pair` writes it.

    The private key is encrypted (scrypt + nacl/secretbox) with the password from
    CHAINWARDEN_PASSWORD or COSIGN_PASSWORD, or one asked for twice on the terminal.

    \b
    Examples:
      chainwarden keygen
      chainwarden keygen --output-key-prefix ci-signing
    """
    from chainwarden.signing.keys import generate_key_pair

    private, public = Path(output_key_prefix + ".key"), Path(output_key_prefix + ".pub")
    if not force:
        for path in (private, public):
            if path.exists():
                raise UsageError(f"{path} exists; pass --force to overwrite it")
    pair = generate_key_pair(_password(confirm=True))
    _write_new(private, pair.private_pem, 0o600, force)
    _write_new(public, pair.public_pem, 0o644, force)
    click.echo(f"Private key written to {private}", err=True)
    click.echo(f"Public key written to {public}", err=True)
    return EXIT_CLEAN


def _write_new(path: Path, data: bytes, mode: int, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except FileExistsError as exc:
        raise UsageError(f"{path} exists; pass --force to overwrite it") from exc
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


# -- sign / attest -------------------------------------------------------------------------------


@click.command()
@click.argument("image")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help=KEY_HELP)
@click.option("--annotation", "-a", "annotations", multiple=True, help="KEY=VALUE signed with the digest (repeatable).")
@click.option(
    "--legacy-tag", is_flag=True, help="Write the pre-cosign-3 layout (tag sha256-<hex>.sig, simple signing)."
)
@registry_option
def sign(image: str, key_path: Path, annotations: tuple[str, ...], legacy_tag: bool, insecure_registry: bool) -> int:
    """Sign the manifest IMAGE (HOST/REPO[:TAG|@DIGEST]) resolves to, in the registry.

    By default the signature is a Sigstore bundle v0.3 pushed as an OCI 1.1
    referrer (cosign >= 3's layout; the sha256-<hex> referrers tag index is kept
    for registries without the referrers API). Signing is offline: nothing goes
    to a transparency log.

    \b
    Examples:
      chainwarden sign registry.example.com/team/app:1.4 --key cosign.key
      chainwarden sign 127.0.0.1:5000/app@sha256:… --key cosign.key -a build=1234 --insecure-registry
      chainwarden sign registry.example.com/team/app:1.4 --key cosign.key --legacy-tag
    """
    from chainwarden.signing.cosign import sign_image

    signed = _annotations(annotations)
    key = _load_private_key(key_path)
    with _client(image, insecure_registry) as client:
        result = sign_image(client, key, legacy=legacy_tag, annotations=signed)
    click.echo(f"Signed {result.reference}@{result.digest} ({result.layout}: {result.location})", err=True)
    return EXIT_CLEAN


@click.command()
@click.argument("image")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help=KEY_HELP)
@click.option(
    "--predicate",
    "predicate_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The predicate, a JSON file (an SBOM, provenance, VEX document …).",
)
@click.option(
    "--type",
    "predicate_type",
    default="custom",
    show_default=True,
    help="cyclonedx, spdx, slsaprovenance1, slsaprovenance, openvex, vuln, link, custom, or a predicate type URI.",
)
@click.option("--legacy-tag", is_flag=True, help="Write the pre-cosign-3 layout (tag sha256-<hex>.att).")
@registry_option
def attest(
    image: str, key_path: Path, predicate_path: Path, predicate_type: str, legacy_tag: bool, insecure_registry: bool
) -> int:
    """Attach a signed in-toto statement (DSSE) about IMAGE's digest to it in the registry.

    \b
    Examples:
      chainwarden attest registry.example.com/team/app:1.4 --key cosign.key --type cyclonedx --predicate sbom.cdx.json
      chainwarden attest registry.example.com/team/app:1.4 --key cosign.key --type slsaprovenance1 --predicate prov.json
    """
    from chainwarden.signing.attest import MAX_PREDICATE, attest_image, predicate_type_uri

    uri = predicate_type_uri(predicate_type)
    data = _read(predicate_path, MAX_PREDICATE)
    try:
        predicate = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{predicate_path}: not valid JSON ({exc})") from exc
    from chainwarden.signing.attest import check_predicate

    check_predicate(uri, predicate)
    key = _load_private_key(key_path)
    with _client(image, insecure_registry) as client:
        result = attest_image(client, key, uri, predicate, legacy=legacy_tag)
    click.echo(f"Attested {result.reference}@{result.digest} ({uri}; {result.layout}: {result.location})", err=True)
    return EXIT_CLEAN


# -- verify ------------------------------------------------------------------------------------------


@click.command()
@click.argument("image")
@policy_options
@click.option("--annotation", "-a", "annotations", multiple=True, help="Require KEY=VALUE to be signed (repeatable).")
@click.option("--min-signatures", default=1, show_default=True, type=click.IntRange(min=1), help="Signatures required.")
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Verify this Sigstore bundle file against IMAGE read as a file path or sha256:<hex> digest.",
)
@format_option(("table", "json"))
@output_option
@registry_option
@verification_exit
def verify(
    image: str,
    key_path: Path | None,
    certificate_identity: str | None,
    certificate_identity_regexp: str | None,
    certificate_oidc_issuer: str | None,
    trusted_root: Path | None,
    require_tlog: bool,
    annotations: tuple[str, ...],
    min_signatures: int,
    bundle_path: Path | None,
    output_format: str,
    output: Path | None,
    insecure_registry: bool,
) -> int:
    """Verify IMAGE's signatures (both cosign layouts) against its resolved digest.

    With --key, signatures by that key (cosign.pub); keyless, a Fulcio
    certificate for --certificate-identity issued by --certificate-oidc-issuer,
    checked offline against the trusted root (chain, SCT, Rekor SET or inclusion
    proof). Exit 0 when at least --min-signatures verify, 1 when not (one line
    on stderr says why), 2 on usage or registry errors.

    \b
    Examples:
      chainwarden verify registry.example.com/team/app:1.4 --key cosign.pub
      chainwarden verify ghcr.io/a/t:2 --certificate-identity me@a.example --certificate-oidc-issuer https://github.com/login/oauth
      chainwarden verify registry.example.com/team/app:1.4 --key cosign.pub --min-signatures 2 -f json
    """
    _quiet_sigstore()
    policy = _policy(
        key_path,
        certificate_identity,
        certificate_identity_regexp,
        certificate_oidc_issuer,
        trusted_root,
        require_tlog,
        _annotations(annotations),
    )
    if bundle_path is not None:
        return _verify_bundle_file(image, bundle_path, policy, output_format, output)
    from chainwarden.signing.cosign import verify_image

    with _client(image, insecure_registry) as client:
        outcome = verify_image(client, policy)
    return _report(outcome, min_signatures, output_format, output, "signature")


def _verify_bundle_file(target: str, bundle_path: Path, policy: Any, output_format: str, output: Path | None) -> int:
    from chainwarden.signing.bundle import MAX_BUNDLE, Artifact, parse_bundle

    if target.startswith("sha256:"):
        artifact = Artifact.from_digest(target)
    else:
        try:
            artifact = Artifact.from_bytes(Path(target).read_bytes())
        except OSError as exc:
            raise UsageError(f"cannot read {target}: {exc.strerror}") from exc
    try:
        result = policy.verify_bundle(parse_bundle(_read(bundle_path, MAX_BUNDLE), str(bundle_path)), artifact)
    except VerificationError as exc:
        if output_format == "json":
            document = {"schema_version": "1", "kind": "bundle", "artifact": artifact.digest, "verified": False}
            emit(json.dumps({**document, "reason": exc.diagnostics()}, indent=2), output)
        click.echo(f"chainwarden: verification failed: {exc.diagnostics()}", err=True)
        return EXIT_FINDINGS
    document = {
        "schema_version": "1",
        "kind": "bundle",
        "artifact": artifact.digest,
        "verified": True,
        "method": result.method,
        "key_id": result.key_id,
        "identity": result.identity,
        "issuer": result.issuer,
        "tlog_entries": result.tlog_entries,
    }
    if output_format == "json":
        emit(json.dumps(document, indent=2), output)
    else:
        who = f"key {result.key_id[:16]}…" if result.key_id else f"{result.identity} ({result.issuer})"
        emit(f"Verified {bundle_path} over {artifact.digest}: {who}, {result.tlog_entries} log entries", output)
    return EXIT_CLEAN


@click.command("verify-attestation")
@click.argument("image")
@policy_options
@click.option(
    "--type",
    "predicate_type",
    default=None,
    help="Only attestations of this predicate type (shorthand as for attest, or a URI) [default: any].",
)
@click.option(
    "--min-attestations", default=1, show_default=True, type=click.IntRange(min=1), help="Attestations required."
)
@click.option(
    "--predicate-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the (first) verified predicate to FILE, e.g. an SBOM for `chainwarden scan`.",
)
@format_option(("table", "json"))
@output_option
@registry_option
@verification_exit
def verify_attestation(
    image: str,
    key_path: Path | None,
    certificate_identity: str | None,
    certificate_identity_regexp: str | None,
    certificate_oidc_issuer: str | None,
    trusted_root: Path | None,
    require_tlog: bool,
    predicate_type: str | None,
    min_attestations: int,
    predicate_out: Path | None,
    output_format: str,
    output: Path | None,
    insecure_registry: bool,
) -> int:
    """Verify IMAGE's in-toto attestations (signature, subject digest, predicate type) and print them.

    \b
    Examples:
      chainwarden verify-attestation registry.example.com/team/app:1.4 --key cosign.pub --type cyclonedx
      chainwarden verify-attestation registry.example.com/team/app:1.4 --key cosign.pub --predicate-out sbom.json
    """
    from chainwarden._internal.files import check_output_path, write_text_atomically
    from chainwarden.signing.attest import predicate_type_uri, verify_attestations

    if predicate_out is not None:  # checked before any network work: never overwritten, never a missing directory
        if predicate_out.exists():
            raise UsageError(f"{predicate_out} exists; not overwriting it")
        check_output_path(predicate_out, "--predicate-out")

    _quiet_sigstore()
    uri = predicate_type_uri(predicate_type) if predicate_type else None
    policy = _policy(
        key_path,
        certificate_identity,
        certificate_identity_regexp,
        certificate_oidc_issuer,
        trusted_root,
        require_tlog,
        {},
    )
    with _client(image, insecure_registry) as client:
        outcome = verify_attestations(client, policy, uri)
    code = _report(outcome.verification, min_attestations, output_format, output, "attestation")
    if code == EXIT_CLEAN and predicate_out is not None and outcome.statements:
        if predicate_out.exists():
            raise UsageError(f"{predicate_out} exists; not overwriting it")
        write_text_atomically(predicate_out, json.dumps(outcome.statements[0].get("predicate"), indent=2) + "\n")
    return code


# -- reporting -----------------------------------------------------------------------------------------


def _report(outcome: Any, minimum: int, output_format: str, output: Path | None, what: str) -> int:
    failure = outcome.failure(minimum, what)
    if output_format == "json":
        emit(json.dumps(verification_json(outcome, minimum, what), indent=2), output)
    else:
        emit(_table(outcome, what), output)
    if failure is not None:
        click.echo(f"chainwarden: verification failed: {failure}", err=True)
        return EXIT_FINDINGS
    return EXIT_CLEAN


def verification_json(outcome: Any, minimum: int, what: str) -> dict[str, Any]:
    """The stable JSON document of `verify` / `verify-attestation` (docs/json-schema.md)."""
    entries = []
    for item in outcome.verified:
        entry: dict[str, Any] = {
            "layout": item.layout,
            "source": item.source,
            "method": item.method,
            "key_id": item.key_id,
            "identity": item.identity,
            "issuer": item.issuer,
            "tlog_entries": item.tlog_entries,
            "annotations": dict(item.annotations),
        }
        if item.statement is not None:
            entry["predicate_type"] = item.statement.get("predicateType")
            entry["statement"] = item.statement
        entries.append(entry)
    return {
        "schema_version": "1",
        "kind": what,
        "image": outcome.reference,
        "digest": outcome.digest,
        "verified": outcome.failure(minimum, what) is None,
        "required": minimum,
        "verified_count": len(outcome.verified),
        f"{what}s": entries,
        "rejected": [{"layout": r.layout, "source": r.source, "reason": r.reason} for r in outcome.rejected],
    }


def _table(outcome: Any, what: str) -> str:
    lines = [f"{outcome.reference} → {outcome.digest}"]
    for item in outcome.verified:
        who = f"key {item.key_id[:16]}…" if item.key_id else f"{item.identity} ({item.issuer})"
        extra = f" predicate {item.statement.get('predicateType')}" if item.statement is not None else ""
        tlog = f", {item.tlog_entries} log entries" if item.tlog_entries else ", no log entry"
        notes = "".join(f" {k}={v}" for k, v in sorted(item.annotations.items()))
        lines.append(f"  verified  {item.layout:<6} {item.source}: {who}{tlog}{extra}{notes}")
    for rejection in outcome.rejected:
        lines.append(f"  rejected  {rejection.layout:<6} {rejection.source}: {rejection.reason}")
    if not outcome.verified and not outcome.rejected:
        lines.append(f"  no {what}s found")
    return "\n".join(lines)


# -- vet --provenance ----------------------------------------------------------------------------------------


def provenance_for_vet(
    targets: tuple[str, ...], inventories: Any, npm_url: str | None, pypi_url: str | None
) -> tuple[list[Any], list[dict[str, Any]]]:
    """(findings, JSON rows) for `vet --provenance`: every pinned npm/PyPI version among the targets."""
    from chainwarden.models import Ecosystem
    from chainwarden.signing.provenance import (
        DEFAULT_NPM,
        DEFAULT_PYPI,
        PackageVersion,
        ProvenanceChecker,
        provenance_finding,
    )
    from chainwarden.signing.trustroot import default_trusted_root

    wanted: dict[tuple[str, str, str], PackageVersion] = {}
    for target in targets:
        if target.startswith("npm:") and "@" in target[5:]:
            name, _, version = target[4:].rpartition("@")
            wanted[("npm", name, version)] = PackageVersion("npm", name, version)
        elif target.startswith("pypi:") and "==" in target:
            name, _, version = target[5:].partition("==")
            wanted[("pypi", name, version)] = PackageVersion("pypi", name, version)
    for inventory in inventories:
        for package in inventory.packages:
            if package.ecosystem in (Ecosystem.NPM, Ecosystem.PYPI) and package.version and package.pinned:
                ecosystem = "npm" if package.ecosystem is Ecosystem.NPM else "pypi"
                key = (ecosystem, package.name, package.version)
                wanted.setdefault(key, PackageVersion(ecosystem, package.name, package.version))
    findings, rows = [], []
    with ProvenanceChecker(
        default_trusted_root(), npm_url=npm_url or DEFAULT_NPM, pypi_url=pypi_url or DEFAULT_PYPI
    ) as checker:
        for spec in sorted(wanted.values(), key=lambda s: (s.ecosystem, s.name, s.version)):
            result = checker.check(spec)
            findings.append(provenance_finding(result))
            rows.append(
                {
                    "ecosystem": result.ecosystem,
                    "name": result.name,
                    "version": result.version,
                    "status": result.status.value,
                    "repository": result.repository,
                    "workflow": result.workflow,
                    "commit": result.commit,
                    "issuer": result.issuer,
                    "reason": result.reason,
                }
            )
    return findings, rows


def provenance_for_diff(
    ecosystem: str, name: str, old_version: str, new_version: str, npm_url: str | None, pypi_url: str | None
) -> tuple[list[Any], dict[str, Any]]:
    """(findings, JSON) for `diff --provenance`: both versions checked; losing verified provenance is high."""
    from chainwarden.signing.provenance import (
        DEFAULT_NPM,
        DEFAULT_PYPI,
        PackageVersion,
        ProvenanceChecker,
        lost_provenance_finding,
        provenance_finding,
    )
    from chainwarden.signing.trustroot import default_trusted_root

    with ProvenanceChecker(
        default_trusted_root(), npm_url=npm_url or DEFAULT_NPM, pypi_url=pypi_url or DEFAULT_PYPI
    ) as checker:
        old = checker.check(PackageVersion(ecosystem, name, old_version))
        new = checker.check(PackageVersion(ecosystem, name, new_version))
    findings = [provenance_finding(new)]
    lost = lost_provenance_finding(old, new)
    if lost is not None:
        findings.append(lost)
    summary = {
        version.version: {"status": version.status.value, "description": version.describe()} for version in (old, new)
    }
    return findings, summary


@click.command("trust-root")
@click.option(
    "--tuf-url",
    default="https://tuf-repo-cdn.sigstore.dev",
    show_default=True,
    help="TUF repository publishing trusted_root.json (another Sigstore instance, or a mirror).",
)
@click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to keep it [default: the user data dir, which verification prefers over the bundled root].",
)
def trust_root(tuf_url: str, data_dir: Path | None) -> int:
    """Refresh the Sigstore trusted root through TUF (where the TUF repository is reachable).

    \b
    Examples:
      chainwarden data trust-root
      chainwarden data trust-root --tuf-url https://tuf.sigstore.internal.example --dir ./trust
    """
    from chainwarden.signing.trustroot import load_trusted_root, refresh_trusted_root

    path = refresh_trusted_root(data_dir, url=tuf_url)
    root = load_trusted_root(path)
    click.echo(
        f"wrote {path}: {len(root.certificate_authorities)} Fulcio CAs, {len(root.tlogs)} transparency logs, "
        f"{len(root.ctlogs)} CT logs, {len(root.timestamp_authorities)} timestamp authorities"
    )
    return EXIT_CLEAN
