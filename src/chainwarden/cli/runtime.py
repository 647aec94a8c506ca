"""``chainwarden profile|harden|drift|watch``: thin wrappers over chainwarden.runtime."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chainwarden.cli.common import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    RichProgress,
    allow_empty_option,
    checked_output,
    emit,
    format_option,
    gate,
    output_option,
)
from chainwarden.cli.options import source_options, target_options
from chainwarden.runtime.profile import (
    ProbeSpec,
    Profile,
    ProfileOptions,
    default_probes,
    load_profile,
    parse_http_request,
)
from chainwarden.runtime.sandbox import Engine, NetMode, parse_probe

_TIMEOUT_HELP = "Wall-clock limit per probe, in seconds."
_ENGINE_HELP = (
    "Sandbox engine: bwrap (bubblewrap: new namespaces, the image root bound as /, needs the bwrap tool) "
    "or podman (podman run --rootfs); both traced by strace from outside."
)


F = TypeVar("F", bound=Callable[..., Any])


def _sandbox_options(func: F) -> F:
    decorators = [
        click.option(
            "--probe",
            "probes",
            multiple=True,
            metavar="CMD",
            help="Run CMD (shell-split) instead of the image CMD; repeatable.",
        ),
        click.option(
            "--http",
            "http",
            multiple=True,
            metavar="METHOD:/PATH",
            help="Start the image CMD as a server and send this request; repeatable.",
        ),
        click.option(
            "--port", type=click.IntRange(1, 65535), default=None, help="Port the server listens on (with --http)."
        ),
        click.option(
            "--net",
            type=click.Choice([m.value for m in NetMode]),
            default=NetMode.NONE.value,
            show_default=True,
            help="Network of the sandbox: none (fresh namespace), loopback, or host.",
        ),
        click.option(
            "--engine",
            type=click.Choice([e.value for e in Engine]),
            default=Engine.BWRAP.value,
            show_default=True,
            help=_ENGINE_HELP,
        ),
        click.option(
            "--timeout", type=click.FloatRange(0.1, 86400), default=60.0, show_default=True, help=_TIMEOUT_HELP
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _probe_specs(probes: tuple[str, ...], http: tuple[str, ...], port: int | None) -> list[ProbeSpec]:
    return list(default_probes([parse_probe(p) for p in probes], [parse_http_request(h) for h in http], port))


def _profile_options(net: str, engine: str, timeout: float, source: Any = None) -> ProfileOptions:
    return ProfileOptions(net=NetMode(net), engine=Engine(engine), timeout=timeout, source=source)


@click.command()
@click.argument("target")
@_sandbox_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=checked_output,
    help="Write the profile JSON to FILE (checked before the run, written atomically).",
)
@format_option(["table", "json"])
@target_options
def profile(
    target: str,
    probes: tuple[str, ...],
    http: tuple[str, ...],
    port: int | None,
    net: str,
    engine: str,
    timeout: float,
    output: Path | None,
    output_format: str,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Run TARGET in a sandbox under strace and record what it executes, loads, reads and connects to.

    The profile maps every traced file back to the package that owns it: the
    table shows used versus unused packages per ecosystem.

    \b
    Examples:
      chainwarden profile oci:./image -o profile.json
      chainwarden profile oci:./image --probe 'python -c "import app"' --probe 'app --version'
      chainwarden profile docker-archive:app.tar --http GET:/healthz --port 8080 -o profile.json
    """
    from chainwarden.runtime.profile import profile_target

    result = profile_target(
        target,
        _probe_specs(probes, http, port),
        _profile_options(net, engine, timeout, source_options(platform, cache_dir, no_cache, insecure_registry)),
        progress=RichProgress(),
    )
    text = result.dumps()
    if output is not None:
        emit(text, output)
    emit(text if output_format == "json" else render_profile_table(result), None)
    return EXIT_CLEAN


