"""``chainwarden pin``, ``chainwarden mirror``, ``chainwarden admit`` (and ``admit serve``)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chainwarden.cli.common import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, emit, format_option, output_option

if TYPE_CHECKING:
    from chainwarden.sources import SourceOptions


def _table(headers: list[str], rows: list[list[str]], title: str) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False, box=box.SIMPLE_HEAD)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    Console(width=160, no_color=True, file=buffer).print(table)
    return buffer.getvalue()


def _platform_option(value: str | None) -> str | None:
    if value is None:
        return None
    from chainwarden.errors import UsageError
    from chainwarden.sources.image import validate_platform

    if value.startswith("unknown/"):
        raise UsageError(f"--platform {value}: unknown/unknown entries are attestations, not images")
    return validate_platform(value)


# -- pin ------------------------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 when a reference is unpinned or its tag moved.")
@click.option("--offline", is_flag=True, help="Do not contact registries: only report references without a digest.")
@click.option("--update", is_flag=True, help="Also re-pin references whose tag now points at another digest.")
@click.option(
    "--platform",
    default=None,
    help="Pin this platform's manifest (os/arch[/variant]) instead of the multi-platform index.",
)
@click.option("--registry-timeout", type=click.FloatRange(0.5, 600), default=30.0, show_default=True)
@click.option(
    "--insecure-registry", is_flag=True, help="Allow plain http and unverified TLS to registries (dangerous)."
)
@format_option(("table", "json"))
@output_option
def pin(
    paths: tuple[Path, ...],
    check: bool,
    offline: bool,
    update: bool,
    platform: str | None,
    registry_timeout: float,
    insecure_registry: bool,
    output_format: str,
    output: Path | None,
) -> int:
    """Pin image references to digests: `name:tag` becomes `name:tag@sha256:…`.

    PATHS are files or directories holding Dockerfiles (FROM, ARG defaults feeding FROM,
    COPY --from, RUN --mount=from), compose files, Kubernetes manifests, Helm values and
    GitHub Actions workflows. Only the reference's characters change: comments, quoting,
    continuations and the escape directive stay as they were. A multi-platform tag pins
    its index digest; --platform pins one platform's manifest.

    Exit codes: 0 done (or --check clean), 1 --check found unpinned or moved references,
    2 usage error or a reference that could not be resolved.

    \b
    Examples:
      chainwarden pin .
      chainwarden pin --check --format json deploy/ Dockerfile
      chainwarden pin --platform linux/arm64 Dockerfile.arm64
      chainwarden pin --offline --check .
    """
    from chainwarden.policy.pin import PinOptions, Status, pin_paths

    options = PinOptions(
        check=check,
        offline=offline,
        update=update,
        platform=_platform_option(platform),
        insecure_registry=insecure_registry,
        timeout=registry_timeout,
    )
    report = pin_paths(paths, options)
    if output_format == "json":
        document = {
            "schema_version": 1,
            "command": "pin",
            "mode": "check" if check else ("offline" if offline else "write"),
            "files": list(report.files),
            "written": list(report.written),
            "manifest_requests": report.manifest_requests,
            "references": [
                {
                    "path": r.occurrence.path,
                    "line": r.occurrence.line,
                    "column": r.occurrence.column,
                    "kind": r.occurrence.kind.value,
                    "context": r.occurrence.context,
                    "reference": r.occurrence.text,
                    "status": r.status.value,
                    "digest": r.digest,
                    "previous_digest": r.previous,
                    "note": r.note,
                }
                for r in report.results
            ],
        }
        emit(json.dumps(document, indent=2), output)
    else:
        rows = [
            [
                f"{r.occurrence.path}:{r.occurrence.line}",
                r.occurrence.context,
                r.occurrence.text,
                r.status.value if not (r.status is Status.PINNED and check) else "unpinned",
                (r.digest or "")[:19] + ("…" if r.digest else ""),
                r.note,
            ]
            for r in report.results
        ]
        verb = "checked" if check or offline else "pinned"
        title = (
            f"chainwarden pin: {len(report.results)} references in {len(report.files)} files, "
            f"{verb}; {report.manifest_requests} manifest requests"
        )
        emit(_table(["where", "context", "reference", "status", "digest", "note"], rows, title), output)
    for written in report.written:
        click.echo(f"pinned references in {written}", err=True)
    if any(r.status is Status.ERROR for r in report.results):
        click.echo("chainwarden: error: some references could not be resolved (see the table)", err=True)
        return EXIT_ERROR
    if check or offline:
        return EXIT_FINDINGS if report.failures() and check else EXIT_CLEAN
    return EXIT_CLEAN


# -- admit ----------------------------------------------------------------------------------------


class _AdmitGroup(click.Group):
    """``admit serve …`` runs the webhook; ``admit [check] --policy … IMAGE…`` decides in CI."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and (args[0] in self.commands or args[0] in ("-h", "--help")):
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, ["check", *args])


