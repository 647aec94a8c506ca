"""``Pipfile.lock``: pipenv's JSON lock, ``default`` (PROD), ``develop`` (DEV) and custom categories.

``direct`` means listed in the sibling ``Pipfile``. VCS, path and editable
entries carry no version and are reported unpinned.
"""

from __future__ import annotations

from chainwarden.inventory.lockfiles._common import (
    FileOutcome,
    LockfileCataloger,
    LockfileFormatError,
    LockfileInput,
    as_str_list,
    pypi_name,
    pypi_package,
    require_dict,
    skip_entry,
    type_name,
)
from chainwarden.inventory.lockfiles._manifests import pipfile_names
from chainwarden.inventory.lockfiles._positions import json_key_lines, load_json
from chainwarden.models import Scope

_CATEGORY_SCOPES = {"default": Scope.PROD, "develop": Scope.DEV}
#: Pipfile sections holding the packages of each lock category
_PIPFILE_SECTIONS = {"default": "packages", "develop": "dev-packages"}


class PipfileLockCataloger(LockfileCataloger):
    """``Pipfile.lock`` packages with hashes, scope per category and directness from ``Pipfile``."""

    id = "pipfile-lock"
    what = "Pipfile.lock"
    filenames = frozenset({"Pipfile.lock"})
    companion_names = frozenset({"Pipfile"})

    def parse(self, source: LockfileInput) -> FileOutcome:
        document = require_dict(load_json(source.text), "the document")
        if not any(key in document for key in ("default", "develop", "_meta")):
            raise LockfileFormatError("no 'default', 'develop' or '_meta' key: not a Pipfile.lock")
        lines = json_key_lines(source.text, lambda path: len(path) == 2, max_depth=2)
        pipfile_text = source.read_sibling("Pipfile")
        declared = pipfile_names(pipfile_text) if pipfile_text is not None else None
        outcome = FileOutcome()
        for category, section in document.items():
            if category == "_meta":
                continue
            if not isinstance(section, dict):
                outcome.skipped.append(
                    skip_entry(source, category, lines.get((category,)), f"category is {type_name(section)}")
                )
                continue
            scope = _CATEGORY_SCOPES.get(category)
            direct_names = None
            if declared is not None:
                direct_names = declared.get(_PIPFILE_SECTIONS.get(category, category), set())
            for raw_name, entry in section.items():
                line = lines.get((category, raw_name))
                if not isinstance(raw_name, str) or not isinstance(entry, dict):
                    outcome.skipped.append(skip_entry(source, str(raw_name), line, "entry is not an object"))
                    continue
                try:
                    name = pypi_name(raw_name)
                except LockfileFormatError as exc:
                    outcome.skipped.append(skip_entry(source, raw_name, line, str(exc)))
                    continue
                raw_version = entry.get("version")
                version = ""
                pinned = False
                located = any(key in entry for key in ("git", "hg", "svn", "bzr", "path", "file", "editable"))
                if isinstance(raw_version, str) and raw_version.startswith("==") and not located:
                    version, pinned = raw_version[2:].strip(), True
                elif raw_version is not None and not isinstance(raw_version, str):
                    outcome.skipped.append(skip_entry(source, raw_name, line, f"version is {type_name(raw_version)}"))
                    continue
                outcome.packages.append(
                    pypi_package(
                        source,
                        name,
                        version,
                        line,
                        direct=(name in direct_names) if direct_names is not None else None,
                        scope=scope,
                        hashes=as_str_list(entry.get("hashes")),
                        pinned=pinned,
                    )
                )
        return outcome
