"""``chainwarden lint PATH|TARGET``"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from chainwarden.cli.options import source_options, target_options

FORMATS = ("table", "json", "sarif", "html")


@click.command()
@click.argument("target")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="chainwarden.toml to use [default: the first found from PATH upwards].",
)
@click.option(
    "--fix", is_flag=True, help="Rewrite what is mechanically safe (npm ci, --frozen-lockfile, https, FROM digests…)."
)
@click.option("--offline", is_flag=True, help="With --fix: do not ask registries, so base images are not pinned.")
@fail_on_option
@allow_empty_option
@format_option(FORMATS)
@output_option
@target_options
def lint(
    target: str,
    config_path: Path | None,
    fix: bool,
    offline: bool,
    fail_on: str | None,
    allow_empty: bool,
    output_format: str,
    output: Path | None,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Check build hygiene: Dockerfiles, requirements, pyproject, npm lockfiles, .npmrc, APT sources.

    TARGET is a repository directory or a single file (linted as source), or an
    image / root filesystem with a scheme (oci:DIR, docker-archive:FILE.tar,
    oci-archive:FILE.tar, registry:REF, dir:PATH), whose /etc/apt, pip.conf and
    npmrc are audited. Silence one finding with a comment on its line or the
    line before: `# chainwarden: ignore[rule-id] reason`.

    A file named on the command line that cannot be linted (unreadable,
    binary, over the size limit) is an error (exit 2); inside a directory it
    is listed as skipped, with its reason, in every format. --fail-on fails a
    run that linted no file at all (--allow-empty accepts it).

    \b
    Examples:
      chainwarden lint . --fail-on medium
      chainwarden lint Dockerfile -f sarif -o lint.sarif
      chainwarden lint oci:./image --fail-on low
    """
    from chainwarden.cli.common import load_checked_config as load_config
    from chainwarden.errors import UsageError
    from chainwarden.lint import LintResult, lint_view
    from chainwarden.lint.fix import FixChange
    from chainwarden.sources import split_scheme

    scheme, _ = split_scheme(target)
    changes: tuple[FixChange, ...] = ()
    base_dir: Path | None = None
    if scheme is None:
        path = Path(target)
        if not path.exists():
            raise UsageError(
                f"{target}: no such file or directory (images need a scheme: oci:, docker-archive:, registry:, …)"
            )
        config = load_config(start=path, explicit=config_path)
        base_dir = path.resolve() if path.is_dir() else path.resolve().parent
        if fix:
            from chainwarden.lint.fix import fix_path
            from chainwarden.policy.pin import PinOptions

            pin = None if offline else PinOptions(insecure_registry=insecure_registry)
            fixed = fix_path(path, config, pin=pin)
            result: LintResult = fixed.result
            changes = fixed.changes
            for reason in fixed.not_pinned:
                click.echo(f"chainwarden: not pinned {reason}", err=True)
        else:
            from chainwarden.lint import lint_path

            result = lint_path(path, config)
    else:
        if fix:
            raise UsageError(f"{target}: --fix rewrites repository files; it cannot change an image")
        from chainwarden.lint import image_wants
        from chainwarden.sources import open_source

        config = load_config(explicit=config_path)
        progress = RichProgress()
        with open_source(target, source_options(platform, cache_dir, no_cache, insecure_registry)) as source:
            view = source.view(image_wants, progress=progress, cache_key="lint-v1")
            result = lint_view(view, config)
        progress.finish()

    if scheme is None and Path(target).is_file() and result.skipped and not result.files:
        from chainwarden.errors import SourceError

        # the user named this file: not linting it is an error, not an empty report
        raise SourceError(result.skipped[0].reason)
    for change in changes:
        click.echo(f"fixed {change.path}:{change.line}: {change.description}", err=True)
    for skipped in result.skipped:
        click.echo(f"chainwarden: skipped {skipped.what}: {skipped.reason}", err=True)

    from chainwarden.models import Coverage

    coverage = Coverage((("file", len(result.files)),), result.skipped)
    findings = list(result.findings)
    if output_format == "json":
        from chainwarden.report.json_report import render_findings_json

        extra: dict[str, Any] = {
            "linted_files": list(result.files),
            "suppressed": [
                {
                    "rule_id": s.finding.rule_id,
                    "location": str(s.finding.location),
                    "reason": s.reason,
                    "comment_line": s.comment_line,
                }
                for s in result.suppressed
            ],
            "skipped": [{"what": s.what, "reason": s.reason} for s in result.skipped],
            "fixes": [{"path": c.path, "line": c.line, "description": c.description} for c in changes],
        }
        text = render_findings_json(findings, command="lint", target=target, extra=extra, coverage=coverage)
    elif output_format == "sarif":
        from chainwarden.lint.rules import rule_infos
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif

        text = render_sarif(
            findings,
            rules=rule_infos(),
            tool_version=tool_version(),
            target=target,
            base_dir=base_dir,
            coverage=coverage,
        )
    elif output_format == "html":
        from chainwarden.report.html import render_findings_html

        text = render_findings_html(findings, command="lint", target=target)
    else:
        from chainwarden.report.table import render_findings_table

        text = render_findings_table(
            findings,
            title=f"chainwarden lint {target}: {len(result.files)} files",
            color=use_color(output),
            group_by_package=False,
            coverage=coverage,
        )
        if result.suppressed:
            text = text.rstrip("\n") + f"\n{len(result.suppressed)} finding(s) suppressed by ignore comments.\n"
    emit(text, output)
    return gate(exit_code_for(findings, fail_on), coverage, fail_on=fail_on, allow_empty=allow_empty)