@click.group(cls=_AdmitGroup)
def admit() -> None:
    """Admission control: decide whether images may run, under a policy file.

    `chainwarden admit --policy policy.yaml IMAGE…` (the `check` command) decides in CI/CD;
    `chainwarden admit serve …` runs the same decision as a Kubernetes validating admission
    webhook. See README "Pinned, mirrored, admitted?" for the policy format.

    \b
    Examples:
      chainwarden admit --policy policy.yaml registry.example.com/team/api:2.4.1
      chainwarden admit serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key
    """


def _registry_options(func: Any) -> Any:
    func = click.option(
        "--insecure-registry", is_flag=True, help="Allow plain http and unverified TLS to registries (dangerous)."
    )(func)
    return func


@admit.command("check")
@click.argument("images", nargs=-1, required=True)
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Admission policy file (YAML).",
)
@format_option(("table", "json", "sarif"))
@output_option
@_registry_options
def admit_check(
    images: tuple[str, ...], policy_path: Path, output_format: str, output: Path | None, insecure_registry: bool
) -> int:
    """Decide whether IMAGES may run under --policy (for CI/CD).

    Every rule that applies to an image is evaluated and reported with its reason. Exit codes:
    0 every image admitted (warn-mode violations are printed), 1 an image denied, 2 usage error.

    \b
    Examples:
      chainwarden admit check --policy policy.yaml registry.example.com/team/api:2.4.1
      chainwarden admit check --policy policy.yaml --format sarif -o admit.sarif IMAGE1 IMAGE2
    """
    from chainwarden.policy.admit import decision_document, decision_findings
    from chainwarden.policy.decider import build_decider

    decider = build_decider(policy_path, insecure_registry=insecure_registry)
    try:
        decisions = decider.decide_all(list(images))
    finally:
        decider.resolver.close()
    if output_format == "json":
        document = {
            "schema_version": 1,
            "command": "admit",
            "policy": {"path": str(policy_path), "digest": decider.policy.digest, "mode": decider.policy.mode.value},
            "allowed": all(d.allowed for d in decisions),
            "images": [decision_document(d) for d in decisions],
        }
        emit(json.dumps(document, indent=2), output)
    elif output_format == "sarif":
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif

        emit(
            render_sarif(decision_findings(decisions), rules={}, tool_version=tool_version(), target=" ".join(images)),
            output,
        )
    else:
        rows = []
        for decision in decisions:
            verdict = "ALLOWED" if decision.allowed else "DENIED"
            if decision.allowed and decision.warnings:
                verdict = "ALLOWED (warnings)"
            rows.append([decision.image, "", verdict, decision.resolved or ""])
            for result in decision.results:
                state = "pass" if result.passed else ("FAIL" if result.mode.value == "enforce" else "warn")
                rows.append(["", result.rule, state, result.message])
        title = f"chainwarden admit: {len(decisions)} images under {policy_path} ({decider.policy.mode.value})"
        emit(_table(["image", "rule", "result", "detail"], rows, title), output)
    for decision in decisions:
        for warning in decision.warnings:
            click.echo(f"chainwarden: warning: {decision.image}: {warning.rule}: {warning.message}", err=True)
    return EXIT_CLEAN if all(d.allowed for d in decisions) else EXIT_FINDINGS


