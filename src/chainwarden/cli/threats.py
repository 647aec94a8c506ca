"""``chainwarden vet``, ``chainwarden diff`` and ``chainwarden data refresh``: package threats."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from chainwarden.cli.common import RichProgress, emit, exit_code_for, fail_on_option, format_option, output_option
from chainwarden.cli.in_use import in_use_exit_code, in_use_options, in_use_tables, load_profile_option
from chainwarden.models import Finding

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
) -> str:
    if output_format == "json":
        from chainwarden.report.json_report import render_findings_json

        return render_findings_json(findings, command=command, target=target, extra=extra)
    if output_format == "sarif":
        from chainwarden.analyzers import rule_infos
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif

        return render_sarif(findings, rules=rule_infos(), tool_version=tool_version(), target=target)
    if output_format == "html":
        from chainwarden.report.html import render_findings_html

        return render_findings_html(findings, command=command, target=target)
    from chainwarden.report.table import render_findings_table

    color = output is None and sys.stdout.isatty()
    if profile_name is not None:
        return in_use_tables(findings, title=title, profile_name=profile_name, color=color)
    return render_findings_table(findings, title=title, color=color)


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
@registry_options
@in_use_options
@fail_on_option
@format_option(FORMATS)
@output_option
def vet(
    targets: tuple[str, ...],
    scan_code: bool,
    scan_distro_packages: bool,
    no_claim_check: bool,
    config_path: Path | None,
    ignore: tuple[str, ...],
    pypi_url: str | None,
    npm_url: str | None,
    offline: bool,
    profile_path: Path | None,
    fail_on_in_use: str | None,
    fail_on: str | None,
    output_format: str,
    output: Path | None,
) -> int:
    """Check packages before installing them: typosquats, dependency confusion, malicious code.

    TARGETS are bare names (pypi:reqeusts npm:lodahs), registry versions to
    download and scan (pypi:NAME==VER, npm:NAME@VER), package archives
    (.whl, .tar.gz, .tgz, .zip), project directories and images (their
    lockfiles, manifests and installed packages; with --scan-code, the code of
    every PyPI/npm package installed in an image). Code is read, never run.

    With --profile (a runtime profile of the same image), findings on
    installed packages are tagged in-use executed/loaded/read/not-observed, as
    by `scan --profile`: malicious code in a package whose code ran comes first,
    and --fail-on-in-use gates on those alone.

    Exit status: 0 clean, 1 a finding at or above --fail-on (or an in-use
    finding at or above --fail-on-in-use), 2 usage or input error.
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
    )
    progress = RichProgress()
    try:
        result = run_vet(list(targets), config=config, options=options, progress=progress)
    finally:
        progress.finish()
    findings = result.findings
    target = " ".join(targets)
    extra: dict[str, Any] = {
        "vet": {
            "packages": result.packages_checked,
            "artifacts": result.artifacts_scanned,
            "skipped": [s.what + ": " + s.reason for s in result.skipped],
        }
    }
    title = (
        f"Package threats in {target} ({result.packages_checked} names, {result.artifacts_scanned} packages scanned)"
    )
    if result.skipped:
        title += f" — {len(result.skipped)} items not scanned (listed with -f json)"
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
        ),
        output,
    )
    return in_use_exit_code(findings, fail_on, fail_on_in_use)


@click.command()
@click.argument("old")
@click.argument("new", required=False)
@registry_options
@fail_on_option
@format_option(FORMATS)
@output_option
def diff(
    old: str,
    new: str | None,
    config_path: Path | None,
    ignore: tuple[str, ...],
    pypi_url: str | None,
    npm_url: str | None,
    offline: bool,
    fail_on: str | None,
    output_format: str,
    output: Path | None,
) -> int:
    """Review an update: what changed between two versions of one package.

    OLD and NEW are archives, directories or registry versions; or give one
    range: pypi:NAME==1.0..1.1 / npm:NAME@1.0.0..1.0.1. Reports new or changed
    install hooks, new dependencies (typosquats, brand-new packages), new
    capabilities (network, processes, eval, native code), new obfuscated files,
    changed npm maintainers, and a verdict. Exit status as for `vet`.
    """
    from chainwarden.analyzers import VetOptions, review_update
    from chainwarden.cli.common import load_checked_config as load_config

    config = load_config(explicit=config_path)
    options = VetOptions(offline=offline, pypi_url=pypi_url, npm_url=npm_url, ignore=ignore)
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
    title = (
        f"Update review: {report.name} {report.old_version} → {report.new_version} ({report.bump}) — {report.verdict}"
    )
    emit(
        _render(
            report.findings,
            output_format=output_format,
            command="diff",
            target=target,
            title=title,
            output=output,
            extra=extra,
        ),
        output,
    )
    return exit_code_for(report.findings, fail_on)


@click.group()
def data() -> None:
    """Manage the popularity data the typosquat check compares names with."""


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
    """Download current popularity statistics (top PyPI projects, npm downloads)."""
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
