"""chainwarden where users already work: the built wheel in a clean virtualenv, the pre-commit hooks, the GitHub
action and the GitLab template, and ``make sbom``.

Everything installs offline, from the wheelhouse ``make wheelhouse`` fills from the hash-pinned lock
(``.venv/wheelhouse``; ``CHAINWARDEN_WHEELHOUSE`` overrides): pip runs with ``--no-index`` and no configuration
file, so a test that needed the network would fail rather than download.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packaging.utils import canonicalize_name

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
DIRTY = {
    "requirements.txt": "reqeusts==1.0\nurllib3==1.24.1\n",  # a typosquat, and a release with a high advisory
    "Dockerfile": "FROM python:latest\n",  # unpinned base image
}
CLEAN = {"requirements.txt": "idna==3.7\n"}


def _wheelhouse() -> Path:
    path = Path(os.environ.get("CHAINWARDEN_WHEELHOUSE") or Path(sys.prefix) / "wheelhouse")
    if not any(path.glob("setuptools-*.whl")) or not any(path.glob("click-*.whl")):
        pytest.fail(f"no wheelhouse at {path}: run `make wheelhouse` (make test and make pytest do)")
    return path


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment in which pip can only read the wheelhouse."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(_wheelhouse()),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
        "XDG_CACHE_HOME": str(home / "cache"),
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


def run(
    argv: list[str], env: Mapping[str, str], cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def _copy_checkout(dest: Path) -> Path:
    """What a clone of the repository holds for packaging: metadata, sources, hooks, action, CI template."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "action.yml"):
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", dest / "src", ignore=ignore)
    shutil.copytree(ROOT / "ci", dest / "ci", ignore=ignore)
    return dest


def _git(repo: Path, *args: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


def _project(path: Path, files: Mapping[str, str], *, git: bool = False) -> Path:
    path.mkdir(parents=True)
    for name, body in files.items():
        (path / name).write_text(body)
    if git:
        _git(path, "init", "-q")
        _git(path, "add", "-A")
        _git(path, "commit", "-q", "-m", "project")
    return path


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_checkout(tmp_path_factory.mktemp("checkout") / "chainwarden")


@pytest.fixture(scope="module")
def wheel(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("build-home")
    dist = home / "dist"
    done = run(
        [BASE_PYTHON, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(checkout)], offline_env(home)
    )
    assert done.returncode == 0, done.stderr
    (built,) = dist.glob("chainwarden-*.whl")
    return built


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's bundled advisories (real PyPA and GitHub records) as a database."""
    from chainwarden.vulndb import import_osv

    db = tmp_path_factory.mktemp("db") / "osv.sqlite3"
    import_osv([ROOT / "demo" / "advisories"], db)
    return db


# -- pip install chainwarden ------------------------------------------------------------------------


def test_the_wheel_in_a_clean_virtualenv_offline(wheel: Path, database: Path, tmp_path: Path) -> None:
    env = offline_env(tmp_path)
    venv = tmp_path / "venv"
    assert run([BASE_PYTHON, "-m", "venv", str(venv)], env).returncode == 0
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    done = run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], env)
    assert done.returncode == 0, done.stderr
    # nothing from the development tree: the console script, its package and data come from the wheel
    located = run([str(venv / "bin" / "python"), "-c", "import chainwarden; print(chainwarden.__file__)"], env)
    assert located.stdout.startswith(str(venv))

    chainwarden = str(venv / "bin" / "chainwarden")
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    dirty = _project(tmp_path / "dirty", DIRTY)
    clean = _project(tmp_path / "clean", CLEAN)

    sbom = run([chainwarden, "sbom", str(dirty), "-f", "cyclonedx"], env)
    assert sbom.returncode == 0, sbom.stderr
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.stdout) is None
    assert {c["name"] for c in json.loads(sbom.stdout)["components"]} == {"reqeusts", "urllib3"}

    scan = run([chainwarden, "scan", str(dirty), "--db", str(database), "-f", "json", "--fail-on", "high"], env)
    assert scan.returncode == 1, scan.stderr
    assert "PYSEC-2023-192" in {a for f in json.loads(scan.stdout)["findings"] for a in f["aliases"]}
    assert run([chainwarden, "scan", str(clean), "--db", str(database), "--fail-on", "high"], env).returncode == 0

    lint = run([chainwarden, "lint", str(dirty), "-f", "sarif", "--fail-on", "medium"], env)
    assert lint.returncode == 1, lint.stderr
    assert run([chainwarden, "lint", str(clean), "--fail-on", "low"], env).returncode == 0

    vet = run([chainwarden, "vet", str(dirty), "--offline", "-f", "json", "--fail-on", "high"], env)
    assert vet.returncode == 1, vet.stderr
    assert [f["rule_id"] for f in json.loads(vet.stdout)["findings"]] == ["typosquat"]
    assert run([chainwarden, "vet", str(clean), "--offline", "--fail-on", "high"], env).returncode == 0

    # runtime commands need host tools a pip install cannot bring: each names the one missing and its package
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "os-release").write_text("ID=debian\nVERSION_ID=12\n")
    shutil.copy2("/bin/true", rootfs / "bin" / "true")
    env["PATH"] = str(venv / "bin")  # no bwrap, strace or podman on this PATH
    for engine, tool, package in (("bwrap", "bwrap", "bubblewrap"), ("podman", "podman", "podman")):
        done = run([chainwarden, "profile", f"dir:{rootfs}", "--probe", "/bin/true", "--engine", engine], env)
        assert done.returncode == 2
        assert done.stderr == (
            f"chainwarden: error: {tool} is not installed; install the Debian package {package} "
            f"(apt-get install {package})\n"
        )