def render_profile_table(result: Profile) -> str:
    """The table summary of a profile: probes, programs, files, packages per ecosystem."""
    lines = [f"target  {result.target['reference']}  {result.target.get('digest') or ''}".rstrip()]
    lines.append("")
    lines.append(f"{'probe':<10} {'exit':>5}  command")
    for probe in result.probes:
        if probe.spec.kind == "http":
            outcome = ", ".join(f"{r.method} {r.path} → {r.status}" for r in probe.http)
            lines.append(f"{probe.name:<10} {'http':>5}  {' '.join(probe.argv)[:60]}  [{outcome}]")
        else:
            code = "timeout" if probe.timed_out else (probe.signal or str(probe.exit_code))
            lines.append(f"{probe.name:<10} {code:>5}  {' '.join(probe.argv)[:90]}")
    lines.append("")
    programs = sorted({run.resolved for run in result.programs})
    lines.append(f"programs executed: {len(programs)}  processes: {len(result.processes)}")
    counts = {a: 0 for a in ("executed", "loaded", "read", "written", "probed")}
    for use in result.files.values():
        counts[use.strongest().value] += 1
    lines.append("files: " + ", ".join(f"{n} {a}" for a, n in counts.items()))
    if result.network:
        lines.append("network: " + "; ".join(e.label() + ("" if e.ok else " (failed)") for e in result.network[:10]))
    lines.append("")
    lines.append(f"{'ecosystem':<10} {'packages':>8} {'used':>6} {'unused':>7}")
    for ecosystem, numbers in sorted(result.summary().items()):
        lines.append(
            f"{ecosystem:<10} {numbers['total']:>8} {numbers['used']:>6} {numbers['total'] - numbers['used']:>7}"
        )
    used = [p for p in result.packages if p.used]
    if used:
        lines.append("")
        lines.append("used packages: " + ", ".join(f"{p.name} ({p.status})" for p in used[:40]))
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


