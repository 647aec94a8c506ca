"""``chainwarden db update|import|status`` and ``chainwarden scan TARGET``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from chainwarden.cli.common import (
    EXIT_CLEAN,
    RichProgress,
    allow_empty_option,
    emit,
    fail_on_option,
    format_option,
    gate,
    use_color,
)
from chainwarden.cli.common import output_option as output_option_
from chainwarden.cli.in_use import in_use_exit_code, in_use_options, in_use_tables, load_profile_option
from chainwarden.cli.options import source_options, target_options

# the choices of `db update -e`: the default three, and the ecosystems fetched on request
from chainwarden.vulndb.osv_import import OPTIONAL_ECOSYSTEMS
from chainwarden.vulndb.osv_import import SUPPORTED_ECOSYSTEMS as DEFAULT_ECOSYSTEMS

F = TypeVar("F", bound=Callable[..., Any])

SCAN_FORMATS = ("table", "json", "sarif", "cyclonedx", "html")


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Vulnerability database file [env CHAINWARDEN_DB; default: osv.sqlite3 in the user cache dir].",
    )(func)


def _warn(message: str) -> None:
    click.echo(f"chainwarden: warning: {message}", err=True)


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _human_age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return "just now"
    if seconds < 7200:
        return f"{seconds // 60} minutes ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} hours ago"
    return f"{seconds // 86400} days ago"


def _resolve_db(db_path: Path | None) -> Path:
    from chainwarden.vulndb import default_db_path

    return db_path or default_db_path()


# -- db ----------------------------------------------------------------------------------


@click.group()
def db() -> None:
    """Manage the offline vulnerability database (OSV records for PyPI, npm, Debian).

    The database is one SQLite file, replaced atomically by every import:
    a failed update never leaves a broken database behind.

    \b
    Examples:
      chainwarden db update
      chainwarden db import ./advisory-database/vulns
      chainwarden db status
    """


def _print_import(report: Any) -> None:
    from chainwarden.vulndb.osv_import import summarize_problems

    for source in report.sources:
        withdrawn = f", {source.withdrawn} withdrawn (kept, never matched)" if source.withdrawn else ""
        older = source.records_read - source.records_written
        kept = f", {older} older than records already present" if older else ""
        same = f", {source.records_unchanged} unchanged since the last import" if source.records_unchanged else ""
        click.echo(
            f"imported {source.records_written} records from {source.location} ({source.kind}){withdrawn}{kept}{same}"
        )
    size = report.db_path.stat().st_size if report.db_path.exists() else 0
    click.echo(f"database {report.db_path} ({_human_size(size)}) written in {report.seconds:.1f} s")
    if report.problems:
        _warn(f"skipped {len(report.problems)} malformed file(s) or record(s):")
        for line in summarize_problems(report.problems, limit=10):
            click.echo(f"  {line}", err=True)


@db.command("update")
@click.option(
    "--ecosystem",
    "-e",
    "ecosystems",
    multiple=True,
    type=click.Choice((*DEFAULT_ECOSYSTEMS, *OPTIONAL_ECOSYSTEMS), case_sensitive=False),
    help="Ecosystem to download (repeatable) [default: all of PyPI, npm, Debian; Alpine, the Red Hat "
    "family, SUSE, Go and crates.io on request].",
)
@click.option(
    "--url-base",
    default=None,
    help="Where the <Ecosystem>/all.zip exports live [default: OSV's public bucket].",
)
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True, help="Network timeout (s).")
@db_option
def update(ecosystems: Sequence[str], url_base: str | None, timeout: float, db_path: Path | None) -> int:
    """Download OSV's all.zip export of each ecosystem and import it.

    Every download finishes before the database is touched; on any failure the
    previous database stays as it was. Offline? Use `chainwarden db import`.

    \b
    Examples:
      chainwarden db update
      chainwarden db update -e PyPI -e npm --db ./osv.sqlite3
      chainwarden db update --url-base https://mirror.example.com/osv
    """
    from chainwarden.vulndb import DEFAULT_URL_BASE, update_database

    progress = RichProgress()
    try:
        report = update_database(
            ecosystems or DEFAULT_ECOSYSTEMS,
            _resolve_db(db_path),
            url_base=url_base or DEFAULT_URL_BASE,
            timeout=timeout,
            progress=progress,
            on_wait=_warn,
        )
    finally:
        progress.finish()
    _print_import(report)
    return EXIT_CLEAN


@db.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True, help="Start from an empty database instead of adding to the current one.")
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Import even when PATHS hold no OSV record (this empties their sources, or with --replace the database).",
)
@click.option(
    "--wait",
    "lock_wait",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds to wait for another import of the same database to finish (0: fail at once).",
)
@db_option
def import_(paths: Sequence[Path], replace: bool, allow_empty: bool, lock_wait: float, db_path: Path | None) -> int:
    """Import OSV records from PATHS: directories, all.zip exports, .json/.yaml files.

    Directories are searched recursively for *.json, *.yaml and *.yml (the
    layout of the PyPA advisory-database, vulns/<package>/<ID>.yaml, works as
    is). Importing the same path again replaces what it imported before;
    records from other sources stay. Malformed records are skipped and listed.

    Files written: the database (through a symlink to its target, keeping its
    permissions), a temporary .osv.sqlite3.*.tmp beside it while the import
    runs (removed on failure, Ctrl-C or SIGTERM), and the lock file
    DATABASE.lock that serialises concurrent imports. An import that finds no
    record at all is refused unless --allow-empty.

    \b
    Examples:
      chainwarden db import ./advisory-database/vulns
      chainwarden db import PyPI-all.zip npm-all.zip --replace
      chainwarden db import GHSA-xxxx-yyyy-zzzz.json --db ./osv.sqlite3
    """
    from chainwarden.vulndb import import_osv

    progress = RichProgress()
    try:
        report = import_osv(
            list(paths),
            _resolve_db(db_path),
            replace=replace,
            allow_empty=allow_empty,
            lock_wait=lock_wait,
            on_wait=_warn,
            progress=progress,
        )
    finally:
        progress.finish()
    _print_import(report)
    return EXIT_CLEAN


@db.command("status")
@db_option
@format_option(("table", "json"))
def status(db_path: Path | None, output_format: str) -> int:
    """Show the database: sources, records per ecosystem, age.

    \b
    Examples:
      chainwarden db status
      chainwarden db status --db ./osv.sqlite3 -f json
    """
    import json

    from chainwarden.vulndb import open_database

    with open_database(_resolve_db(db_path)) as database:
        info = database.status()
    now = datetime.now(UTC)
    if output_format == "json":
        click.echo(json.dumps(info.to_dict(now), indent=2))
        return EXIT_CLEAN
    age = info.age(now)
    updated = f"{info.updated_at:%Y-%m-%d %H:%M} UTC ({_human_age(age)})" if info.updated_at and age else "never"
    newest = f", newest record modified {info.newest_modified[:10]}" if info.newest_modified else ""
    lines = [
        f"Database   {info.path} ({_human_size(info.size_bytes)}, schema {info.schema_version})",
        f"Updated    {updated}",
        f"Records    {info.records} ({info.withdrawn} withdrawn){newest}",
        "",
        f"{'Ecosystem':<16} {'Records':>8} {'Packages':>9}",
    ]
    lines += [f"{eco.ecosystem:<16} {eco.records:>8} {eco.packages:>9}" for eco in info.ecosystems]
    lines += ["", "Sources"]
    for src in info.sources:
        lines += [
            f"  {src.location}",
            f"    {src.kind}, {src.records} records, imported {src.imported_at:%Y-%m-%d %H:%M} UTC",
        ]
    click.echo("\n".join(_fit(line) for line in lines))
    return EXIT_CLEAN


def _fit(line: str) -> str:
    """``line`` wrapped to the terminal width ($COLUMNS, else the terminal, else 80), continuation indented."""
    import shutil
    import textwrap

    width = max(shutil.get_terminal_size((80, 24)).columns, 40)
    if len(line) <= width:
        return line
    indent = " " * min(len(line) - len(line.lstrip()) + 4, 11)
    return "\n".join(
        textwrap.wrap(
            line,
            width=width,
            subsequent_indent=indent,
            break_long_words=True,
            break_on_hyphens=False,
            drop_whitespace=True,
        )
    )


# -- scan --------------------------------------------------------------------------------


def _vuln_rule() -> Any:
    from chainwarden.models import Severity
    from chainwarden.report.interface import RuleInfo

    return RuleInfo(
        id="vuln",
        name="KnownVulnerability",
        short_description="A package version with a published vulnerability (OSV)",
        help_text=(
            "An installed or locked package version falls in an affected range of an OSV advisory. "
            "Upgrade to a fixed version (see the finding's remediation), or record why it does not "
            "apply in .chainwarden-ignore.yaml or an OpenVEX document."
        ),
        default_severity=Severity.HIGH,
    )


def _malicious_rule() -> Any:
    from chainwarden.models import Severity
    from chainwarden.report.interface import RuleInfo

    return RuleInfo(
        id="known-malicious-package",
        name="KnownMaliciousPackage",
        short_description="A package version published to do harm (OSV MAL- record, OpenSSF malicious packages)",
        help_text=(
            "An installed or locked package version is named by a malicious-package report. No upgrade fixes it: "
            "remove it, treat every machine and build that installed it as compromised, and rotate the "
            "credentials they could reach."
        ),
        default_severity=Severity.CRITICAL,
    )


def _base_dir(target: str) -> Path | None:
    from chainwarden.sources import split_scheme

    scheme, rest = split_scheme(target)
    path = Path(rest if scheme == "dir" else target)
    return path if scheme in (None, "dir") and path.is_dir() else None


def _text_sections(result: Any) -> str:
    """Best upgrades, skipped packages and suppressions under the table."""
    lines: list[str] = []
    upgrades = result.best_upgrades
    if upgrades:
        lines.append("Best upgrades (fix the most findings per package):")
        for upgrade in upgrades:
            total = len(upgrade.fixes) + len(upgrade.remaining)
            left = f"; still open: {', '.join(upgrade.remaining)}" if upgrade.remaining else ""
            lines.append(
                f"  {upgrade.package.name} {upgrade.package.version} -> {upgrade.version}"
                f"  fixes {len(upgrade.fixes)} of {total}{left}"
            )
    if result.skipped:
        by_reason: dict[str, list[str]] = {}
        for skipped in result.skipped:
            reason = f"{skipped.vuln_id}: {skipped.reason}" if skipped.vuln_id else skipped.reason
            label = f"{skipped.package.name} {skipped.package.version}".strip()
            by_reason.setdefault(reason, []).append(label)
        lines.append(f"Not compared ({len(result.skipped)}):")
        for reason, labels in sorted(by_reason.items()):
            shown = ", ".join(sorted(set(labels))[:5])
            more = f" and {len(set(labels)) - 5} more" if len(set(labels)) > 5 else ""
            lines.append(f"  {shown}{more}: {reason}")
    if result.suppressed:
        lines.append(f"Suppressed ({len(result.suppressed)}):")
        for suppression in result.suppressed:
            lines.append(
                f"  {suppression.match.vuln_id} in {suppression.match.package.name}: "
                f"{suppression.reason} ({suppression.by})"
            )
    return "\n".join(lines)


def _scan_coverage(inventory: Any, result: Any, *, with_not_compared: bool) -> Any:
    """Packages compared, and what was skipped: the inventory's skipped files, packages not compared."""
    from chainwarden.models import Coverage, Skipped

    whole = {skipped.package.id for skipped in result.skipped if skipped.vuln_id is None}
    skipped = list(inventory.skipped)
    if with_not_compared:
        for item in result.skipped:
            package = item.package
            label = f"{package.ecosystem.value}:{package.name} {package.version}".strip()
            reason = f"{item.vuln_id}: {item.reason}" if item.vuln_id else item.reason
            where = package.locations[0] if package.locations else None
            skipped.append(Skipped(label, where, f"not compared: {reason}"))
    return Coverage((("package", max(result.packages_scanned - len(whole), 0)),), tuple(skipped))