# -- pre-commit -------------------------------------------------------------------------------------


def test_pre_commit_hooks_through_try_repo(checkout: Path, database: Path, tmp_path: Path) -> None:
    hooks = yaml.safe_load((checkout / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["chainwarden-lint", "chainwarden-vet", "chainwarden-scan"]
    hook_repo = tmp_path / "hooks"
    shutil.copytree(checkout, hook_repo)
    _git(hook_repo, "init", "-q")
    _git(hook_repo, "add", "-A")
    _git(hook_repo, "commit", "-q", "-m", "hooks")
    pre_commit = Path(sys.prefix) / "bin" / "pre-commit"
    if not pre_commit.exists():
        pytest.fail("pre-commit is not installed in this virtualenv (test extra; `make setup` after `make lock`)")
    env = offline_env(
        tmp_path,
        PATH=f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit"),
        CHAINWARDEN_DB=str(database),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )

    dirty = _project(tmp_path / "dirty", DIRTY, git=True)
    done = run([str(pre_commit), "try-repo", str(hook_repo), "--all-files"], env, cwd=dirty)
    assert done.returncode == 1, done.stdout + done.stderr
    results = dict(re.findall(r"^(chainwarden [a-z]+)\b.*?\.+(Passed|Failed)$", done.stdout, re.M))
    assert results == {"chainwarden lint": "Failed", "chainwarden vet": "Failed", "chainwarden scan": "Failed"}
    assert "typosquat of 'requests'" in done.stdout
    assert "PYSEC-2023-192" in done.stdout
    assert "dockerfile-" in done.stdout

    clean = _project(tmp_path / "clean", CLEAN, git=True)
    done = run([str(pre_commit), "try-repo", str(hook_repo), "--all-files"], env, cwd=clean)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Passed") == 3

    # each hook runs when a file it reads changes, and only then
    for hook in hooks:
        pattern = re.compile(hook["files"])
        for path in ("Dockerfile", "app/requirements-dev.txt", "web/pnpm-lock.yaml", ".npmrc", "uv.lock"):
            assert pattern.search(path), (hook["id"], path)
        for path in ("notes.txt", "src/app.py", "requirements.md"):
            assert not pattern.search(path), (hook["id"], path)


# -- GitHub composite action ------------------------------------------------------------------------


class ActionRunner:
    """Runs a composite action's ``run:`` steps the way the runner does, for the expressions the action uses."""

    def __init__(self, action: dict[str, Any], inputs: Mapping[str, str], github: Mapping[str, str]) -> None:
        self.action = action
        self.inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
        unknown = set(inputs) - set(self.inputs)
        assert not unknown, f"not inputs of the action: {unknown}"
        self.inputs.update(inputs)
        self.github = dict(github)
        self.outputs: dict[str, dict[str, str]] = {}
        self.path: list[str] = []

    def value(self, expression: str) -> str:
        expression = expression.strip()
        if match := re.fullmatch(r"inputs\.([\w-]+)", expression):
            return self.inputs[match.group(1)]
        if match := re.fullmatch(r"github\.([\w-]+)", expression):
            return self.github[match.group(1)]
        if match := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
            return self.outputs.get(match.group(1), {}).get(match.group(2), "")
        if match := re.fullmatch(r"'([^']*)'", expression):
            return match.group(1)
        raise AssertionError(f"expression the test cannot evaluate: {expression!r}")

    def substitute(self, text: str) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: self.value(m.group(1)), text)

    def condition(self, text: str) -> bool:
        result = True
        for term in (t.strip() for t in text.split("&&")):
            if term == "always()":
                continue
            if match := re.fullmatch(r"startsWith\((.+?),\s*(.+)\)", term):
                result &= self.value(match.group(1)).startswith(self.value(match.group(2)))
            elif match := re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", term):
                equal = self.value(match.group(1)) == self.value(match.group(3))
                result &= equal if match.group(2) == "==" else not equal
            else:
                raise AssertionError(f"condition the test cannot evaluate: {term!r}")
        return result

    def run_steps(self, base_env: Mapping[str, str], workdir: Path, temp: Path) -> list[tuple[str, int | None]]:
        """Every step in order: (name, exit status), None for a ``uses:`` step, stopping at the first failure."""
        ran: list[tuple[str, int | None]] = []
        for index, step in enumerate(self.action["runs"]["steps"]):
            if "if" in step and not self.condition(step["if"]):
                continue
            if "uses" in step:
                ran.append((step["name"], None))
                continue
            output = temp / f"output-{index}"
            path_file = temp / f"path-{index}"
            output.write_text("")
            path_file.write_text("")
            env = dict(base_env)
            env.update({k: self.substitute(str(v)) for k, v in step.get("env", {}).items()})
            env.update(RUNNER_TEMP=str(temp), GITHUB_OUTPUT=str(output), GITHUB_PATH=str(path_file))
            env["PATH"] = ":".join([*self.path, base_env["PATH"]])
            assert step["shell"] == "bash"
            script = self.substitute(step["run"])
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                env=env,
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if "id" in step:
                self.outputs[step["id"]] = dict(
                    line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
                )
            self.path = [*reversed(path_file.read_text().split()), *self.path]
            ran.append((step["name"], done.returncode))
            self.log = done.stdout + done.stderr
            if done.returncode != 0:
                break
        return ran


def test_the_github_action_steps(checkout: Path, tmp_path: Path) -> None:
    action = yaml.safe_load((checkout / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    # inputs never reach a script by substitution (a branch name must not become shell code)
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]
    project = _project(tmp_path / "project", DIRTY)
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    env = offline_env(tmp_path)
    python_dir = tmp_path / "python-bin"  # what actions/setup-python puts on PATH
    python_dir.mkdir()
    (python_dir / "python").symlink_to(BASE_PYTHON)
    env["PATH"] = f"{python_dir}:{env['PATH']}"
    github = {"action_path": str(checkout)}

    runner = ActionRunner(action, {"command": "vet . --offline", "sarif-file": "out/vet.sarif"}, github)
    (project / "out").mkdir()
    steps = runner.run_steps(env, project, temp)
    assert steps == [
        ("Set up Python", None),
        ("Install chainwarden", 0),
        ("Run chainwarden", 0),
        ("Upload SARIF to code scanning", None),
        ("Gate on fail-on", 1),
    ], runner.log
    assert runner.outputs["run"] == {"exit-code": "1"}
    log = json.loads((project / "out" / "vet.sarif").read_text())
    schema = json.loads(
        resources.files("chainwarden.report").joinpath("schemas/sarif-schema-2.1.0.json").read_text("utf-8")
    )
    jsonschema.validate(log, schema)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["typosquat"]
    upload = next(s for s in action["runs"]["steps"] if s["name"] == "Upload SARIF to code scanning")
    assert runner.substitute(upload["with"]["sarif_file"]) == "out/vet.sarif"

    # the same installed chainwarden: a scan updates the database first (skipped here: no network), a clean lint passes
    runner.inputs.update({"command": "lint .", "fail-on": "critical", "sarif-file": "lint.sarif"})
    run_step = next(s for s in action["runs"]["steps"] if s["name"] == "Run chainwarden")
    update = next(s for s in action["runs"]["steps"] if s["name"] == "Update the vulnerability database")
    assert not runner.condition(update["if"])
    runner.inputs["command"] = "scan ."
    assert runner.condition(update["if"])
    runner.inputs.update({"command": "lint .", "update-db": "false"})
    runner.action = {**action, "runs": {"steps": [run_step]}}
    assert runner.run_steps(env, project, temp) == [("Run chainwarden", 0)], runner.log
    assert runner.outputs["run"] == {"exit-code": "0"}
    assert json.loads((project / "lint.sarif").read_text())["runs"][0]["results"]

    # a usage error fails the step itself, and nothing is uploaded
    runner.inputs["command"] = "scan . --no-such-option"
    assert runner.run_steps(env, project, temp) == [("Run chainwarden", 2)]
    assert not runner.condition(upload["if"])


# -- GitLab CI template -----------------------------------------------------------------------------


def test_the_gitlab_template_script(checkout: Path, wheel: Path, tmp_path: Path) -> None:
    template = yaml.safe_load((checkout / "ci" / "gitlab" / "chainwarden.gitlab-ci.yml").read_text())
    job = template[".chainwarden"]
    review = template[".chainwarden-lockfile-review"]
    assert review["extends"] == ".chainwarden"
    assert review["variables"]["GIT_DEPTH"] == "0"
    assert review["variables"]["CHAINWARDEN_COMMAND"].startswith("diff --lockfiles ")
    project = _project(tmp_path / "project", DIRTY)
    python_dir = tmp_path / "python-bin"  # the job image's python
    python_dir.mkdir()
    (python_dir / "python").symlink_to(BASE_PYTHON)
    env = offline_env(tmp_path)
    env.update({k: str(v) for k, v in job["variables"].items()})
    env.update(
        PATH=f"{python_dir}:{env['PATH']}",
        CI_PROJECT_DIR=str(project),
        CHAINWARDEN_INSTALL=str(wheel),
        CHAINWARDEN_VENV=str(tmp_path / "venv"),
        CHAINWARDEN_COMMAND="vet . --offline",
    )
    # GitLab runs the lines in one shell and stops at the first that fails
    done = run(["bash", "--noprofile", "--norc", "-e", "-c", "\n".join(job["script"])], env, cwd=project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "chainwarden found 1 result(s) in chainwarden.sarif, exit 1" in done.stdout
    assert job["artifacts"]["paths"] == [env["CHAINWARDEN_SARIF"]]
    assert json.loads((project / "chainwarden.sarif").read_text())["runs"][0]["results"][0]["ruleId"] == "typosquat"


# -- make sbom --------------------------------------------------------------------------------------


def test_make_sbom_describes_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "chainwarden.cdx.json"
    done = subprocess.run(
        ["make", "-s", "sbom", f"SBOM_OUT={out}"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    document = json.loads(text)
    assert document["metadata"]["component"]["name"] == "chainwarden"
    locked = dict(
        re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", (ROOT / "requirements" / "lock.txt").read_text(), re.M)
    )
    components = {c["name"]: c for c in document["components"]}
    assert set(components) == {str(canonicalize_name(n)) for n in locked}
    for name, version in locked.items():
        component = components[str(canonicalize_name(name))]
        assert component["version"] == version
        assert component["purl"] == f"pkg:pypi/{canonicalize_name(name)}@{version}"
        assert any(h["alg"] == "SHA-256" for h in component["hashes"])
