"""Copy the peers' lockfile fixtures and the (name, version) sets their own tests assert.

Usage::

    python tasks/import_peer_lockfile_fixtures.py OSV_SCALIBR_GIT_DIR OSV_SCANNER_GIT_DIR

Both arguments are local clones (bare or not) of google/osv-scalibr and google/osv-scanner;
nothing is downloaded. osv-scalibr is read at its HEAD, osv-scanner at the last commit that
still had ``pkg/lockfile`` (its pip fixtures and ``parse-requirements-txt_test.go``).

For every ``testdata`` file a Go test reads, the expected packages are taken from that test's
table: in osv-scalibr the ``WantPackages``/``wantPackages`` entries (``Name``, ``Version`` and
``SourceCode.Commit``), in osv-scanner the ``expectPackages`` lists. They are written to
``tests/fixtures/<repo>/lockfile-expectations.json``, which
``tests/unit/inventory/lockfiles/test_lockfile_peer_fixtures.py`` compares against.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: osv-scalibr extractors whose formats chainwarden reads, with their test files
SCALIBR_EXTRACTORS = {
    "javascript/packagelockjson": ["packagelockjson-v1_test.go", "packagelockjson-v2_test.go"],
    "javascript/pnpmlock": ["pnpmlock_test.go", "pnpmlock-v9_test.go"],
    "javascript/yarnlock": ["yarnlock-v1_test.go", "yarnlock-v2_test.go"],
    "python/poetrylock": ["poetrylock_test.go"],
    "python/pipfilelock": ["pipfilelock_test.go"],
    "python/pdmlock": ["pdmlock_test.go"],
    "python/requirements": ["requirements_test.go"],
    "python/uvlock": ["uvlock_test.go"],
    "python/pyprojecttoml": ["pyprojecttoml_test.go"],
}
SCANNER_PIP = "pkg/lockfile/fixtures/pip"
SCANNER_TEST = "pkg/lockfile/parse-requirements-txt_test.go"

_PATH = re.compile(r'^\s*(?:Path|path):\s*"(testdata/[^"]+)"', re.MULTILINE)
_FIELD = re.compile(r'^(\s*)(Name|Version|Commit):\s*("(?:[^"\\]|\\.)*")')
_WANT = re.compile(r"^(\s*)(?:WantPackages|wantPackages):\s*(.*)$")
# uvlock_test.go's helper: pkg(t, name, version, path, line)
_HELPER = re.compile(r'^\s*pkg\(t,\s*("(?:[^"\\]|\\.)*"),\s*("(?:[^"\\]|\\.)*")')
_WANT_ERR = re.compile(r"^\s*(?:WantErr|wantErr)\s*:\s*(?!nil)")


def go_string(literal: str) -> str:
    """The value of a double-quoted Go string literal (its escapes are JSON's for what tests use)."""
    value = json.loads(literal)
    assert isinstance(value, str)
    return value


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def scalibr_expectations(test_source: str) -> dict[str, dict[str, Any]]:
    """testdata path -> {"packages": [[name, version, commit], …], "error": bool} from one test file."""
    lines = test_source.splitlines()
    starts = [index for index, line in enumerate(lines) if _PATH.match(line)]
    found: dict[str, dict[str, Any]] = {}
    for position, start in enumerate(starts):
        end = starts[position + 1] if position + 1 < len(starts) else len(lines)
        match = _PATH.match(lines[start])
        assert match is not None
        path = match.group(1)
        packages: list[list[str]] = []
        error = False
        index = start
        while index < end:
            line = lines[index]
            if _WANT_ERR.match(line):
                error = True
            want = _WANT.match(line)
            if want is None:
                index += 1
                continue
            if want.group(2).strip() in {"nil,", "[]*extractor.Package{},"}:
                index += 1
                continue
            indent = len(want.group(1))
            current: list[str] | None = None
            index += 1
            while index < len(lines):
                line = lines[index]
                stripped = line.lstrip()
                depth = len(line) - len(stripped)
                if depth <= indent and stripped.startswith("}"):
                    break
                field = _FIELD.match(line)
                helper = _HELPER.match(line)
                if helper is not None and depth == indent + 1:
                    current = None
                    packages.append([go_string(helper.group(1)), go_string(helper.group(2)), ""])
                elif field is not None and depth == indent + 2 and field.group(2) == "Name":
                    current = [go_string(field.group(3)), "", ""]  # name, version, commit
                    packages.append(current)
                elif field is not None and current is not None and field.group(2) == "Version" and depth == indent + 2:
                    current[1] = go_string(field.group(3))
                elif field is not None and current is not None and field.group(2) == "Commit":
                    current[2] = go_string(field.group(3))
                index += 1
        earlier = found.get(path)
        if earlier is not None and earlier["packages"] != packages:
            raise SystemExit(f"{path}: two table rows expect different packages; decide which by hand")
        found[path] = {"packages": packages, "error": error or bool(earlier and earlier["error"])}
    return found


_SCANNER_CALL = re.compile(r'ParseRequirementsTxt\("fixtures/pip/([^"]+)"\)')


def scanner_expectations(test_source: str) -> dict[str, dict[str, object]]:
    """fixtures/pip file -> expected packages from osv-scanner's parse-requirements-txt_test.go."""
    found: dict[str, dict[str, object]] = {}
    functions = re.split(r"\nfunc ", test_source)
    for function in functions:
        call = _SCANNER_CALL.search(function)
        if call is None:
            continue
        string = r'("(?:[^"\\]|\\.)*")'
        packages = [
            [go_string(name), go_string(version), ""]
            for name, version in re.findall(rf"Name:\s*{string},\s*Version:\s*{string}", function, re.MULTILINE)
        ]
        error = "expectErrContaining" in function or "expectErrIs" in function
        found.setdefault(f"{SCANNER_PIP}/{call.group(1)}", {"packages": packages, "error": error})
    return found


def main(scalibr: Path, scanner: Path) -> None:
    scalibr_commit = git(scalibr, "rev-parse", "HEAD").decode().strip()
    out = ROOT / "tests" / "fixtures" / "osv-scalibr"
    expectations: dict[str, object] = {"commit": scalibr_commit, "fixtures": {}}
    fixtures: dict[str, object] = {}
    for extractor, tests in SCALIBR_EXTRACTORS.items():
        base = f"extractor/filesystem/language/{extractor}"
        listing = git(scalibr, "ls-tree", "-r", "--name-only", "HEAD", f"{base}/testdata").decode().splitlines()
        for name in listing:
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(git(scalibr, "show", f"HEAD:{name}"))
        for test in tests:
            source = git(scalibr, "show", f"HEAD:{base}/{test}").decode()
            for path, expected in scalibr_expectations(source).items():
                fixtures[f"{base}/{path}"] = {"test": f"{base}/{test}", **expected}
    expectations["fixtures"] = dict(sorted(fixtures.items()))
    (out / "lockfile-expectations.json").write_text(json.dumps(expectations, indent=1) + "\n", encoding="utf-8")

    last = git(scanner, "log", "-1", "--format=%H", "--", SCANNER_PIP).decode().strip()
    scanner_commit = git(scanner, "rev-parse", f"{last}^").decode().strip()
    out = ROOT / "tests" / "fixtures" / "osv-scanner"
    for name in git(scanner, "ls-tree", "-r", "--name-only", scanner_commit, SCANNER_PIP).decode().splitlines():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(git(scanner, "show", f"{scanner_commit}:{name}"))
    (out / "LICENSE").write_bytes(git(scanner, "show", f"{scanner_commit}:LICENSE"))
    source = git(scanner, "show", f"{scanner_commit}:{SCANNER_TEST}").decode()
    scanner_fixtures = {"test": SCANNER_TEST, "commit": scanner_commit, "fixtures": scanner_expectations(source)}
    (out / "lockfile-expectations.json").write_text(json.dumps(scanner_fixtures, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