@click.command()
@click.argument("target")
@fail_on_option
@allow_empty_option
@click.option(
    "--ignore-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML list of ignored ids with reason and expiry [default: ./.chainwarden-ignore.yaml if present].",
)
@click.option(
    "--vex",
    "vex_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="OpenVEX document; not_affected/fixed statements suppress findings (repeatable).",
)
@click.option("--only-fixed", is_flag=True, help="Report only vulnerabilities that have a fixed version.")
@in_use_options
@db_option
@format_option(SCAN_FORMATS)
@output_option_
@target_options
def scan(
    target: str,
    fail_on: str | None,
    allow_empty: bool,
    ignore_file: Path | None,
    vex_files: Sequence[Path],
    only_fixed: bool,
    profile_path: Path | None,
    fail_on_in_use: str | None,
    db_path: Path | None,
    output_format: str,
    output: Path | None,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Match the packages of TARGET against the vulnerability database.

    TARGET is an image or a directory, as for `chainwarden sbom`. Debian
    packages are matched through their source package and the release in
    /etc/os-release, PyPI names PEP 503-normalised, npm names exactly.
    Findings listed in the ignore file (with a reason, until it expires) or
    stated not_affected/fixed by an OpenVEX document are suppressed.

    With --profile (a runtime profile of the same image), every finding is
    tagged in-use:executed, loaded, read, unknown or not-observed from what the
    profiled probes touched, in-use findings come first, and --fail-on-in-use
    gates on those alone. Node modules that Debian ships (/usr/share/nodejs)
    are matched against npm advisories and tagged debian-packaged: their fix
    comes through apt. A vulnerability Debian's records also report for the
    owning .deb is shown once, on the .deb; one Debian's records show as fixed
    in the installed .deb (a backport) is suppressed (by debian-backport).

    Files that could not be read (a truncated lockfile) are listed as skipped
    in every format, and --fail-on fails a scan that compared no package at
    all (--allow-empty accepts it).

    Exit status: 0 clean, 1 a finding at or above --fail-on (or an in-use
    finding at or above --fail-on-in-use, or nothing compared), 2 usage or
    input error (e.g. no database: run `chainwarden db update` or `db import PATH`).

    \b
    Examples:
      chainwarden scan . --fail-on high
      chainwarden scan oci:./image -f sarif -o scan.sarif
      chainwarden scan registry:ghcr.io/org/app:1.4 --only-fixed --ignore-file .chainwarden-ignore.yaml
    """
    from chainwarden.api import build_inventory
    from chainwarden.vulndb import (
        DEFAULT_IGNORE_FILE,
        STALE_AFTER_DAYS,
        apply_suppressions,
        load_ignore_file,
        load_openvex,
        match_inventory,
        open_database,
    )

    # everything that can fail on bad input fails before the (slow) inventory
    profile = load_profile_option(profile_path, fail_on_in_use)
    database = open_database(_resolve_db(db_path))
    with database:
        info = database.status()
        age = info.age()
        if age is not None and age > timedelta(days=STALE_AFTER_DAYS):
            _warn(
                f"the vulnerability database is {age.days} days old (last import "
                f"{info.updated_at:%Y-%m-%d}); run `chainwarden db update`"
            )
        if ignore_file is None and Path(DEFAULT_IGNORE_FILE).is_file():
            ignore_file = Path(DEFAULT_IGNORE_FILE)
        ignores = load_ignore_file(ignore_file) if ignore_file is not None else None
        statements = tuple(statement for path in vex_files for statement in load_openvex(path))

        progress = RichProgress()
        try:
            inventory = build_inventory(
                target,
                options=source_options(platform, cache_dir, no_cache, insecure_registry),
                progress=progress,
            )
        finally:
            progress.finish()
        result = match_inventory(inventory, database)
    result = apply_suppressions(result, ignore=ignores, vex=statements)
    if only_fixed:
        result = result.only_fixed()
    if profile is not None:
        from chainwarden.vulndb import prioritise

        result = prioritise(result, profile, target=inventory.target, profile_name=str(profile_path))
    for warning in result.warnings:
        _warn(warning)

    findings = result.findings
    coverage = _scan_coverage(inventory, result, with_not_compared=True)
    if output_format == "json":
        from chainwarden.report.json_report import render_findings_json

        extra = result.extra()
        extra["database"] = {
            "path": str(info.path),
            "updated_at": info.updated_at.isoformat() if info.updated_at else None,
            "records": info.records,
        }
        text = render_findings_json(
            findings, command="scan", target=target, inventory=inventory, extra=extra, coverage=coverage
        )
    elif output_format == "sarif":
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif

        text = render_sarif(
            findings,
            rules={"vuln": _vuln_rule(), "known-malicious-package": _malicious_rule()},
            tool_version=tool_version(),
            target=target,
            base_dir=_base_dir(target),
            coverage=coverage,
        )
    elif output_format == "cyclonedx":
        from chainwarden.report.cyclonedx import render_cyclonedx

        text = render_cyclonedx(inventory, findings)
    elif output_format == "html":
        from chainwarden.report.html import render_findings_html

        text = render_findings_html(findings, command="scan", target=target, inventory=inventory)
    else:
        from chainwarden.report.table import render_coverage, render_findings_table

        color = use_color(output)
        title = f"Vulnerabilities in {target} ({len(inventory.packages)} packages)"
        # the packages not compared are listed under the table, grouped by reason
        table_coverage = _scan_coverage(inventory, result, with_not_compared=False)
        if profile is not None:
            text = in_use_tables(findings, title=title, profile_name=str(profile_path), color=color)
            text = text.rstrip("\n") + "\n" + render_coverage(table_coverage, color=color)
        else:
            text = render_findings_table(findings, title=title, color=color, coverage=table_coverage)
        sections = _text_sections(result)
        if sections:
            text = text.rstrip("\n") + "\n\n" + sections + "\n"
    emit(text, output)
    code = in_use_exit_code(findings, fail_on, fail_on_in_use)
    return gate(code, coverage, fail_on=fail_on or fail_on_in_use, allow_empty=allow_empty)
