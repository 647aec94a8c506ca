"""Pieces every command shares: error handling, output, progress, exit codes."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from chainwarden.errors import Error, ReportError
from chainwarden.models import Coverage, Finding, Severity
from chainwarden.sources.interface import ProgressCallback

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

if TYPE_CHECKING:
    from chainwarden.config import Config

F = TypeVar("F", bound=Callable[..., Any])

SEVERITY_CHOICES = [s.value for s in Severity if s not in (Severity.UNKNOWN,)]


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP), raised in the main thread so that every ``finally`` runs.

    A subclass of :class:`KeyboardInterrupt`: whatever cleans up after Ctrl-C
    (killing a sandbox, removing temp dirs and files) cleans up after SIGTERM.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def message(self) -> str:
        return "chainwarden: terminated" if self.signum == signal.SIGTERM else "chainwarden: hung up"


#: Signals that end a run like Ctrl-C does: cleaned up, then exit 128 + signal.
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _on_terminate(signum: int, frame: object) -> None:
    # a second signal must not interrupt the cleanup the first one started
    for other in TERMINATING_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise Terminated(signum)


def run_guarded(command: click.Command, args: list[str]) -> int:
    """Run a click command; turn every expected failure into one line + exit 2.

    SIGTERM and SIGHUP are turned into :class:`Terminated` for the run, so they
    clean up like Ctrl-C does (exit 143 / 129 rather than 130).
    """
    if threading.current_thread() is not threading.main_thread():
        return _run(command, args)  # only the main thread may set signal handlers
    # a signal the caller ignores (nohup: SIGHUP) stays ignored
    previous = {
        signum: signal.signal(signum, _on_terminate)
        for signum in TERMINATING_SIGNALS
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        return _run(command, args)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _run(command: click.Command, args: list[str]) -> int:
    try:
        result = command.main(args=args, prog_name="chainwarden", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return EXIT_ERROR
    except click.UsageError as exc:
        # two lines, not click's four: what is wrong first, then how to call the command
        click.echo(f"chainwarden: error: {exc.format_message()}", err=True)
        if exc.ctx is not None:
            usage = exc.ctx.get_usage().replace("\n", " ").strip()
            click.echo(f"{usage}  (see '{exc.ctx.command_path} -h')", err=True)
        return EXIT_ERROR
    except click.ClickException as exc:
        click.echo(f"chainwarden: error: {exc.format_message()}", err=True)
        return EXIT_ERROR
    except click.Abort as exc:
        # click turns Ctrl-C (and our SIGTERM) into Abort; the cause says which
        if isinstance(exc.__cause__, Terminated):
            click.echo(exc.__cause__.message, err=True)
            return exc.__cause__.exit_code
        click.echo("chainwarden: interrupted" if exc.__cause__ is not None else "chainwarden: aborted", err=True)
        return 130
    except Error as exc:
        click.echo(f"chainwarden: error: {exc.diagnostics()}", err=True)
        return EXIT_ERROR
    except Terminated as exc:
        click.echo(exc.message, err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("chainwarden: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return EXIT_CLEAN
    except OSError as exc:
        # the environment failed us (disk full, permission denied) where no Error wraps it yet
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"chainwarden: error: {exc.strerror or exc}{where}", err=True)
        return EXIT_ERROR
    return result if isinstance(result, int) else EXIT_CLEAN


def load_checked_config(start: Path | None = None, explicit: Path | None = None) -> Config:
    """:func:`chainwarden.config.load_config`, plus: every ``[rules]`` id must be one chainwarden has."""
    from chainwarden.config import check_rule_ids, load_config

    config = load_config(start=start, explicit=explicit)
    if config.rules.disabled or config.rules.severity:
        from chainwarden.analyzers import rule_infos as analyzer_rules
        from chainwarden.lint.rules import RULES as LINT_RULES

        check_rule_ids(config, {*LINT_RULES, *analyzer_rules()})
    return config


def format_option(choices: Iterable[str], default: str = "table") -> Callable[[F], F]:
    return click.option(
        "--format",
        "-f",
        "output_format",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="Output format.",
    )


def checked_output(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """``-o FILE`` is checked when parsed, before any work (a missing directory fails at once)."""
    if value is not None:
        from chainwarden._internal.files import check_output_path

        check_output_path(value, min(param.opts, key=len))
    return value


def output_option(func: F) -> F:
    return click.option(
        "--output",
        "-o",
        "output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        default=None,
        callback=checked_output,
        help="Write the report to FILE instead of standard output (atomically: a temp file beside it, renamed).",
    )(func)


def fail_on_option(func: F) -> F:
    return click.option(
        "--fail-on",
        type=click.Choice(SEVERITY_CHOICES),
        default=None,
        help="Exit 1 when a finding is at or above this severity, or when nothing was checked (see --allow-empty).",
    )(func)


def allow_empty_option(func: F) -> F:
    return click.option(
        "--allow-empty",
        is_flag=True,
        help="Let --fail-on pass a run that checked nothing (by default an empty run fails the gate).",
    )(func)


def use_color(output: Path | None) -> bool:
    """Colour only for a terminal on stdout, and never under NO_COLOR (https://no-color.org)."""
    return output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def emit(text: str, output: Path | None) -> None:
    """Write a report to ``output`` or stdout; an I/O failure is a :class:`ReportError` (exit 2)."""
    # a report ends with a newline; an empty one on the terminal stays empty
    if not text.endswith("\n") and (text or output is not None):
        text += "\n"
    emit_pieces((text,), output)


def emit_pieces(pieces: Iterable[str], output: Path | None) -> None:
    """Write a report given in pieces (a large SBOM), never holding it whole; an
    I/O failure is a :class:`ReportError` (exit 2)."""
    from chainwarden._internal.files import open_atomically

    try:
        if output is None:
            sys.stdout.writelines(pieces)
            sys.stdout.flush()
            return
        with open_atomically(output) as stream:
            stream.writelines(pieces)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise ReportError(f"cannot write {output or 'to standard output'}: {exc.strerror or exc}") from exc


def exit_code_for(findings: Iterable[Finding], fail_on: str | None) -> int:
    if fail_on is None:
        return EXIT_CLEAN
    threshold = Severity(fail_on)
    return EXIT_FINDINGS if any(f.severity.at_least(threshold) for f in findings) else EXIT_CLEAN


def gate(code: int, coverage: Coverage, *, fail_on: str | None, allow_empty: bool) -> int:
    """``code`` raised to 1 when a gate is set and the run checked nothing (unless ``allow_empty``).

    A gate that passes on nothing checked is worse than no gate: CI turns
    green while the lockfile it was meant to guard could not be read.
    """
    if fail_on is None or not coverage.empty or allow_empty or code != EXIT_CLEAN:
        return code
    skipped = f" ({len(coverage.skipped)} skipped, see the report)" if coverage.skipped else ""
    click.echo(
        f"chainwarden: nothing was checked{skipped}: --fail-on fails an empty run (--allow-empty accepts it)",
        err=True,
    )
    return EXIT_FINDINGS


class RichProgress(ProgressCallback):
    """Progress on stderr with rich; silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._started = 0.0

    def start(self, total: int | None, description: str, *, unit: str = "bytes") -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        self.finish()
        # bytes as kB/MB with a speed; anything else (records, files) as a plain count
        counters: list[ProgressColumn] = (
            [DownloadColumn(), TransferSpeedColumn()]
            if unit == "bytes"
            else [MofNCompleteColumn() if total is not None else TextColumn("{task.completed:,.0f}"), TextColumn(unit)]
        )
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            *counters,
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)
        self._started = time.monotonic()

    def advance(self, amount: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, amount)

    def note(self, message: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=message)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
