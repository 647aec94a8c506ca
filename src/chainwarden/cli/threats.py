"""``chainwarden vet``, ``chainwarden diff`` and ``chainwarden data refresh``: package threats."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from chainwarden.cli.common import (
    RichProgress,
    allow_empty_option,
    emit,
    exit_code_for,
    fail_on_option,
    format_option,
    gate,
    output_option,
    use_color,
)
from chainwarden.cli.in_use import in_use_exit_code, in_use_options, in_use_tables, load_profile_option
from chainwarden.cli.options import source_options, target_options
from chainwarden.models import Coverage, Finding

if TYPE_CHECKING:
    from chainwarden.analyzers import VetOptions
    from chainwarden.config import Config

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "json", "sarif", "html")


def registry_options(func: F) -> F:
    func = click.option("--offline", is_flag=True, help="Never contact a registry (typosquat and local code only).")(
        func
    )
    func = click.option(
        "--npm-url", metavar="URL", default=None, help="npm registry or mirror [default: registry.npmjs.org]."
    )(func)
    func = click.option(
        "--pypi-url", metavar="URL", default=None, help="PEP 691 simple index or mirror [default: pypi.org/simple]."
    )(func)
    func = click.option(
        "--ignore",
        "ignore",
        multiple=True,
        metavar="RULE[:PACKAGE]",
        help="Suppress a rule, or a rule for one package (repeatable; '*:PACKAGE' allows a package).",
    )(func)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=None,
        help="chainwarden.toml to use [default: found from the current directory upwards].",
    )(func)


def _render(
    findings: Sequence[Finding],
    *,
    output_format: str,
    command: str,
    target: str,
    title: str,
    output: Path | None,
    extra: dict[str, Any] | None = None,
    profile_name: str | None = None,
    coverage: Coverage | None = None,
    origins: dict[str, str] | None = None,
    base_dir: Path | None = None,
) -> str:
    if output_format == "json":
        from chainwarden.report.json_report import render_findings_json

        return render_findings_json(findings, command=command, target=target, extra=extra, coverage=coverage)
    if output_format == "sarif":
        from chainwarden.analyzers import rule_infos
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif
        from chainwarden.signing.provenance import provenance_rule_infos

        return render_sarif(
            findings,
            rules={**rule_infos(), **provenance_rule_infos()},
            tool_version=tool_version(),
            target=target,
            coverage=coverage,
            artifact_uris=origins,
            base_dir=base_dir,
        )
    if output_format == "html":
        from chainwarden.report.html import render_findings_html

        return render_findings_html(findings, command=command, target=target)
    from chainwarden.report.table import render_coverage, render_findings_table

    color = use_color(output)
    if profile_name is not None:
        text = in_use_tables(findings, title=title, profile_name=profile_name, color=color)
        return text if coverage is None else text.rstrip("\n") + "\n" + render_coverage(coverage, color=color)
    return render_findings_table(findings, title=title, color=color, coverage=coverage)


def _base_dir(targets: Sequence[str]) -> Path | None:
    """The directory SARIF's %SRCROOT% stands for: the one project directory vetted, if exactly one."""
    directories = [Path(t) for t in targets if Path(t).is_dir()]
    return directories[0] if len(directories) == 1 else None


