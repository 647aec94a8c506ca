"""``--profile`` and ``--fail-on-in-use``: in-use prioritisation shared by ``scan`` and ``vet``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from chainwarden.cli.common import SEVERITY_CHOICES, exit_code_for
from chainwarden.models import Finding

if TYPE_CHECKING:
    from chainwarden.runtime.profile import Profile

F = TypeVar("F", bound=Callable[..., Any])

_HEADINGS = {
    "executed": "in use: a program of the package ran",
    "loaded": "in use: its code ran inside another program (shared library, Python module, require)",
    "read": "in use: its files were read, none of its code ran",
    "unknown": "the profile does not list these packages (counted as in use)",
    "not-observed": "no profiled probe touched these packages (a profile shows only what its probes ran)",
}


def in_use_options(func: F) -> F:
    """--profile FILE and --fail-on-in-use SEVERITY."""
    func = click.option(
        "--fail-on-in-use",
        type=click.Choice(SEVERITY_CHOICES),
        default=None,
        help="Exit 1 when a finding on a package the profile saw in use is at or above this severity "
        "(needs --profile).",
    )(func)
    return click.option(
        "--profile",
        "profile_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Runtime profile (`chainwarden profile -o`): tag findings in-use executed/loaded/read/not-observed, "
        "in-use first.",
    )(func)


def load_profile_option(profile_path: Path | None, fail_on_in_use: str | None) -> Profile | None:
    """The profile to prioritise with; a usage error for --fail-on-in-use without one."""
    if fail_on_in_use is not None and profile_path is None:
        raise click.UsageError("--fail-on-in-use needs --profile (a runtime profile of the target)")
    if profile_path is None:
        return None
    from chainwarden.runtime.profile import load_profile

    return load_profile(profile_path)


def in_use_exit_code(findings: Sequence[Finding], fail_on: str | None, fail_on_in_use: str | None) -> int:
    """The --fail-on code, raised to 1 when an in-use finding reaches --fail-on-in-use."""
    code = exit_code_for(findings, fail_on)
    if fail_on_in_use is not None:
        from chainwarden.vulndb import is_in_use

        code = max(code, exit_code_for([f for f in findings if is_in_use(f)], fail_on_in_use))
    return code


def in_use_tables(findings: Sequence[Finding], *, title: str, profile_name: str, color: bool) -> str:
    """One findings table per in-use level, most urgent first (the table reporter orders by severity)."""
    from chainwarden.report.table import render_findings_table
    from chainwarden.vulndb import in_use_of

    if not findings:
        return render_findings_table(findings, title=title, color=color)
    by_level: dict[str, list[Finding]] = {}
    for finding in findings:  # already in in-use order
        found = in_use_of(finding)
        by_level.setdefault(found.value if found is not None else "unknown", []).append(finding)
    counts = ", ".join(f"{len(members)} {name}" for name, members in by_level.items())
    parts = [f"{title}\nPrioritised with {profile_name}: {counts}\n"]
    for name, members in by_level.items():
        heading = f"[{name.upper()}] {_HEADINGS.get(name, name)}"
        parts.append(render_findings_table(members, title=heading, color=color).rstrip("\n") + "\n")
    return "\n".join(parts)
