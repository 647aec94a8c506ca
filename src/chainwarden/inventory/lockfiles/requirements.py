"""pip requirements files: ``requirements*.txt``, ``constraints*.txt`` and what they include.

The line grammar follows pip's own reader (``pip._internal.req.req_file``):
backslash continuations are joined first, then ``#`` comments (at line start or
after whitespace) are dropped, then a line is either an option (``-r``, ``-c``,
``-e``, ``--index-url`` …) or a requirement followed by per-requirement options
(``--hash``). ``-r``/``-c`` paths are relative to the including file and are
followed inside the scanned tree only; remote includes are never fetched.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from chainwarden.errors import SourceError
from chainwarden.inventory.bounds import MAX_LINE_CHARS
from chainwarden.inventory.interface import CatalogContext, CatalogResult
from chainwarden.inventory.lockfiles._common import (
    FileOutcome,
    LockfileCataloger,
    LockfileFormatError,
    LockfileInput,
    basename,
    display_path,
    in_skipped_dir,
    overlong_skip,
    pypi_name,
    pypi_package,
    read_lockfile,
    read_optional,
    skip_entry,
)
from chainwarden.inventory.lockfiles._manifests import parse_pep508
from chainwarden.inventory.lockfiles._positions import load_toml
from chainwarden.models import Location, Package, Skipped
from chainwarden.sources.interface import FileSystemView, normalize_path

#: pip's comment rule: "#" at the start or after whitespace ("pkg#egg" is a URL fragment)
_COMMENT = re.compile(r"(^|\s+)#.*$")
_VIA = re.compile(r"^\s*#\s*via\b(.*)$")
_VIA_CONTINUED = re.compile(r"^\s*#\s{2,}(\S.*)$")
_NAMED_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*@")
_EGG = re.compile(r"(?:^|&)egg=([^&]+)")

#: An include chain longer than this is hostile or broken.
MAX_INCLUDE_DEPTH = 32

_INCLUDE_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}
_EDITABLE_OPTIONS = {"-e", "--editable"}


@dataclass(slots=True)
class _Requirement:
    line: int
    text: str
    hashes: list[str] = field(default_factory=list)
    editable: bool = False
    via: list[str] = field(default_factory=list)
    annotated: bool = False


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first physical line, joined text) per logical line, comments kept, as pip joins them."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        is_comment = bool(_COMMENT.match(line))
        if not line.endswith("\\") or is_comment:
            if is_comment:
                line = " " + line  # noqa: PLW2901 - pip's trick so the comment still matches once joined
            if pending:
                pending.append(line)
                yield first, "".join(pending)
                pending = []
            else:
                yield number, line
        else:
            if not pending:
                first = number
            pending.append(line.strip("\\"))
    if pending:
        yield first, "".join(pending)


def _split_option(tokens: list[str], names: set[str]) -> tuple[str, str | None] | None:
    """(option, value) when ``tokens`` start with one of ``names`` in any of optparse's spellings."""
    head = tokens[0]
    for name in names:
        if head == name:
            return name, tokens[1] if len(tokens) > 1 else None
        if name.startswith("--") and head.startswith(name + "="):
            return name, head[len(name) + 1 :]
        if not name.startswith("--") and head.startswith(name) and len(head) > len(name):
            return name, head[len(name) :].lstrip("=")
    return None