@admit.command("serve")
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Admission policy file (YAML).",
)
@click.option("--tls-cert", required=True, type=click.Path(dir_okay=False, exists=True), help="PEM certificate chain.")
@click.option("--tls-key", required=True, type=click.Path(dir_okay=False, exists=True), help="PEM private key.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
@click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port, each with its own caches; /metrics adds them up.",
)
@_registry_options
def admit_serve(
    policy_path: Path, tls_cert: str, tls_key: str, host: str, port: int, workers: int, insecure_registry: bool
) -> int:
    """Run the Kubernetes validating admission webhook (HTTPS, admission.k8s.io/v1).

    POST /validate decides Pods, Deployments, ReplicaSets, ReplicationControllers,
    StatefulSets, DaemonSets, Jobs and CronJobs; POST /mutate pins tags to digests when the
    policy says `mutate: true`; GET /healthz; GET /metrics (Prometheus). Decisions are cached
    per image digest and policy hash for the policy's cacheTTL. Keep the policy's
    registryTimeout below the webhook's timeoutSeconds (default 10 s). --workers N runs N
    processes on the port (one per core the webhook may use); each resolves and decides an
    image once per cacheTTL, and SIGHUP replaces them one by one, re-reading the policy.
    Stops on Ctrl-C/SIGTERM.

    \b
    Examples:
      chainwarden admit serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key
      chainwarden admit serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key --port 9443
      chainwarden admit serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key --workers 2
    """
    import ssl

    from chainwarden.errors import UsageError
    from chainwarden.policy.admit import load_policy
    from chainwarden.policy.decider import build_decider
    from chainwarden.policy.webhook import ServeSettings, Webhook, check_listen, serve

    policy = load_policy(policy_path)  # every worker loads it again: refuse a bad one here, once
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(tls_cert, tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise UsageError(f"--tls-cert/--tls-key: cannot load ({exc})") from exc
    check_listen(host, port)
    settings = ServeSettings(policy_path, tls_cert, tls_key, host, port, workers, insecure_registry)
    webhook = None
    if workers == 1:
        webhook = Webhook(build_decider(policy, insecure_registry=insecure_registry, cache=True, one_attempt=True))
    processes = f", {workers} worker processes" if workers > 1 else ""
    click.echo(f"chainwarden: admission webhook on https://{host}:{port} (policy {policy_path}{processes})", err=True)
    serve(settings, webhook)
    return EXIT_CLEAN


# -- mirror ---------------------------------------------------------------------------------------


@click.command()
@click.argument("refs", nargs=-1, required=True, metavar="SRC DST | DST-PREFIX")
@click.option(
    "--from-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Mirror every image listed (lines 'SRC [DST]'); DESTINATION is then the prefix for lines without DST.",
)
@click.option("--all-platforms", is_flag=True, help="Copy the whole multi-platform index, not one platform.")
@click.option("--platform", default="linux/amd64", show_default=True, help="Platform to copy without --all-platforms.")
@click.option(
    "--with-signatures/--without-signatures",
    default=True,
    show_default=True,
    help="Copy cosign signatures, attestations, SBOMs and OCI referrers with the image.",
)
@click.option(
    "--verify-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Refuse to mirror unless the source digest is signed by this cosign public key.",
)
@click.option("--certificate-identity", default=None, help="Keyless: refuse unless signed by this identity.")
@click.option("--certificate-oidc-issuer", default=None, help="Keyless: the identity's OIDC issuer.")
@click.option(
    "--insecure-registry", is_flag=True, help="Allow plain http and unverified TLS to registries (dangerous)."
)
@format_option(("table", "json"))
@output_option
def mirror(
    refs: tuple[str, ...],
    from_file: Path | None,
    all_platforms: bool,
    platform: str,
    with_signatures: bool,
    verify_key: Path | None,
    certificate_identity: str | None,
    certificate_oidc_issuer: str | None,
    insecure_registry: bool,
    output_format: str,
    output: Path | None,
) -> int:
    """Copy images by digest into a registry you control, verified while streaming.

    `chainwarden mirror SRC DST` or `chainwarden mirror --from-file images.txt DST-PREFIX`.
    Blobs already in DST are skipped, blobs in another repository of the same registry are
    mounted, manifests are pushed by digest before the tag, and signatures/attestations/
    referrers come along. Run it again to resume or to confirm nothing changed.

    Exit codes: 0 every image mirrored, 1 an image failed (refused by --verify-key, or the
    source is missing/invalid), 2 usage error.

    \b
    Examples:
      chainwarden mirror docker.io/library/nginx:1.27 registry.example.com/mirror/nginx
      chainwarden mirror --all-platforms --verify-key cosign.pub ghcr.io/org/app:1 registry.example.com/org/app
      chainwarden mirror --from-file images.txt registry.example.com/mirror
    """
    from chainwarden.errors import UsageError
    from chainwarden.policy.interface import Authority
    from chainwarden.policy.mirror import MirrorOptions, MirrorResult, mirror_all, read_image_list, summary_document
    from chainwarden.policy.verifier import default_verifier

    if len(refs) != (1 if from_file is not None else 2):
        raise UsageError("give SRC DST, or --from-file FILE DST-PREFIX")
    source, destination = (None, refs[0]) if from_file is not None else refs
    authority = None
    if verify_key is not None and (certificate_identity or certificate_oidc_issuer):
        raise UsageError("give --verify-key or --certificate-identity/--certificate-oidc-issuer, not both")
    if verify_key is not None:
        authority = Authority(str(verify_key), key_path=str(verify_key))
    elif certificate_identity or certificate_oidc_issuer:
        if not (certificate_identity and certificate_oidc_issuer):
            raise UsageError("keyless verification needs --certificate-identity and --certificate-oidc-issuer")
        authority = Authority(certificate_identity, identity=certificate_identity, issuer=certificate_oidc_issuer)
    pairs = read_image_list(from_file, destination) if from_file is not None else [(str(source), destination)]
    options = MirrorOptions(
        all_platforms=all_platforms,
        platform=_platform_option(platform) or "linux/amd64",
        with_signatures=with_signatures,
        authority=authority,
        insecure_registry=insecure_registry,
    )
    verifier = default_verifier(insecure_registry=insecure_registry) if authority is not None else None

    def progress(result: MirrorResult | tuple[str, str]) -> None:
        if isinstance(result, tuple):
            click.echo(f"chainwarden: error: {result[0]}: {result[1]}", err=True)
        else:
            click.echo(f"mirrored {result.source} -> {result.destination}@{result.digest[:19]}…", err=True)

    results = mirror_all(pairs, options, verifier, on_result=progress)
    if output_format == "json":
        emit(json.dumps(summary_document(results), indent=2), output)
    else:
        rows = []
        for result in results:
            if isinstance(result, tuple):
                rows.append([result[0], "", "FAILED", "", "", "", "", result[1]])
                continue
            stats = result.stats
            rows.append(
                [
                    result.source,
                    result.destination,
                    result.digest[:19] + "…",
                    str(stats.blobs_copied),
                    f"{stats.blobs_skipped}/{stats.blobs_mounted}",
                    f"{stats.bytes_copied / 1e6:.1f}",
                    str(stats.signatures),
                    f"{result.seconds:.2f}s" + (f", verified by {result.verified_by}" if result.verified_by else ""),
                ]
            )
        headers = ["source", "destination", "digest", "copied", "skipped/mounted", "MB", "signatures", "time"]
        emit(_table(headers, rows, f"chainwarden mirror: {len(results)} images"), output)
    return EXIT_FINDINGS if any(isinstance(r, tuple) for r in results) else EXIT_CLEAN


# -- apt-keys -------------------------------------------------------------------------------------


def apt_files(
    target: str, insecure_registry: bool = False, *, options: SourceOptions | None = None
) -> dict[str, bytes]:
    """``{absolute path: content}`` of /etc/apt and keyrings of a root filesystem, repository or image."""
    from chainwarden.errors import UsageError
    from chainwarden.policy.apt_keys import files_from_tree, wanted
    from chainwarden.sources import SourceOptions, open_source, split_scheme
    from chainwarden.sources.interface import EntryType

    scheme, rest = split_scheme(target)
    if scheme is None or scheme == "dir":
        root = Path(rest if scheme else target)
        if not root.is_dir():
            raise UsageError(f"{target}: not a directory (images need a scheme: oci:, docker-archive:, registry:, …)")
        return files_from_tree(root)
    files: dict[str, bytes] = {}
    with open_source(target, options or SourceOptions(insecure_registry=insecure_registry)) as source:
        view = source.view(wanted)
        for entry in view.entries():
            if entry.type in (EntryType.FILE, EntryType.SYMLINK) and wanted(entry.path):
                try:
                    files[entry.path] = view.read(entry.path)
                except (OSError, UsageError):
                    continue
    return files


@click.command("apt-keys")
@click.argument("target")
@click.option(
    "--fail-on",
    type=click.Choice(["low", "medium", "high", "critical"]),
    default=None,
    help="Exit 1 when a finding is at or above this severity.",
)
@format_option(("table", "json", "sarif"))
@output_option
@click.option(
    "--insecure-registry", is_flag=True, help="Allow plain http and unverified TLS to registries (dangerous)."
)
def apt_keys(target: str, fail_on: str | None, output_format: str, output: Path | None, insecure_registry: bool) -> int:
    """Audit which OpenPGP key every APT source of TARGET trusts, and how strong it is.

    TARGET is a root filesystem or repository holding etc/apt, or an image (oci:DIR,
    docker-archive:FILE.tar, registry:REF, dir:PATH). Keys are read with
    `gpg --show-keys --with-colons`. Findings: weak keys (DSA, RSA < 2048), expired keys,
    third-party sources trusting the global trusted.gpg(.d), one key trusted for unrelated
    sources, signed-by files that are missing.

    \b
    Examples:
      chainwarden apt-keys /
      chainwarden apt-keys registry:docker.io/library/debian:12 --format json
      chainwarden apt-keys oci:./image --fail-on high
    """
    from chainwarden.cli.common import exit_code_for
    from chainwarden.policy.apt_keys import audit

    report = audit(apt_files(target, insecure_registry))
    findings = list(report.findings)
    if not report.sources:
        # a gate never passes on nothing checked
        click.echo(f"chainwarden: nothing checked: no APT sources in {target}", err=True)
        if fail_on is not None:
            return EXIT_FINDINGS
    if output_format == "json":
        from chainwarden.report.json_report import render_findings_json

        extra = {
            "sources": [
                {
                    "file": s.file,
                    "line": s.line,
                    "uri": s.uri,
                    "suites": s.suites,
                    "official": s.official,
                    "trust": s.trust,
                    "key_files": list(s.key_files),
                    "missing_key_files": list(s.missing),
                    "keys": [k.fingerprint for k in s.keys],
                }
                for s in report.sources
            ],
            "keys": [
                {
                    "fingerprint": k.fingerprint,
                    "file": k.file,
                    "algorithm": k.algorithm,
                    "bits": k.bits,
                    "curve": k.curve,
                    "created": k.created.isoformat() if k.created else None,
                    "expires": k.expires.isoformat() if k.expires else None,
                    "user_ids": list(k.uids),
                }
                for k in report.keys
            ],
        }
        text = render_findings_json(findings, command="apt-keys", target=target, extra=extra)
    elif output_format == "sarif":
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif

        text = render_sarif(findings, rules={}, tool_version=tool_version(), target=target)
    else:
        rows = [
            [
                f"{s.file}:{s.line}",
                s.uri,
                "official" if s.official else "third-party",
                s.trust,
                s.owners if len(s.keys) <= 2 else f"{len(s.keys)} keys in {len(s.key_files)} keyrings",
                ", ".join(sorted({f"{k.algorithm}-{k.bits or k.curve}" for k in s.keys})) or "-",
            ]
            for s in report.sources
        ]
        text = _table(["source", "uri", "origin", "trust", "key owner", "keys"], rows, f"APT sources of {target}")
        if findings:
            rows = [[f.severity.value, f.rule_id, f.title] for f in findings]
            text += _table(["severity", "rule", "finding"], rows, f"{len(findings)} findings")
        else:
            text += f"No key problems among {len(report.keys)} keys.\n"
    emit(text, output)
    return exit_code_for(findings, fail_on)


def third_party_apt_sources(target: str, options: SourceOptions | None = None) -> list[dict[str, str]]:
    """Third-party APT sources of ``target`` with the owner of the key they trust (for ``sbom``)."""
    import shutil

    from chainwarden.policy.apt_keys import GPG, audit

    files = apt_files(target, options=options)
    if not any(path.startswith("/etc/apt/sources.list") for path in files) or shutil.which(GPG) is None:
        return []
    return [{"uri": s.uri, "file": s.file, "trust": s.trust, "key_owner": s.owners} for s in audit(files).third_party()]
