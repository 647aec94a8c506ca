"""pyproject.toml declarations: PEP 621, PEP 735, Poetry, uv and PDM tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.inventory.lockfiles._manifests import poetry_constraint_pin
from chainwarden.inventory.lockfiles.pyproject import PyprojectCataloger
from chainwarden.models import Location, Scope
from unit.inventory.lockfiles.lockfile_testing import by_name, catalog, line_of

PEP621 = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "demo"
version = "1.0"
dependencies = [
    "httpx>=0.27,<1",
    "PyYAML==6.0.1",
    'click===8.1.7',
    "rich ; python_version >= '3.8'",
    "pip @ https://github.com/pypa/pip/archive/22.0.2.zip",
]

[project.optional-dependencies]
socks = ["PySocks==1.7.1"]

[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff==0.5.0"]

[tool.uv]
dev-dependencies = ["mypy>=1.10"]

[tool.pdm.dev-dependencies]
docs = ["mkdocs>=1.5"]
"""


def test_pep621_pep735_uv_pdm(tmp_path: Path) -> None:
    result = catalog(PyprojectCataloger(), tmp_path, {"pyproject.toml": PEP621})
    assert result.skipped == []
    packages = by_name(result)
    expected = {
        "httpx": ("", False, Scope.PROD),
        "pyyaml": ("6.0.1", True, Scope.PROD),
        "click": ("8.1.7", True, Scope.PROD),
        "rich": ("", False, Scope.PROD),
        "pip": ("", False, Scope.PROD),
        "pysocks": ("1.7.1", True, Scope.OPTIONAL),
        "pytest": ("", False, Scope.DEV),
        "ruff": ("0.5.0", True, Scope.DEV),
        "mypy": ("", False, Scope.DEV),
        "mkdocs": ("", False, Scope.DEV),
    }
    assert {n: (p.version, p.pinned, p.scope) for n, p in packages.items()} == expected
    assert all(p.direct is True and p.found_by == "pyproject" for p in packages.values())
    assert packages["pyyaml"].purl == "pkg:pypi/pyyaml@6.0.1"
    assert packages["click"].locations == (Location("pyproject.toml", line=line_of(PEP621, "click===")),)
    assert packages["pysocks"].locations[0].line == line_of(PEP621, "PySocks==")
    assert packages["ruff"].locations[0].line == line_of(PEP621, '"ruff==')


POETRY = """\
[tool.poetry]
name = "svc"
version = "0.1.0"

[tool.poetry.dependencies]
python = "^3.11"
fastapi = "^0.110"
pydantic = "2.6.4"
uvicorn = {version = "==0.29.0", extras = ["standard"]}
boto3 = {version = "^1.34", optional = true}
internal = {git = "https://github.com/acme/internal.git", tag = "v1.2.0"}
numpy = [
    {version = "1.26.4", python = ">=3.9"},
    {version = "1.24.4", python = "<3.9"},
]

[tool.poetry.group.dev.dependencies]
black = "24.3.0"
Pytest-Cov = "*"

[tool.poetry.dev-dependencies]
legacy-tool = "~1.0"
"""


def test_poetry_tables(tmp_path: Path) -> None:
    result = catalog(PyprojectCataloger(), tmp_path, {"pyproject.toml": POETRY})
    assert result.skipped == []
    packages = by_name(result)
    assert "python" not in packages
    expected = {
        "fastapi": ("", False, Scope.PROD),
        "pydantic": ("2.6.4", True, Scope.PROD),
        "uvicorn": ("0.29.0", True, Scope.PROD),
        "boto3": ("", False, Scope.OPTIONAL),
        "internal": ("", False, Scope.PROD),
        "numpy": ("", False, Scope.PROD),
        "black": ("24.3.0", True, Scope.DEV),
        "pytest-cov": ("", False, Scope.DEV),
        "legacy-tool": ("", False, Scope.DEV),
    }
    assert {n: (p.version, p.pinned, p.scope) for n, p in packages.items()} == expected
    assert packages["pytest-cov"].locations[0].line == line_of(POETRY, "Pytest-Cov")
    assert packages["numpy"].locations[0].line == line_of(POETRY, "numpy = [")


@pytest.mark.parametrize(
    ("constraint", "pin"),
    [
        ("1.2.3", "1.2.3"),
        ("==1.2.3", "1.2.3"),
        ("^1.2.3", None),
        ("~1.2", None),
        (">=1,<2", None),
        ("1.2.*", None),
        ("*", None),
        ("1.2.3 || 1.2.4", None),
        ("not-a-version", None),
    ],
)
def test_poetry_constraint_pin(constraint: str, pin: str | None) -> None:
    assert poetry_constraint_pin(constraint) == pin


def test_bad_declarations_are_skipped_and_good_ones_kept(tmp_path: Path) -> None:
    text = '[project]\nname = "x"\ndependencies = ["ok==1", "not valid ###", 42]\n'
    result = catalog(PyprojectCataloger(), tmp_path, {"pyproject.toml": text})
    assert [p.name for p in result.packages] == ["ok"]
    assert len(result.skipped) == 2
    assert all(s.location is not None and s.location.line == 3 for s in result.skipped)


def test_dynamic_or_empty_project_declares_nothing(tmp_path: Path) -> None:
    text = '[project]\nname = "x"\ndynamic = ["dependencies"]\n\n[tool.black]\nline-length = 100\n'
    result = catalog(PyprojectCataloger(), tmp_path, {"pyproject.toml": text})
    assert (result.packages, result.skipped) == ([], [])