@click.command()
@click.argument("target")
@click.option(
    "--profile",
    "profile_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Profile written by `chainwarden profile`.",
)
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    metavar="oci:DIR|docker-archive:FILE.tar",
    help="Where to write the hardened image.",
)
@click.option(
    "--granularity",
    type=click.Choice(["package", "file"]),
    default="package",
    show_default=True,
    help="Remove unused packages whole, or keep only accessed files.",
)
@click.option("--keep", multiple=True, metavar="GLOB", help="Always keep paths matching GLOB; repeatable.")
@click.option("--drop", multiple=True, metavar="GLOB", help="Always remove paths matching GLOB; repeatable.")
@click.option("--no-verify", is_flag=True, help="Skip re-running the probes in the hardened image (not recommended).")
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite an output file, directory or SBOM that is not an earlier output of harden.",
)
@click.option(
    "--engine",
    type=click.Choice([e.value for e in Engine]),
    default=Engine.BWRAP.value,
    show_default=True,
    help=_ENGINE_HELP + " Used to re-run the probes in the hardened image.",
)
@click.option("--timeout", type=click.FloatRange(0.1, 86400), default=60.0, show_default=True, help=_TIMEOUT_HELP)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Vulnerability database for the before/after comparison "
    "[env CHAINWARDEN_DB; default: osv.sqlite3 in the user cache dir; skipped with a note when absent].",
)
@format_option(["table", "json"])
@target_options
def harden(
    target: str,
    profile_path: Path,
    output: str,
    granularity: str,
    keep: tuple[str, ...],
    drop: tuple[str, ...],
    no_verify: bool,
    force: bool,
    engine: str,
    timeout: float,
    db_path: Path | None,
    output_format: str,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Write a hardened copy of TARGET without what the profile never used, then verify it.

    Every probe of the profile is re-run in the new image; a different exit
    code or output is an error naming the probe and the first missing file.

    Files written: the image (-o oci:DIR, or docker-archive:FILE.tar) and its
    CycloneDX SBOM beside it, DIR.cdx.json or FILE.cdx.json. Both are checked
    before any work: the source image, a missing directory, or an existing
    file or non-empty directory that is not an earlier output of harden is
    refused (exit 2) unless --force. Both are written atomically (temp file
    or directory beside them, then renamed).

    \b
    Examples:
      chainwarden harden oci:./image --profile profile.json -o oci:./hardened
      chainwarden harden oci:./image --profile profile.json -o docker-archive:slim.tar --granularity file
      chainwarden harden oci:./image --profile profile.json -o oci:./hardened --keep '/etc/ssl/**'
    """
    from chainwarden.runtime.harden import HardenOptions, harden_target

    report = harden_target(
        target,
        load_profile(profile_path),
        output,
        HardenOptions(
            granularity=granularity,
            keep=keep,
            drop=drop,
            verify=not no_verify,
            engine=Engine(engine),
            timeout=timeout,
            vuln_db=db_path,
            force=force,
            source=source_options(platform, cache_dir, no_cache, insecure_registry),
        ),
        progress=RichProgress(),
    )
    emit(json.dumps(report.to_json(), indent=2) if output_format == "json" else report.render(), None)
    return EXIT_CLEAN


@click.command()
@click.option(
    "--baseline", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Baseline profile."
)
@click.argument("current")
@_sandbox_options
@click.option(
    "--fail-on",
    type=click.Choice(["info", "low", "medium", "high", "critical"]),
    default="low",
    show_default=True,
    help="Exit 1 when a deviation is at or above this severity.",
)
@allow_empty_option
@format_option(["table", "json", "sarif"])
@output_option
@target_options
def drift(
    baseline: Path,
    current: str,
    probes: tuple[str, ...],
    http: tuple[str, ...],
    port: int | None,
    net: str,
    engine: str,
    timeout: float,
    fail_on: str,
    allow_empty: bool,
    output_format: str,
    output: Path | None,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Compare CURRENT (an image, dir:ROOTFS of a running container, or a second profile) with a baseline.

    Added or modified files (executables, scripts, libraries first), programs
    not in the image or baseline, new network destinations, writes to system paths.
    A comparison that compared nothing (a baseline without a file manifest
    and no probe run) fails, as --fail-on always gates here (--allow-empty
    accepts it).

    \b
    Examples:
      chainwarden drift --baseline profile.json oci:./image-1.5
      chainwarden drift --baseline profile.json dir:/proc/1234/root --fail-on high
      chainwarden drift --baseline profile.json second-profile.json -f sarif -o drift.sarif
    """
    from chainwarden.models import Severity
    from chainwarden.runtime.drift import drift_against

    probe_specs = _probe_specs(probes, http, port) if (probes or http) else None
    report = drift_against(
        load_profile(baseline),
        current,
        probes=probe_specs,
        options=_profile_options(
            net, engine, timeout, source_options(platform, cache_dir, no_cache, insecure_registry)
        ),
    )
    if output_format == "sarif":
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif

        findings = [d.to_finding() for d in report.deviations]
        text = render_sarif(findings, rules={}, tool_version=tool_version(), target=current, coverage=report.coverage)
    elif output_format == "json":
        text = json.dumps(report.to_json(), indent=2)
    else:
        text = report.render()
    emit(text, output)
    threshold = Severity(fail_on)
    code = EXIT_FINDINGS if any(d.severity.at_least(threshold) for d in report.deviations) else EXIT_CLEAN
    return gate(code, report.coverage, fail_on=fail_on, allow_empty=allow_empty)


@click.command()
@click.argument("target")
@click.option(
    "--baseline", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Baseline profile."
)
@_sandbox_options
@format_option(["table", "json"])
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append each deviation to FILE as it happens, instead of standard output.",
)
@click.option("--json-lines", is_flag=True, hidden=True, help="Deprecated: use -f json.")
@target_options
def watch(
    target: str,
    baseline: Path,
    probes: tuple[str, ...],
    http: tuple[str, ...],
    port: int | None,
    net: str,
    engine: str,
    timeout: float,
    output_format: str,
    output: Path | None,
    json_lines: bool,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Run TARGET under the tracer and report, live, every deviation from the baseline.

    One line per deviation as it happens: text (-f table) or one JSON object
    per line (-f json; --json-lines is a deprecated alias). Exits 1 when
    anything deviated, 0 when the run matched the baseline.

    \b
    Examples:
      chainwarden watch oci:./image --baseline profile.json
      chainwarden watch oci:./image --baseline profile.json -f json -o deviations.jsonl
      chainwarden watch oci:./image --baseline profile.json --http GET:/ --port 8080
    """
    from chainwarden.errors import ReportError
    from chainwarden.runtime.watch import watch_target

    as_json = output_format == "json" or json_lines
    if json_lines:
        click.echo("chainwarden: warning: --json-lines is deprecated; use -f json", err=True)
    try:
        sink = sys.stdout if output is None else output.open("a", encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {output}: {exc.strerror or exc}") from exc

    def show(deviation: object) -> None:
        from chainwarden.runtime.drift import Deviation

        assert isinstance(deviation, Deviation)
        line = json.dumps(deviation.to_json()) if as_json else deviation.line()
        try:
            sink.write(line + "\n")
            sink.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise ReportError(f"cannot write {output or 'standard output'}: {exc.strerror or exc}") from exc

    probe_specs = _probe_specs(probes, http, port) if (probes or http) else None
    try:
        deviations = watch_target(
            target,
            load_profile(baseline),
            show,
            probes=probe_specs,
            options=_profile_options(
                net, engine, timeout, source_options(platform, cache_dir, no_cache, insecure_registry)
            ),
        )
    finally:
        if sink is not sys.stdout:
            sink.close()
    return EXIT_FINDINGS if deviations else EXIT_CLEAN