@click.command()
@click.argument("targets", nargs=-1, required=True)
@click.option(
    "--scan-code",
    is_flag=True,
    help="Also run the malicious-code heuristics over target directories and the PyPI/npm packages installed "
    "in images and root filesystems (read from the layers, never extracted).",
)
@click.option(
    "--scan-distro-packages",
    is_flag=True,
    help="With --scan-code on an image: also scan Debian packages and the npm modules Debian ships.",
)
@click.option(
    "--no-claim-check", is_flag=True, help="Skip asking public registries whether internal names are claimed."
)
@click.option(
    "--provenance",
    is_flag=True,
    help="Verify npm/PyPI publish provenance of every pinned version (registry targets and lockfiles): "
    "verified (repository, workflow, commit), none published, or invalid (critical).",
)
@registry_options
@in_use_options
@fail_on_option
@allow_empty_option
@format_option(FORMATS)
@output_option
@target_options
def vet(
    targets: tuple[str, ...],
    scan_code: bool,
    scan_distro_packages: bool,
    no_claim_check: bool,
    provenance: bool,
    config_path: Path | None,
    ignore: tuple[str, ...],
    pypi_url: str | None,
    npm_url: str | None,
    offline: bool,
    profile_path: Path | None,
    fail_on_in_use: str | None,
    fail_on: str | None,
    allow_empty: bool,
    output_format: str,
    output: Path | None,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Check packages before installing them: typosquats, dependency confusion, malicious code.

    TARGETS are bare names (pypi:reqeusts npm:lodahs), registry versions to
    download and scan (pypi:NAME==VER, npm:NAME@VER), package archives
    (.whl, .tar.gz, .tgz, .zip), project directories and images (their
    lockfiles, manifests and installed packages; with --scan-code, the code of
    every PyPI/npm package installed in an image). Code is read, never run.
    A directory that is a package (setup.py, pyproject.toml or package.json,
    outside a git/hg/svn checkout) has its code scanned as its tarball would
    be, without --scan-code.

    With --profile (a runtime profile of the same image), findings on
    installed packages are tagged in-use executed/loaded/read/not-observed, as
    by `scan --profile`: malicious code in a package whose code ran comes first,
    and --fail-on-in-use gates on those alone.

    Exit status: 0 clean, 1 a finding at or above --fail-on (or an in-use
    finding at or above --fail-on-in-use, or nothing checked: no name and no
    code; --allow-empty accepts that), 2 usage or input error.

    \b
    Examples:
      chainwarden vet pypi:reqeusts npm:lodahs --offline
      chainwarden vet pypi:requests==2.32.3 ./vendor/leftpad-1.3.0.tgz --fail-on high
      chainwarden vet . --scan-code -f sarif -o vet.sarif
    """
    from chainwarden.analyzers import VetOptions
    from chainwarden.analyzers import vet as run_vet
    from chainwarden.cli.common import load_checked_config as load_config

    profile = load_profile_option(profile_path, fail_on_in_use)
    start = next((Path(t) for t in targets if Path(t).is_dir()), None)
    config = load_config(start=start, explicit=config_path)
    options = VetOptions(
        offline=offline,
        pypi_url=pypi_url,
        npm_url=npm_url,
        scan_code=scan_code,
        scan_distro_packages=scan_distro_packages,
        check_claims=not no_claim_check,
        ignore=ignore,
        source=source_options(platform, cache_dir, no_cache, insecure_registry),
    )
    progress = RichProgress()
    try:
        result = run_vet(list(targets), config=config, options=options, progress=progress)
    finally:
        progress.finish()
    for note in result.notes:
        click.echo(f"chainwarden: note: {note}", err=True)
    coverage = Coverage((("name", result.packages_checked), ("package", result.artifacts_scanned)), result.skipped)
    findings = result.findings
    target = " ".join(targets)
    extra: dict[str, Any] = {
        "vet": {
            "packages": result.packages_checked,
            "artifacts": result.artifacts_scanned,
            "skipped": [s.what + ": " + s.reason for s in result.skipped],
        }
    }
    if provenance:
        if offline:
            raise click.UsageError("--provenance needs the registries; it cannot be combined with --offline")
        from chainwarden.cli.signing import provenance_for_vet

        provenance_findings, extra["provenance"] = provenance_for_vet(targets, result.inventories, npm_url, pypi_url)
        findings = (*findings, *provenance_findings)
    title = (
        f"Package threats in {target} ({result.packages_checked} names, {result.artifacts_scanned} packages scanned)"
    )
    if profile is not None:
        from chainwarden.vulndb import in_use_counts, prioritise_findings

        findings = prioritise_findings(findings, profile)
        extra["in_use"] = {"profile": str(profile_path), "counts": in_use_counts(findings)}
    emit(
        _render(
            findings,
            output_format=output_format,
            command="vet",
            target=target,
            title=title,
            output=output,
            extra=extra,
            profile_name=str(profile_path) if profile is not None else None,
            coverage=coverage,
            origins=dict(result.origins),
            base_dir=_base_dir(targets),
        ),
        output,
    )
    code = in_use_exit_code(findings, fail_on, fail_on_in_use)
    return gate(code, coverage, fail_on=fail_on or fail_on_in_use, allow_empty=allow_empty)


@click.command()
@click.argument("old")
@click.argument("new", required=False)
@click.option(
    "--provenance",
    is_flag=True,
    help="Also verify both versions' npm/PyPI publish provenance; losing verified provenance is high.",
)
@click.option(
    "--lockfiles",
    is_flag=True,
    help="Review a pull request: OLD..NEW (or OLD NEW) are git revisions or directories; every package whose "
    "locked version changed in any lockfile is reviewed, new packages are vetted.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="With --lockfiles: the git repository the revisions belong to [default: the current directory].",
)
@registry_options
@fail_on_option
@allow_empty_option
@format_option(FORMATS)
@output_option
def diff(
    old: str,
    new: str | None,
    provenance: bool,
    lockfiles: bool,
    repo: Path | None,
    config_path: Path | None,
    ignore: tuple[str, ...],
    pypi_url: str | None,
    npm_url: str | None,
    offline: bool,
    fail_on: str | None,
    allow_empty: bool,
    output_format: str,
    output: Path | None,
) -> int:
    """Review an update: what changed between two versions of one package.

    OLD and NEW are archives, directories or registry versions; or give one
    range: pypi:NAME==1.0..1.1 / npm:NAME@1.0.0..1.0.1. Reports new or changed
    install hooks, new dependencies (typosquats, brand-new packages), new
    capabilities (network, processes, eval, native code), new obfuscated files,
    changed npm maintainers, and a verdict. Exit status as for `vet`
    (--fail-on also fails when neither version had a file to compare).

    With --lockfiles, OLD..NEW are two git revisions (BASE.. compares with the
    working tree) or two directories: every package whose locked version
    changed in any supported lockfile is reviewed as above, every package new
    to the lockfiles is vetted (typosquat, age, code), and one report with one
    verdict covers the pull request. A change that could not be reviewed is
    reported as such and fails any --fail-on gate.

    \b
    Examples:
      chainwarden diff pypi:requests==2.31.0..2.32.3
      chainwarden diff npm:left-pad@1.2.0..1.3.0 --fail-on high
      chainwarden diff --lockfiles origin/main..HEAD -f sarif -o review.sarif
    """
    from chainwarden.analyzers import VetOptions, review_update
    from chainwarden.cli.common import load_checked_config as load_config

    config = load_config(explicit=config_path)
    options = VetOptions(offline=offline, pypi_url=pypi_url, npm_url=npm_url, ignore=ignore)
    if lockfiles:
        return _diff_lockfiles(
            old, new, repo=repo, config=config, options=options, fail_on=fail_on, output_format=output_format,
            output=output,
        )  # fmt: skip
    if repo is not None:
        raise click.UsageError("--repo goes with --lockfiles")
    report = review_update(old, new, config=config, options=options)
    target = f"{old} {new}" if new else old
    extra = {
        "update": {
            "ecosystem": report.ecosystem.value,
            "name": report.name,
            "old_version": report.old_version,
            "new_version": report.new_version,
            "bump": report.bump,
            "verdict": report.verdict,
            "added_files": list(report.added_files),
            "removed_files": list(report.removed_files),
            "added_dependencies": list(report.added_dependencies),
        }
    }
    coverage = Coverage((("file", report.files_compared),), report.skipped)
    title = (
        f"Update review: {report.name} {report.old_version} → {report.new_version} ({report.bump}) — {report.verdict}"
    )
    findings: tuple[Finding, ...] = tuple(report.findings)
    if provenance:
        if offline:
            raise click.UsageError("--provenance needs the registries; it cannot be combined with --offline")
        from chainwarden.cli.signing import provenance_for_diff

        provenance_findings, extra["provenance"] = provenance_for_diff(
            report.ecosystem.value, report.name, report.old_version, report.new_version, npm_url, pypi_url
        )
        findings = (*findings, *provenance_findings)
    emit(
        _render(
            findings,
            output_format=output_format,
            command="diff",
            target=target,
            title=title,
            output=output,
            extra=extra,
            coverage=coverage,
        ),
        output,
    )
    return gate(exit_code_for(findings, fail_on), coverage, fail_on=fail_on, allow_empty=allow_empty)


def _diff_lockfiles(
    old: str,
    new: str | None,
    *,
    repo: Path | None,
    config: Config,
    options: VetOptions,
    fail_on: str | None,
    output_format: str,
    output: Path | None,
) -> int:
    from chainwarden.analyzers.lockdiff import review_lockfiles, split_range

    base, head = (old, new) if new is not None else split_range(old)
    progress = RichProgress()
    try:
        review = review_lockfiles(base, head, repo=repo, config=config, options=options, progress=progress)
    finally:
        progress.finish()
    if not review.lockfiles:
        raise click.UsageError(f"no supported lockfile in {review.base} nor in {review.head}: nothing to review")
    counts = {kind: sum(1 for r in review.reviews if r.change.kind == kind) for kind in ("updated", "added")}
    extra: dict[str, Any] = {
        "lockfiles": {
            "base": review.base,
            "head": review.head,
            "verdict": review.verdict,
            "files": list(review.lockfiles),
            "changes": [
                {
                    "ecosystem": r.change.ecosystem.value,
                    "name": r.change.name,
                    "old_version": r.change.old_version,
                    "new_version": r.change.new_version,
                    "kind": r.change.kind,
                    "bump": r.bump,
                    "verdict": r.verdict,
                    "lockfiles": list(r.change.lockfiles),
                    **({"reason": r.reason} if r.reason else {}),
                }
                for r in review.reviews
            ],
            "removed": [
                {"ecosystem": c.ecosystem.value, "name": c.name, "old_version": c.old_version} for c in review.removed
            ],
            "skipped": [s.what + ": " + s.reason for s in review.skipped],
        }
    }
    title = (
        f"Lockfile review {review.base} → {review.head}: {counts['updated']} updated, {counts['added']} added, "
        f"{len(review.removed)} removed — {review.verdict}"
    )
    if review.skipped:
        title += f" — {len(review.skipped)} items not read (listed with -f json)"
    text = _render(
        review.findings,
        output_format=output_format,
        command="diff",
        target=f"{review.base}..{review.head}",
        title=title,
        output=output,
        extra=extra,
    )
    if output_format == "table":
        lines = [
            f"  {r.change.ecosystem.value:<5} {r.change.label:<48} {r.bump:<9} {r.verdict}" for r in review.reviews
        ]
        lines += [f"  {c.ecosystem.value:<5} {c.label:<48} {'':<9} -" for c in review.removed]
        text = (f"Changes ({', '.join(review.lockfiles)}):\n" + "\n".join(lines or ["  none"]) + "\n\n") + text
    emit(text, output)
    code = exit_code_for(review.findings, fail_on)
    if fail_on is not None and review.unreviewed:
        code = max(code, 1)
    return code


@click.group()
def data() -> None:
    """Manage the popularity data the typosquat check compares names with, and the Sigstore trusted root.

    \b
    Examples:
      chainwarden data refresh
      chainwarden data refresh --from-tsv ./snapshots
      chainwarden data trust-root
    """


@data.command()
@click.option(
    "--from-tsv",
    "from_tsv",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Directory with pypi.tsv and npm.tsv snapshots (name + rank / downloads columns) instead of the network.",
)
@click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write [default: the user data dir, which chainwarden prefers over its bundled copy].",
)
def refresh(from_tsv: Path | None, data_dir: Path | None) -> int:
    """Download current popularity statistics (top PyPI projects, npm downloads).

    \b
    Examples:
      chainwarden data refresh
      chainwarden data refresh --from-tsv ./snapshots
      chainwarden data refresh --dir ./popularity
    """
    from chainwarden.analyzers.popularity import refresh as run_refresh
    from chainwarden.analyzers.popularity import user_data_dir

    pypi_tsv = npm_tsv = None
    if from_tsv is not None:
        base = from_tsv if from_tsv.is_dir() else from_tsv.parent
        pypi_tsv, npm_tsv = base / "pypi.tsv", base / "npm.tsv"
        for path in (pypi_tsv, npm_tsv):
            if not path.is_file():
                raise click.UsageError(f"{path}: snapshot not found")
    result = run_refresh(data_dir or user_data_dir(), pypi_tsv=pypi_tsv, npm_tsv=npm_tsv)
    click.echo(
        f"wrote {result.pypi_count} PyPI names to {result.pypi_path} and {result.npm_count} npm names to "
        f"{result.npm_path}"
    )
    return 0


def _add_trust_root() -> None:
    from chainwarden.cli.signing import trust_root

    data.add_command(trust_root)


_add_trust_root()
