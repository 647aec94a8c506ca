"""``chainwarden lint PATH|TARGET``"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from chainwarden.cli.common import RichProgress, emit, exit_code_for, fail_on_option, format_option, output_option
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
@click.option("--fix", is_flag=True, help="Rewrite what is mechanically safe (npm ci, --frozen-lockfile, https…).")
@fail_on_option
@format_option(FORMATS)
@output_option
@target_options
def lint(
    target: str,
    config_path: Path | None,
    fix: bool,
    fail_on: str | None,
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

            fixed = fix_path(path, config)
            result: LintResult = fixed.result
            changes = fixed.changes
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

    for change in changes:
        click.echo(f"fixed {change.path}:{change.line}: {change.description}", err=True)
    for skipped in result.skipped:
        click.echo(f"chainwarden: skipped {skipped.what}: {skipped.reason}", err=True)

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
        text = render_findings_json(findings, command="lint", target=target, extra=extra)
    elif output_format == "sarif":
        from chainwarden.lint.rules import rule_infos
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif

        text = render_sarif(findings, rules=rule_infos(), tool_version=tool_version(), target=target, base_dir=base_dir)
    elif output_format == "html":
        from chainwarden.report.html import render_findings_html

        text = render_findings_html(findings, command="lint", target=target)
    else:
        from chainwarden.report.table import render_findings_table

        text = render_findings_table(
            findings,
            title=f"chainwarden lint {target}: {len(result.files)} files",
            color=output is None and sys.stdout.isatty(),
            group_by_package=False,
        )
        if result.suppressed:
            text = text.rstrip("\n") + f"\n{len(result.suppressed)} finding(s) suppressed by ignore comments.\n"
    emit(text, output)
    return exit_code_for(findings, fail_on)
