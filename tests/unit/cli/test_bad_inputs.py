"""Every subcommand against a table of bad inputs: the documented exit code, one short message, no traceback.

The table must name every leaf command of the CLI: a new command without bad-input
cases fails ``test_every_subcommand_has_bad_input_cases``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from chainwarden.cli import cli, main

REPO = Path(__file__).resolve().parents[3]
ADVISORIES = REPO / "demo" / "advisories"

#: what the console script does (a __main__ module would be one more file to keep in step)
ENTRY_POINT = "import sys; from chainwarden.cli import main; sys.exit(main())"

EXIT_FINDINGS = 1
EXIT_ERROR = 2

#: (command line, expected exit code). Paths are relative to the workspace made by ``workspace``.
CASES: list[tuple[str, int]] = [
    # sbom
    ("sbom", EXIT_ERROR),
    ("sbom missing", EXIT_ERROR),
    ("sbom docker-archive:bad.tar", EXIT_ERROR),
    ("sbom oci:emptydir", EXIT_ERROR),
    ("sbom emptydir -o /dev/full", EXIT_ERROR),
    ("sbom emptydir -o nodir/x.json", EXIT_ERROR),
    ("sbom emptydir -o emptydir", EXIT_ERROR),
    ("sbom emptydir -f nope", EXIT_ERROR),
    ("sbom undecodable-config", EXIT_ERROR),
    # scan
    ("scan emptydir --db missing.sqlite3", EXIT_ERROR),
    ("scan emptydir --db bad.json", EXIT_ERROR),
    ("scan emptydir --ignore-file bad-date.yaml", EXIT_ERROR),
    ("scan emptydir --ignore-file missing.yaml", EXIT_ERROR),
    ("scan emptydir --ignore-file bad.json", EXIT_ERROR),
    ("scan emptydir --vex missing.json", EXIT_ERROR),
    ("scan emptydir --vex bad.json", EXIT_ERROR),
    ("scan emptydir --profile bad.json", EXIT_ERROR),
    ("scan emptydir --fail-on-in-use high", EXIT_ERROR),
    ("scan emptydir --fail-on high", EXIT_FINDINGS),
    ("scan truncated --fail-on high", EXIT_FINDINGS),
    ("scan truncated/package-lock.json", EXIT_ERROR),
    ("scan emptydir -o /dev/full", EXIT_ERROR),
    ("scan sbom:bad.json --db missing.sqlite3", EXIT_ERROR),
    ("sbom sbom:bad.json", EXIT_ERROR),
    ("sbom sbom:missing.json", EXIT_ERROR),
    # lint
    ("lint missing", EXIT_ERROR),
    ("lint bad.tar", EXIT_ERROR),
    ("lint binary/Dockerfile", EXIT_ERROR),
    ("lint huge/Dockerfile", EXIT_ERROR),
    ("lint emptydir --fail-on low", EXIT_FINDINGS),
    ("lint binary --fail-on low", EXIT_FINDINGS),
    ("lint emptydir --config missing.toml", EXIT_ERROR),
    ("lint emptydir --config bad.json", EXIT_ERROR),
    ("lint docker-archive:bad.tar", EXIT_ERROR),
    ("lint oci:emptydir --fix", EXIT_ERROR),
    ("lint emptydir -o /dev/full", EXIT_ERROR),
    # vet
    ("vet", EXIT_ERROR),
    ("vet pypi:", EXIT_ERROR),
    ("vet npm:@", EXIT_ERROR),
    ("vet missing.whl --offline", EXIT_ERROR),
    ("vet empty.whl --offline", EXIT_ERROR),
    ("vet bad.tar.gz --offline", EXIT_ERROR),
    ("vet pypi:requests==1.0 --offline", EXIT_ERROR),
    ("vet emptydir --offline --fail-on low", EXIT_FINDINGS),
    ("vet emptydir --offline --profile bad.json", EXIT_ERROR),
    ("vet pypi:requests --offline -o /dev/full", EXIT_ERROR),
    # diff
    ("diff a", EXIT_ERROR),
    ("diff missing.whl missing2.whl --offline", EXIT_ERROR),
    ("diff bad.tar.gz bad.tar.gz --offline", EXIT_ERROR),
    ("diff pypi:x==1..2 --offline", EXIT_ERROR),
    ("diff emptydir emptydir --offline --fail-on low", EXIT_FINDINGS),
    # data
    ("data refresh --from-tsv emptydir --dir out", EXIT_ERROR),
    ("data refresh --from-tsv missing", EXIT_ERROR),
    ("data refresh --from-tsv undecodable-tsv --dir out", EXIT_ERROR),
    # db
    ("db status --db missing.sqlite3", EXIT_ERROR),
    ("db status --db bad.json", EXIT_ERROR),
    ("db status -f nope", EXIT_ERROR),
    ("db import missing-path --db new.sqlite3", EXIT_ERROR),
    ("db import", EXIT_ERROR),
    ("db update --url-base http://127.0.0.1:1 --db new.sqlite3 --timeout 1", EXIT_ERROR),
    # runtime (each fails before any sandbox starts)
    ("profile missing", EXIT_ERROR),
    ("profile emptydir --http bogus", EXIT_ERROR),
    ("profile emptydir --probe ''", EXIT_ERROR),
    ("harden emptydir --profile missing.json -o oci:out", EXIT_ERROR),
    ("harden emptydir --profile bad.json -o oci:out", EXIT_ERROR),
    ("drift --baseline bad.json emptydir", EXIT_ERROR),
    ("drift --baseline missing.json emptydir", EXIT_ERROR),
    ("watch emptydir --baseline bad.json", EXIT_ERROR),
    ("watch emptydir --baseline missing.json", EXIT_ERROR),
    # fleet (each fails before any registry or worker is contacted)
    ("fleet add missing --store s.sqlite3", EXIT_ERROR),
    ("fleet add emptydir --db missing.sqlite3 --store s.sqlite3", EXIT_ERROR),
    ("fleet sync '' --store s.sqlite3", EXIT_ERROR),
    ("fleet sync 127.0.0.1:1 --store s.sqlite3 --db missing.sqlite3", EXIT_ERROR),
    ("fleet images --store bad.json", EXIT_ERROR),
    ("fleet images --store mysql://x/y", EXIT_ERROR),
    ("fleet packages '' --store s.sqlite3", EXIT_ERROR),
    ("fleet affected notanid --store s.sqlite3", EXIT_ERROR),
    ("fleet affected 'pkg:pypi/requests@<<2' --store s.sqlite3", EXIT_ERROR),
    ("fleet affected pkg:maven/a/b@1 --store s.sqlite3", EXIT_ERROR),
    ("fleet worker --store s.sqlite3", EXIT_ERROR),
    ("fleet rematch --store s.sqlite3 --db missing.sqlite3", EXIT_ERROR),
    ("fleet stale --older-than forever --store s.sqlite3", EXIT_ERROR),
    ("serve --bind nope", EXIT_ERROR),
    ("serve --store bad.json --bind 127.0.0.1:1", EXIT_ERROR),
    # signing (each fails before any registry is contacted)
    ("keygen --output-key-prefix nodir/cosign", EXIT_ERROR),
    ("sign 127.0.0.1:1/app:1 --key missing.key", EXIT_ERROR),
    ("sign 127.0.0.1:1/app:1 --key bad.json", EXIT_ERROR),
    ("attest 127.0.0.1:1/app:1 --key missing.key --type cyclonedx --predicate bad.json", EXIT_ERROR),
    ("verify 127.0.0.1:1/app:1", EXIT_ERROR),
    ("verify 127.0.0.1:1/app:1 --key bad.json", EXIT_ERROR),
    ("verify-attestation 127.0.0.1:1/app:1 --key missing.pub", EXIT_ERROR),
    ("verify-attestation 127.0.0.1:1/app:1 --certificate-identity-regexp '(' --certificate-oidc-issuer x", EXIT_ERROR),
    ("data trust-root --tuf-url http://127.0.0.1:1 --dir out", EXIT_ERROR),
    # pin, admit, mirror, apt-keys (each fails before any registry is contacted)
    ("pin", EXIT_ERROR),
    ("pin missing", EXIT_ERROR),
    ("pin emptydir", EXIT_ERROR),
    ("pin bad.json", EXIT_ERROR),
    ("pin binary/Dockerfile --offline", EXIT_ERROR),
    ("pin emptydir --platform unknown/unknown", EXIT_ERROR),
    ("admit check --policy missing.yaml 127.0.0.1:1/a:1", EXIT_ERROR),
    ("admit check --policy bad.json 127.0.0.1:1/a:1", EXIT_ERROR),
    ("admit serve --policy bad.json --tls-cert bad.json --tls-key bad.json", EXIT_ERROR),
    ("admit serve --policy bad.json --tls-cert bad.json --tls-key bad.json --workers 0", EXIT_ERROR),
    ("mirror 127.0.0.1:1/a:1", EXIT_ERROR),
    ("mirror 127.0.0.1:1/a:1 127.0.0.1:1/b@sha256:" + "0" * 64, EXIT_ERROR),
    ("mirror --from-file emptydir 127.0.0.1:1/prefix", EXIT_ERROR),
    ("apt-keys missing", EXIT_ERROR),
    ("apt-keys emptydir --fail-on low", EXIT_FINDINGS),
]


def _leaf_commands(
    command: click.Command, path: tuple[str, ...] = (), parent: click.Context | None = None
) -> Iterator[str]:
    if isinstance(command, click.Group):
        # make_context, not a bare Context: it applies context_settings (-h) before click caches the help option
        ctx = command.make_context(path[-1] if path else "chainwarden", [], parent=parent, resilient_parsing=True)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _leaf_commands(sub, (*path, name), ctx)
    else:
        yield " ".join(path)


def test_every_subcommand_has_bad_input_cases() -> None:
    covered = set()
    for line, _ in CASES:
        words = shlex.split(line)
        covered.add(
            " ".join(words[:2]) if words[0] in ("db", "data", "admit", "fleet") and len(words) > 1 else words[0]
        )
    missing = sorted(set(_leaf_commands(cli)) - covered)
    assert not missing, f"no bad-input cases for: {', '.join(missing)}"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "bad.json").write_text("not json")
    (tmp_path / "bad.tar").write_bytes(b"\x00\x01garbage")
    (tmp_path / "bad.tar.gz").write_bytes(b"garbage")
    (tmp_path / "empty.whl").write_bytes(b"")
    (tmp_path / "bad-date.yaml").write_text("- id: GHSA-xxxx-xxxx-xxxx\n  reason: r\n  expires: 2024-02-30\n")
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "package-lock.json").write_text(
        '{"name": "x", "lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17'
    )
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "Dockerfile").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200) + b"\xff\xfe" * 50)
    (tmp_path / "undecodable-config").mkdir()
    (tmp_path / "undecodable-config" / "chainwarden.toml").write_bytes(b"\xff\xfe[lint]\n")
    (tmp_path / "undecodable-tsv").mkdir()
    (tmp_path / "undecodable-tsv" / "pypi.tsv").write_bytes(b"\xff\xfe\x00name\trank\n")
    (tmp_path / "undecodable-tsv" / "npm.tsv").write_text("name\tdownloads\nleft-pad\t12\n")
    (tmp_path / "huge").mkdir()
    (tmp_path / "huge" / "Dockerfile").write_text("FROM scratch\n" + ("RUN echo " + "a" * 80 + "\n") * 40_000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHAINWARDEN_CACHE_DIR", str(tmp_path / "cache"))
    database = tmp_path / "osv.sqlite3"
    assert main(["db", "import", "--db", str(database), str(ADVISORIES)]) == 0
    monkeypatch.setenv("CHAINWARDEN_DB", str(database))
    return tmp_path


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[line for line, _ in CASES])
def test_bad_input_gives_documented_exit_code_and_one_short_message(
    workspace: Path, capsys: pytest.CaptureFixture[str], line: str, expected: int
) -> None:
    capsys.readouterr()
    code = main(shlex.split(line))
    err = capsys.readouterr().err
    assert code == expected, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3, err
    assert any(text.startswith("chainwarden: ") for text in lines), err


@pytest.mark.parametrize(
    "line",
    ["sbom emptydir", "lint emptydir -f json", "vet pypi:requests --offline -f sarif", "db status"],
)
def test_a_full_standard_output_is_one_error_line_not_a_usage_block(workspace: Path, line: str) -> None:
    with open("/dev/full", "w") as full:
        completed = subprocess.run(
            [sys.executable, "-c", ENTRY_POINT, *shlex.split(line)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    lines = completed.stderr.strip().splitlines()
    assert completed.returncode == EXIT_ERROR, completed.stderr
    assert len(lines) == 1 and lines[0].startswith("chainwarden: error: "), completed.stderr
    assert "Usage:" not in completed.stderr
