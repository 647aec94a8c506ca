"""Every lockfile cataloger against hostile input: bad syntax, wrong types anywhere, huge and deep files.

The contract: ``catalog()`` never raises for file content; a bad file becomes one
Skipped record and the other files are still cataloged. "unexpected structure"
reasons come from the last-resort guard, so they count as bugs here: every
shape must be caught by explicit validation.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.inventory.lockfiles import (
    LOCKFILE_CATALOGERS,
    NpmPackageLockCataloger,
    PdmLockCataloger,
    PipfileLockCataloger,
    PnpmLockCataloger,
    PoetryLockCataloger,
    PyprojectCataloger,
    PythonRequirementsCataloger,
    UvLockCataloger,
    YarnLockCataloger,
    _common,
    lockfile_catalogers,
)
from chainwarden.models import Location, Skipped
from chainwarden.sources.rootfs import DirectoryView
from unit.inventory.lockfiles.lockfile_testing import PROJECT, catalog, write_tree
from unit.inventory.lockfiles.test_lockfile_npm import LOCK_V1, LOCK_V2, LOCK_V3
from unit.inventory.lockfiles.test_lockfile_pnpm import PNPM_V5, PNPM_V6, PNPM_V9
from unit.inventory.lockfiles.test_lockfile_pyproject import PEP621, POETRY
from unit.inventory.lockfiles.test_lockfile_python_locks import (
    PDM_LOCK,
    PDM_LOCK_3,
    PIPFILE_LOCK,
    POETRY_2,
    POETRY_18,
    POETRY_LEGACY,
    UV_LOCK,
)
from unit.inventory.lockfiles.test_lockfile_requirements import PIP_COMPILE
from unit.inventory.lockfiles.test_lockfile_yarn import YARN_BERRY, YARN_V1

#: (cataloger, file name, a valid sample) for every format
SAMPLES: list[tuple[type[Cataloger], str, str]] = [
    (PythonRequirementsCataloger, "requirements.txt", PIP_COMPILE),
    (PoetryLockCataloger, "poetry.lock", POETRY_LEGACY),
    (PoetryLockCataloger, "poetry.lock", POETRY_18),
    (PoetryLockCataloger, "poetry.lock", POETRY_2),
    (PipfileLockCataloger, "Pipfile.lock", PIPFILE_LOCK),
    (UvLockCataloger, "uv.lock", UV_LOCK),
    (PdmLockCataloger, "pdm.lock", PDM_LOCK),
    (PdmLockCataloger, "pdm.lock", PDM_LOCK_3),
    (PyprojectCataloger, "pyproject.toml", PEP621),
    (PyprojectCataloger, "pyproject.toml", POETRY),
    (NpmPackageLockCataloger, "package-lock.json", LOCK_V1),
    (NpmPackageLockCataloger, "package-lock.json", LOCK_V2),
    (NpmPackageLockCataloger, "npm-shrinkwrap.json", json.dumps(LOCK_V3, indent=2)),
    (YarnLockCataloger, "yarn.lock", YARN_V1),
    (YarnLockCataloger, "yarn.lock", YARN_BERRY),
    (PnpmLockCataloger, "pnpm-lock.yaml", PNPM_V5),
    (PnpmLockCataloger, "pnpm-lock.yaml", PNPM_V6),
    (PnpmLockCataloger, "pnpm-lock.yaml", PNPM_V9),
]
SAMPLE_IDS = [f"{cls.id}-{i}" for i, (cls, _name, _text) in enumerate(SAMPLES)]
FILE_NAMES = {cls: name for cls, name, _text in SAMPLES}


def _assert_contract(result: CatalogResult) -> None:
    for skipped in result.skipped:
        assert "unexpected structure" not in skipped.reason, skipped
        assert "\n" not in skipped.reason, skipped
    for package in result.packages:
        assert package.name
        assert package.purl.startswith(f"pkg:{package.ecosystem.value}/")
        assert all(isinstance(h, str) for h in package.hashes)


def _catalog_text(cataloger: Cataloger, name: str, text: str | bytes) -> CatalogResult:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        write_tree(root, {name: text})
        result = cataloger.catalog(DirectoryView(root), PROJECT)
    _assert_contract(result)
    return result


def test_registry() -> None:
    ids = [cls.id for cls in LOCKFILE_CATALOGERS]
    assert ids == [
        "python-requirements",
        "poetry-lock",
        "pipfile-lock",
        "uv-lock",
        "pdm-lock",
        "pyproject",
        "npm-package-lock",
        "yarn-lock",
        "pnpm-lock",
    ]
    instances = lockfile_catalogers()
    assert [c.id for c in instances] == ids
    assert all(c.installed is False for c in instances)


@pytest.mark.parametrize(("cls", "name", "text"), SAMPLES, ids=SAMPLE_IDS)
def test_valid_samples_catalog_cleanly(cls: type[Cataloger], name: str, text: str) -> None:
    result = _catalog_text(cls(), name, text)
    assert result.packages
    assert result.skipped == []
    assert all(p.found_by == cls.id for p in result.packages)
    assert all(p.locations[0].line is not None for p in result.packages)


@pytest.mark.parametrize(("cls", "name", "text"), SAMPLES, ids=SAMPLE_IDS)
def test_image_paths_stay_absolute(tmp_path: Path, cls: type[Cataloger], name: str, text: str) -> None:
    write_tree(tmp_path, {f"app/{name}": text})
    result = cls().catalog(DirectoryView(tmp_path), CatalogContext(is_image=True))
    assert {p.locations[0].path for p in result.packages} == {f"/app/{name}"}


BAD_CONTENT: list[str | bytes] = [
    "",
    "\n\n",
    "{",
    "[1, 2, 3]",
    '"a string"',
    "null",
    "key = ",
    "[[package]]\nname = 1\n[[package]\n",
    "- a\n- b\n",
    "a: [unclosed\n",
    "package = 5\n",
    "package = [1, 'x', [2]]\n",
    '{"lockfileVersion": 3, "packages": {"node_modules/x": {"version": 1, "integrity": 2, "dev": "yes"}}}',
    '{"default": {"x": {"version": ["==1"], "hashes": "sha256:x"}}, "develop": []}',
    '[project]\ndependencies = "requests"\noptional-dependencies = ["x"]\n[tool.poetry]\ndependencies = [1]\n',
    "lockfileVersion: '9.0'\nimporters: [1]\npackages: {a@1.0.0: 5, 'b@2.0.0': {resolution: 7}}\nsnapshots: 3\n",
    '__metadata:\n  version: 6\n"x@npm:1": {resolution: 5}\n"y@npm:1": [1]\n',
    "\ufeff# yarn lockfile v1\n\nfoo@^1:\n  version 1\n",
    "a@^1:\n    nested:\n  deeper\n",
    "\x00\x01\x02 binary",
    b"\xff\xfe\xfa invalid utf-8 \xc3\x28",
    "[" * 100_000 + "]" * 100_000,
    "{" * 50_000,
    "a:\n" + "  " * 500 + "- x\n",
    "x = " + "[" * 5_000 + "]" * 5_000 + "\n",
    "-r " + "../" * 1000 + "etc/passwd\n",
    "lockfileVersion: 5.4\npackages:\n  /a/1.0.0:\n    dependencies: {b: 2.0.0}\n  /b/2.0.0:\n    dependencies: {a: 1.0.0}\n",
    # billion laughs: aliases must not be expanded into memory
    "lockfileVersion: '9.0'\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "importers: {'.': {dependencies: *d}}\npackages: {}\n",
]


@pytest.mark.parametrize("cls", LOCKFILE_CATALOGERS, ids=[cls.id for cls in LOCKFILE_CATALOGERS])
@pytest.mark.parametrize("content", BAD_CONTENT, ids=[f"bad{i}" for i in range(len(BAD_CONTENT))])
def test_malformed_files_never_raise(tmp_path: Path, cls: type[Cataloger], content: str | bytes) -> None:
    name = FILE_NAMES[cls]
    good = next(text for c, n, text in SAMPLES if c is cls)
    result = catalog(cls(), tmp_path, {f"bad/{name}": content, f"good/{name}": good})
    _assert_contract(result)
    # the good file is cataloged whatever happened to the bad one
    assert any(p.locations[0].path == f"good/{name}" for p in result.packages)
    assert all(s.location is None or s.location.path.startswith(("bad/", "good/")) for s in result.skipped)


@pytest.mark.parametrize("cls", LOCKFILE_CATALOGERS, ids=[cls.id for cls in LOCKFILE_CATALOGERS])
def test_oversized_file_is_skipped_without_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cls: type[Cataloger]
) -> None:
    assert issubclass(cls, _common.LockfileCataloger)
    monkeypatch.setattr(_common, "MAX_LOCKFILE_BYTES", 4096)
    name = FILE_NAMES[cls]
    good = next(text for c, n, text in SAMPLES if c is cls and len(text.encode()) <= 4096)
    result = catalog(cls(), tmp_path, {f"big/{name}": "#" * 10_000 + "\n", f"ok/{name}": good})
    assert result.skipped == [Skipped(cls.what, Location(f"big/{name}"), "10001 bytes, over the 4096 byte limit")]
    assert result.packages


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = _replace(document[path[0]], path[1:], new)
    return copy


WRONG_VALUES: list[Any] = [None, 7, "x", [1, "y"], {"k": [None]}, True]


def _structured_samples() -> list[tuple[type[Cataloger], str, str, Any]]:
    samples = []
    for cls, name, text in SAMPLES:
        if name.endswith(".json") or name == "Pipfile.lock":
            samples.append((cls, name, "json", json.loads(text)))
        elif name.endswith(".yaml") or (name == "yarn.lock" and "__metadata" in text):
            samples.append((cls, name, "yaml", yaml.safe_load(text)))
    return samples


STRUCTURED = _structured_samples()


@pytest.mark.parametrize(
    ("cls", "name", "kind", "document"), STRUCTURED, ids=[f"{s[0].id}-{i}" for i, s in enumerate(STRUCTURED)]
)
def test_wrong_type_at_every_node(tmp_path: Path, cls: type[Cataloger], name: str, kind: str, document: Any) -> None:
    cataloger = cls()
    view = DirectoryView(tmp_path)
    target = tmp_path / name
    for path in _paths(document):
        for wrong in WRONG_VALUES:
            mutated = _replace(document, path, wrong)
            body = json.dumps(mutated) if kind == "json" else yaml.safe_dump(mutated)
            target.write_text(body)
            result = cataloger.catalog(view, PROJECT)
            _assert_contract(result)


_TOML_VALUE = re.compile(r'(=\s*)("[^"\n]*"|\[[^\]\n]*\]|\{[^}\n]*\}|true|false|\d+)')
TOML_SAMPLES = [
    (cls, name, text) for cls, name, text in SAMPLES if name in {"poetry.lock", "uv.lock", "pdm.lock", "pyproject.toml"}
]


@pytest.mark.parametrize(
    ("cls", "name", "text"), TOML_SAMPLES, ids=[f"{s[0].id}-{i}" for i, s in enumerate(TOML_SAMPLES)]
)
def test_wrong_type_at_every_toml_value(tmp_path: Path, cls: type[Cataloger], name: str, text: str) -> None:
    cataloger = cls()
    view = DirectoryView(tmp_path)
    target = tmp_path / name
    matches = list(_TOML_VALUE.finditer(text))
    assert matches
    for match in matches:
        for wrong in ('"x"', "7", "[1, {a = 2}]", "{a = [true]}", "false"):
            target.write_text(text[: match.start(2)] + wrong + text[match.end(2) :])
            _assert_contract(cataloger.catalog(view, PROJECT))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_text_never_raises(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(LOCKFILE_CATALOGERS))
    alphabet = st.sampled_from([*"abc@/:,\"'{}[]()=#-_ .\\\n\t^~0123456789", "\n  ", "version ", "npm:"])
    text = "".join(data.draw(st.lists(alphabet, max_size=200)))
    _catalog_text(cls(), FILE_NAMES[cls], text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=10,
    ),
)
def test_random_json_values_in_valid_documents(data: st.DataObject, value: Any) -> None:
    cls, name, kind, document = data.draw(st.sampled_from(STRUCTURED))
    path = data.draw(st.sampled_from(list(_paths(document))))
    mutated = _replace(document, path, value)
    body = json.dumps(mutated) if kind == "json" else yaml.safe_dump(mutated)
    _catalog_text(cls(), name, body)


def test_symlinked_lockfile_and_symlink_loops(tmp_path: Path) -> None:
    write_tree(tmp_path, {"real/requirements.txt": "six==1.16.0\n"})
    (tmp_path / "requirements-link.txt").symlink_to("real/requirements.txt")
    (tmp_path / "requirements-loop.txt").symlink_to("requirements-loop.txt")
    (tmp_path / "requirements-out.txt").symlink_to("/etc/passwd")
    result = catalog(PythonRequirementsCataloger(), tmp_path)
    _assert_contract(result)
    # the link and its target are one file: reported once
    assert [(p.name, p.locations[0].path) for p in result.packages] == [("six", "real/requirements.txt")]
    assert len(result.skipped) == 2


def test_symlinked_lockfile_is_cataloged_once(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/yarn.lock": YARN_V1})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "yarn.lock").symlink_to("../a/yarn.lock")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "yarn.lock").symlink_to("yarn.lock")
    result = catalog(YarnLockCataloger(), tmp_path)
    assert {p.locations[0].path for p in result.packages} == {"a/yarn.lock"}
    assert [s.location for s in result.skipped] == [Location("c/yarn.lock")]
    assert "symbolic links" in result.skipped[0].reason
