"""``yarn.lock``: Yarn classic (v1, its own indented format) and Yarn berry (2+, YAML).

Yarn classic's format is not YAML: entries are headed by one or more
comma-separated (optionally quoted) descriptors ``name@range`` ending in a
colon, with ``key value`` lines indented below. The parser here follows the
grammar of yarn's own ``lockfile/parse.js``: quoted strings are JSON strings,
indentation opens nested maps.

Neither dialect separates dev from production, so scope and directness come
from the sibling ``package.json``: its ``dependencies`` reach PROD packages,
``optionalDependencies`` OPTIONAL ones, ``devDependencies`` the rest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

from chainwarden.inventory.bounds import MAX_LINE_CHARS
from chainwarden.inventory.lockfiles._common import (
    FileOutcome,
    JsonDict,
    LockfileCataloger,
    LockfileFormatError,
    LockfileInput,
    as_dict,
    as_str,
    is_npm_name,
    npm_package,
    propagate_scopes,
    require_dict,
    skip_entry,
    split_integrity,
)
from chainwarden.inventory.lockfiles._manifests import NpmManifest, npm_manifest
from chainwarden.inventory.lockfiles._positions import load_yaml, yaml_key_lines
from chainwarden.models import Package, Scope

K = TypeVar("K")

_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([,:])|([^\s,:"]+))')
_BERRY_MARKER = re.compile(r"^__metadata:", re.MULTILINE)
#: ranges that name no registry release: links, files, VCS, tarball URLs, GitHub shorthands
_NON_REGISTRY_RANGE = re.compile(r"^(?:file:|link:|portal:|workspace:|git\+|git:|github:|gitlab:|bitbucket:|https?:)")


@dataclass(slots=True)
class YarnEntry:
    """One lock entry: the descriptors it satisfies and its fields."""

    descriptors: list[str]
    fields: dict[str, Any]
    line: int


@dataclass(slots=True)
class _Node:
    indent: int
    mapping: dict[str, Any] = field(default_factory=dict)


def split_descriptor(descriptor: str) -> tuple[str, str]:
    """``@scope/name@range`` → (``@scope/name``, ``range``); the name never holds a second ``@``."""
    at = descriptor.find("@", 1)
    if at <= 0:
        raise LockfileFormatError(f"descriptor {descriptor!r} has no '@range'")
    return descriptor[:at], descriptor[at + 1 :]


def _tokens(content: str, number: int) -> list[str | tuple[str]]:
    """Strings (decoded) and punctuation (as 1-tuples, so a quoted ':' stays a string)."""
    tokens: list[str | tuple[str]] = []
    position = 0
    while position < len(content):
        match = _TOKEN.match(content, position)
        if match is None or match.end() == position:
            if content[position:].strip() == "":
                break
            raise LockfileFormatError(f"line {number}: cannot tokenise {content[position:][:40]!r}")
        quoted, punctuation, bare = match.groups()
        if quoted is not None:
            try:
                tokens.append(json.loads(quoted))
            except ValueError as exc:
                raise LockfileFormatError(f"line {number}: bad string {quoted[:40]!r}") from exc
        elif punctuation is not None:
            tokens.append((punctuation,))
        elif bare is not None:
            tokens.append(bare)
        position = match.end()
    return tokens


def parse_classic(text: str) -> list[YarnEntry]:
    """Entries of a Yarn classic lockfile, raising LockfileFormatError on bad syntax."""
    entries: list[YarnEntry] = []
    root = _Node(-1)
    stack = [root]
    for number, raw in enumerate(text.splitlines(), start=1):
        if len(raw) > MAX_LINE_CHARS:
            raise LockfileFormatError(f"line {number}: {len(raw)} characters, over the {MAX_LINE_CHARS} limit")
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise LockfileFormatError(f"line {number}: tab indentation")
        indent = len(raw) - len(raw.lstrip(" "))
        tokens = _tokens(stripped, number)
        while stack[-1].indent >= indent:
            stack.pop()
        parent = stack[-1].mapping
        if tokens and tokens[-1] == (":",):
            keys = [t for t in tokens[:-1] if isinstance(t, str)]
            separators = [t for t in tokens[:-1] if not isinstance(t, str)]
            if not keys or any(s != (",",) for s in separators) or len(separators) != len(keys) - 1:
                raise LockfileFormatError(f"line {number}: malformed key list")
            node = _Node(indent)
            for key in keys:
                parent[key] = node.mapping
            stack.append(node)
            if indent == 0:
                entries.append(YarnEntry(keys, node.mapping, number))
        elif len(tokens) == 2 and all(isinstance(t, str) for t in tokens):
            key, value = str(tokens[0]), tokens[1]
            if indent == 0:
                continue  # a top-level scalar (none in real lockfiles): no package
            parent[key] = _scalar(value)
        else:
            raise LockfileFormatError(f"line {number}: expected 'key value' or 'key:'")
    return entries


def _scalar(value: str | tuple[str]) -> Any:
    if value == "true":
        return True
    if value == "false":
        return False
    return value


class YarnLockCataloger(LockfileCataloger):
    """``yarn.lock`` of Yarn classic (v1) and berry (v2+): resolved versions, integrity, scope via package.json."""

    id = "yarn-lock"
    what = "yarn.lock"
    filenames = frozenset({"yarn.lock"})
    companion_names = frozenset({"package.json"})

    def parse(self, source: LockfileInput) -> FileOutcome:
        manifest = npm_manifest(source.read_sibling("package.json"))
        if _BERRY_MARKER.search(source.text):
            return self._parse_berry(source, manifest)
        return self._parse_classic(source, manifest)

    def _parse_classic(self, source: LockfileInput, manifest: NpmManifest | None) -> FileOutcome:
        outcome = FileOutcome()
        entries = parse_classic(source.text)
        resolved: list[tuple[YarnEntry, str, str, bool]] = []
        for entry in entries:
            try:
                name, pinned = self._classic_name(entry)
            except LockfileFormatError as exc:
                outcome.skipped.append(skip_entry(source, ", ".join(entry.descriptors)[:120], entry.line, str(exc)))
                continue
            version = entry.fields.get("version")
            if not isinstance(version, str):
                outcome.skipped.append(skip_entry(source, name, entry.line, "missing string 'version'"))
                continue
            resolved.append((entry, name, version, pinned))

        by_descriptor = {d: id(entry) for entry, *_ in resolved for d in entry.descriptors}
        edges: dict[int, list[tuple[int, bool]]] = {}
        for entry, *_ in resolved:
            children = edges.setdefault(id(entry), [])
            for field_name, optional in (("dependencies", False), ("optionalDependencies", True)):
                for dep, spec in as_dict(entry.fields.get(field_name)).items():
                    target = by_descriptor.get(f"{dep}@{spec}") if isinstance(spec, str) else None
                    if target is not None:
                        children.append((target, optional))
        scopes, direct = _from_manifest(manifest, by_descriptor, ("",), edges)

        for entry, name, version, pinned in resolved:
            hashes = split_integrity(entry.fields.get("integrity"))
            resolved_url = as_str(entry.fields.get("resolved")) or ""
            fragment = resolved_url.partition("#")[2]
            if not hashes and re.fullmatch(r"[0-9a-f]{40}", fragment):
                hashes = [f"sha1:{fragment}"]  # pre-integrity lockfiles: the tarball's sha1 in the URL
            self._add(
                outcome,
                source,
                name,
                version,
                entry.line,
                direct=(id(entry) in direct) if manifest is not None else None,
                scope=scopes.get(id(entry)) if manifest is not None else None,
                hashes=hashes,
                pinned=pinned,
            )
        return outcome

    @staticmethod
    def _classic_name(entry: YarnEntry) -> tuple[str, bool]:
        """Real package name of an entry (aliases resolved) and whether it is a registry release."""
        descriptor = entry.descriptors[0]
        if descriptor.find("@", 1) <= 0 and is_npm_name(descriptor):
            # a bare name ("balanced-match:"): yarn writes it for a dependency declared
            # without a range; the entry's version is what was resolved from the registry
            return descriptor, True
        name, spec = split_descriptor(descriptor)
        if spec.startswith("npm:"):  # alias "x@npm:real@^1"
            spec = spec[4:]
            if spec.find("@", 1) > 0:
                name, spec = split_descriptor(spec)
        pinned = not _NON_REGISTRY_RANGE.match(spec) and "/" not in spec
        return name, pinned

    def _parse_berry(self, source: LockfileInput, manifest: NpmManifest | None) -> FileOutcome:
        data, node = load_yaml(source.text)
        document = require_dict(data, "the document")
        lines = yaml_key_lines(node)
        outcome = FileOutcome()
        kept: list[tuple[str, JsonDict, str, str, bool]] = []  # key, fields, name, version, pinned
        by_descriptor: dict[str, int] = {}
        for key, value in document.items():
            if key == "__metadata":
                continue
            line = lines.get(key)
            if not isinstance(value, dict):
                outcome.skipped.append(skip_entry(source, key[:120], line, "entry is not a mapping"))
                continue
            fields = as_dict(value)
            resolution = as_str(fields.get("resolution"))
            if resolution is None:
                outcome.skipped.append(skip_entry(source, key[:120], line, "missing string 'resolution'"))
                continue
            try:
                name, reference = split_descriptor(resolution)
            except LockfileFormatError as exc:
                outcome.skipped.append(skip_entry(source, key[:120], line, str(exc)))
                continue
            if reference.startswith("workspace:"):
                continue  # the project itself or a workspace member
            version, pinned = _berry_version(reference, fields)
            for descriptor in (d.strip() for d in key.split(",")):
                by_descriptor[descriptor] = len(kept)
            kept.append((key, fields, name, version, pinned))

        edges: dict[int, list[tuple[int, bool]]] = {}
        for index, (_key, fields, *_rest) in enumerate(kept):
            children = edges.setdefault(index, [])
            meta = as_dict(fields.get("dependenciesMeta"))
            for dep, spec in as_dict(fields.get("dependencies")).items():
                target = _berry_lookup(by_descriptor, dep, spec)
                if target is not None:
                    children.append((target, as_dict(meta.get(dep)).get("optional") is True))
        scopes, direct = _from_manifest(manifest, by_descriptor, ("", "npm:"), edges)

        for index, (key, fields, name, version, pinned) in enumerate(kept):
            checksum = as_str(fields.get("checksum"))
            self._add(
                outcome,
                source,
                name,
                version,
                lines.get(key),
                direct=(index in direct) if manifest is not None else None,
                scope=scopes.get(index) if manifest is not None else None,
                # berry's checksum hashes yarn's cache zip (cacheKey-prefixed): kept as given
                hashes=[checksum] if checksum else [],
                pinned=pinned,
            )
        return outcome

    def _add(
        self,
        outcome: FileOutcome,
        source: LockfileInput,
        name: str,
        version: str,
        line: int | None,
        **details: Any,
    ) -> None:
        try:
            package: Package = npm_package(source, name, version, line, **details)
        except LockfileFormatError as exc:
            outcome.skipped.append(skip_entry(source, name[:120], line, str(exc)))
            return
        outcome.packages.append(package)


def _berry_version(reference: str, fields: JsonDict) -> tuple[str, bool]:
    """Version and pinnedness from a berry resolution reference (``npm:1.2.3``, ``patch:…``, URLs)."""
    if reference.startswith("npm:"):
        return reference[4:], True
    if reference.startswith("patch:"):
        # "patch:name@npm%3A1.2.3#./patch::…": a registry release with a local patch on top
        inner = unquote(reference[6:].split("#", 1)[0])
        try:
            _name, inner_reference = split_descriptor(inner)
        except LockfileFormatError:
            return "", False
        if inner_reference.startswith("npm:"):
            return inner_reference[4:], True
        return "", False
    declared = fields.get("version")
    # git/tarball/file sources: the version their package.json claims, but nothing immutable pins it
    return (declared if isinstance(declared, str) and not declared.endswith("-use.local") else ""), False


def _berry_lookup(by_descriptor: dict[str, int], name: str, spec: object) -> int | None:
    if not isinstance(spec, str):
        spec = str(spec)  # YAML may read a bare range like 1.2 as a number
    return by_descriptor.get(f"{name}@{spec}", by_descriptor.get(f"{name}@npm:{spec}"))


def _from_manifest(
    manifest: NpmManifest | None,
    by_descriptor: dict[str, K],
    protocols: tuple[str, ...],
    edges: dict[K, list[tuple[K, bool]]],
) -> tuple[dict[K, Scope], set[K]]:
    """Scopes reached from package.json's declarations, and the entries it names directly."""
    if manifest is None:
        return {}, set()
    roots: dict[Scope, list[K]] = {}
    direct: set[K] = set()
    for name, spec, scope in manifest.dependencies:
        for protocol in protocols:
            target = by_descriptor.get(f"{name}@{protocol}{spec}")
            if target is not None:
                roots.setdefault(scope, []).append(target)
                direct.add(target)
                break
    return propagate_scopes(roots, edges), direct