class PythonRequirementsCataloger(LockfileCataloger):
    """pip requirements and constraints files, with their ``-r``/``-c`` includes."""

    id = "python-requirements"
    what = "requirements file"

    def is_lockfile(self, path: str) -> bool:
        if in_skipped_dir(path):
            return False
        name = basename(path).lower()
        if not name.endswith(".txt"):
            return False
        if "requirements" in name or "constraints" in name:
            return True
        # the common requirements/base.txt, requirements/dev.txt layout
        return basename(posixpath.dirname(path)).lower() == "requirements"

    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        done: set[str] = set()
        for entry in self.lockfiles(view):
            self._visit(view, entry.path, context, result, done, (), None)
        return result

    def _visit(
        self,
        view: FileSystemView,
        path: str,
        context: CatalogContext,
        result: CatalogResult,
        done: set[str],
        chain: tuple[str, ...],
        origin: Location | None,
    ) -> None:
        """Catalog ``path`` once, then the files it includes (depth-first, cycles reported)."""
        shown = display_path(path, context)
        try:
            resolved = view.resolve(path)
        except SourceError as exc:
            result.skipped.append(Skipped(self.what, origin or Location(shown), str(exc)))
            return
        if resolved in chain:
            cycle = " -> ".join([*(display_path(p, context) for p in chain), shown])
            result.skipped.append(Skipped("requirements include", origin, f"include cycle: {cycle}"))
            return
        if resolved in done:
            return
        done.add(resolved)
        if len(chain) >= MAX_INCLUDE_DEPTH:
            result.skipped.append(
                Skipped("requirements include", origin, f"{shown}: includes nested over {MAX_INCLUDE_DEPTH} deep")
            )
            return
        entry = view.entry(resolved)
        if entry is None:
            result.skipped.append(Skipped("requirements include", origin, f"{shown}: no such file in the target"))
            return

        def run() -> FileOutcome:
            text = read_lockfile(view, entry)
            return self.parse(LockfileInput(view, path, shown, text, context, self.id))

        outcome = self.guarded(shown, run)
        result.packages.extend(outcome.packages)
        result.skipped.extend(outcome.skipped)
        for include, line in outcome.includes:
            self._visit(view, include, context, result, done, (*chain, resolved), Location(shown, line=line))

    def parse(self, source: LockfileInput) -> FileOutcome:
        outcome = FileOutcome()
        requirements: list[_Requirement] = []
        last: _Requirement | None = None
        in_via_block = False
        for number, raw in logical_lines(source.text):
            if len(raw) > MAX_LINE_CHARS:
                outcome.skipped.append(overlong_skip(source, number, len(raw)))
                continue
            via = _VIA.match(raw)
            if via is not None:
                if last is not None:
                    last.annotated = True
                    rest = via.group(1).strip()
                    if rest:
                        last.via.append(rest)
                    in_via_block = not rest
                continue
            continued = _VIA_CONTINUED.match(raw)
            if continued is not None and in_via_block and last is not None:
                last.via.append(continued.group(1).strip())
                continue
            in_via_block = False
            line = _COMMENT.sub("", raw).strip()
            if not line:
                continue
            if line.startswith("-"):
                last = self._option_line(source, number, line, outcome, requirements)
            else:
                last = self._requirement_line(source, number, line, outcome)
                if last is not None:
                    requirements.append(last)
        annotated = any(req.annotated for req in requirements)
        for req in requirements:
            package = self._package(source, req, outcome, annotated)
            if package is not None:
                outcome.packages.append(package)
        return outcome

    def _option_line(
        self, source: LockfileInput, number: int, line: str, outcome: FileOutcome, requirements: list[_Requirement]
    ) -> _Requirement | None:
        try:
            tokens = shlex.split(line)
        except ValueError as exc:
            outcome.skipped.append(skip_entry(source, line[:80], number, f"unparseable option line: {exc}"))
            return None
        if not tokens:
            return None
        include = _split_option(tokens, set(_INCLUDE_OPTIONS))
        if include is not None:
            option, target = include
            if not target:
                outcome.skipped.append(skip_entry(source, line[:80], number, f"{option} without a file name"))
            elif "://" in target:
                outcome.skipped.append(
                    skip_entry(source, target, number, "remote include not followed (chainwarden never fetches it)")
                )
            else:
                base = posixpath.dirname(source.path)
                outcome.includes.append((normalize_path(posixpath.join(base, target)), number))
            return None
        editable = _split_option(tokens, _EDITABLE_OPTIONS)
        if editable is not None:
            _option, target = editable
            if not target:
                outcome.skipped.append(skip_entry(source, line[:80], number, "-e without a target"))
                return None
            requirement = _Requirement(number, target, editable=True)
            requirements.append(requirement)
            return requirement
        return None  # index and install options declare no package

    def _requirement_line(
        self, source: LockfileInput, number: int, line: str, outcome: FileOutcome
    ) -> _Requirement | None:
        # pip's break_args_options: the requirement ends at the first token that looks like an option
        words = line.split(" ")
        cut = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
        requirement = _Requirement(number, " ".join(words[:cut]).strip())
        options = " ".join(words[cut:])
        if options:
            try:
                tokens = shlex.split(options)
            except ValueError as exc:
                outcome.skipped.append(skip_entry(source, line[:80], number, f"unparseable options: {exc}"))
                return None
            index = 0
            while index < len(tokens):
                option = tokens[index]
                if option == "--hash" and index + 1 < len(tokens):
                    requirement.hashes.append(tokens[index + 1])
                    index += 1
                elif option.startswith("--hash="):
                    requirement.hashes.append(option.removeprefix("--hash="))
                index += 1
        return requirement

    def _package(
        self, source: LockfileInput, req: _Requirement, outcome: FileOutcome, annotated: bool
    ) -> Package | None:
        direct: bool | None = None
        if annotated and req.via:
            direct = any(_via_is_declaration(entry) for entry in req.via)
        elif annotated:
            direct = None
        try:
            if req.editable or _looks_like_location(req.text):
                name = self._name_of_location(source, req.text)
                return pypi_package(source, name, "", req.line, direct=direct, hashes=req.hashes, pinned=False)
            name, version, pinned = parse_pep508(req.text)
        except LockfileFormatError as exc:
            outcome.skipped.append(skip_entry(source, req.text[:120], req.line, str(exc)))
            return None
        return pypi_package(source, name, version, req.line, direct=direct, hashes=req.hashes, pinned=pinned)

    def _name_of_location(self, source: LockfileInput, target: str) -> str:
        """The project name behind a URL, VCS or local-path requirement."""
        if _NAMED_URL.match(target):
            name, _version, _pinned = parse_pep508(target)  # "name @ url": PEP 508 names it
            return name
        parts = urlsplit(target)
        egg = _EGG.search(parts.fragment)
        if egg:
            return pypi_name(unquote(egg.group(1)).split("[", 1)[0])
        filename = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
        if filename.endswith(".whl"):
            try:
                return str(parse_wheel_filename(filename)[0])
            except InvalidWheelFilename as exc:
                raise LockfileFormatError(f"invalid wheel file name {filename!r}") from exc
        if "://" not in target:
            local_name = self._local_project_name(source, target.split("[", 1)[0])
            if local_name is not None:
                return local_name
        raise LockfileFormatError(f"cannot tell the package name of {target!r} (add #egg=NAME)")

    def _local_project_name(self, source: LockfileInput, target: str) -> str | None:
        """``[project].name`` (or Poetry's) of a local directory requirement inside the target."""
        relative = target.removeprefix("file:").split("#", 1)[0]
        for base in (posixpath.dirname(source.path), "/"):
            text = read_optional(source.view, normalize_path(posixpath.join(base, relative, "pyproject.toml")))
            if text is None:
                continue
            try:
                document = load_toml(text)
            except LockfileFormatError:
                return None
            for table in (document.get("project"), (document.get("tool") or {}).get("poetry")):
                if isinstance(table, dict) and isinstance(table.get("name"), str):
                    return pypi_name(table["name"])
        return None


def _looks_like_location(text: str) -> bool:
    """A URL, VCS reference, archive or path rather than a PEP 508 requirement."""
    head = text.split(";", 1)[0].strip()
    if _NAMED_URL.match(head):
        return True  # a PEP 508 direct reference
    return (
        "://" in head
        or head.startswith((".", "/", "~", "file:", "git+", "hg+", "svn+", "bzr+"))
        or head.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"))
    )


def _via_is_declaration(entry: str) -> bool:
    """pip-compile's ``# via`` names a requirements input or a project file for direct dependencies."""
    return entry.startswith("-r ") or entry.endswith(("(pyproject.toml)", "(setup.py)", "(setup.cfg)"))
