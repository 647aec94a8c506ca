"""``chainwarden pin``: rewrite image tags as ``name:tag@sha256:…`` where images are named.

References are found in:

- Dockerfiles: ``FROM`` (with ``--platform``; ``AS`` stages and later ``FROM stage`` are
  recognised and never touched), ``ARG`` defaults that feed ``FROM`` alone, ``COPY
  --from=image`` and ``RUN --mount=from=image``. Positions come from the position-keeping
  Dockerfile parser, so the escape directive and continuations stay byte for byte: only
  the reference's own characters change.
- YAML: compose ``services.*.image``, Kubernetes documents (every ``containers``,
  ``initContainers`` and ``ephemeralContainers`` list, whatever the workload kind and
  nesting — Pod, Deployment, CronJob ``jobTemplate``, List items …), Helm values
  (``image: {registry, repository, tag}`` → ``tag: v1@sha256:…``), GitHub Actions
  ``container:``, ``services:`` and ``uses: docker://`` steps. ruamel.yaml (round-trip
  loader) gives each scalar's position; the file is then edited at those positions, so
  comments, order, quoting and indentation survive exactly.

The tag is kept beside the digest for readability and update bots. A reference that
cannot be rewritten safely (a variable, a template, an ARG that is also used in ``RUN``)
is reported, never guessed at.
"""

from __future__ import annotations

import enum
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainwarden._internal.files import read_bounded
from chainwarden.errors import UsageError
from chainwarden.lint.dockerfile_parser import Instruction, parse_dockerfile
from chainwarden.models import Digest
from chainwarden.policy.interface import PolicyError
from chainwarden.policy.resolve import Resolution, ResolveFailure, Resolver
from chainwarden.sources.registry import ImageReference, parse_reference

MAX_FILE = 8 * 1024 * 1024
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", "vendor"})
_DIGEST_SUFFIX = re.compile(r"@sha256:[0-9a-f]{64}$")
_VARIABLE = re.compile(r"\$\{?[A-Za-z_]|\{\{")
_PLAIN_SCALAR_END = re.compile(r"[\s,\]}#]")
WORKLOAD_LISTS = ("containers", "initContainers", "ephemeralContainers")


class FileKind(enum.StrEnum):
    DOCKERFILE = "dockerfile"
    COMPOSE = "compose"
    KUBERNETES = "kubernetes"
    HELM_VALUES = "helm-values"
    GITHUB_ACTIONS = "github-actions"


class Status(enum.StrEnum):
    PINNED = "pinned"  # rewritten now (or would be, with --check)
    CURRENT = "current"  # already pinned, and the tag still points there
    MOVED = "moved"  # already pinned, but the tag now points elsewhere
    DIGEST_ONLY = "digest-only"  # name@sha256: with no tag: nothing to compare
    UNPINNED = "unpinned"  # offline: a tag without digest
    SKIPPED = "skipped"  # cannot be rewritten safely; see note
    ERROR = "error"  # the registry could not resolve it


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One image reference as written in a file."""

    path: str  # as displayed
    line: int  # 1-based
    column: int  # 1-based
    kind: FileKind
    context: str  # "FROM", "COPY --from", "ARG BASE", "image", "helm image", "docker://", …
    text: str  # the reference as written, or the composed one for Helm values
    offset: int | None  # where ``old`` starts in the file text; None: not rewritable
    old: str  # the characters to replace
    skip_reason: str | None = None
    helm_tag: bool = False  # the replacement is the tag scalar of a Helm image block


@dataclass(frozen=True, slots=True)
class PinResult:
    occurrence: Occurrence
    status: Status
    digest: Digest | None  # the digest pinned (or current)
    previous: Digest | None  # the digest written before, when there was one
    note: str  # human text: why skipped, "tag moved: was …, now …", platform chosen


@dataclass(frozen=True, slots=True)
class PinReport:
    files: tuple[str, ...]  # files that hold references (or were recognised)
    results: tuple[PinResult, ...]
    written: tuple[str, ...]  # files rewritten
    manifest_requests: int

    def failures(self) -> list[PinResult]:
        """What ``--check`` fails on: unpinned, moved, unresolvable references."""
        bad = {Status.PINNED, Status.MOVED, Status.UNPINNED, Status.ERROR}
        return [
            r
            for r in self.results
            if r.status in bad or (r.status is Status.SKIPPED and not _DIGEST_SUFFIX.search(r.occurrence.text))
        ]


# -- discovery ----------------------------------------------------------------------------------


def is_dockerfile_name(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered in ("dockerfile", "containerfile")
        or lowered.startswith(("dockerfile.", "containerfile."))
        or lowered.endswith((".dockerfile", ".containerfile"))
    )


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files under ``paths`` that may hold references (Dockerfiles and YAML); explicit files always."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
            continue
        if not path.is_dir():
            raise UsageError(f"{path}: no such file or directory")
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(files):
                if is_dockerfile_name(name) or name.lower().endswith((".yml", ".yaml")):
                    found.append(Path(root) / name)
    return found


def _read_text(path: Path) -> str:
    data = read_bounded(path, MAX_FILE, UsageError)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _line_starts(text: str) -> list[int]:
    starts, total = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(total)
        total += len(line)
    starts.append(total)
    return starts


# -- Dockerfiles ------------------------------------------------------------------------------


def dockerfile_references(text: str, display: str) -> list[Occurrence]:
    """Every image reference in a Dockerfile, with where to rewrite it."""
    bom = 1 if text.startswith("\ufeff") else 0
    dockerfile = parse_dockerfile(text)
    starts = _line_starts(text[bom:])

    def offset_of(line: int, column: int) -> int:
        return bom + starts[line - 1] + column - 1

    def at(instruction: Instruction, index: int, length: int, context: str, ref: str) -> Occurrence:
        """The occurrence of ``arguments[index:index+length]`` when it sits on one line."""
        first = instruction.position(index)
        last = instruction.position(index + length - 1)
        if first.line != last.line or last.column - first.column != length - 1:
            return _skipped(display, first.line, first.column, context, ref, "the reference is split by a continuation")
        return Occurrence(
            display,
            first.line,
            first.column,
            FileKind.DOCKERFILE,
            context,
            ref,
            offset_of(first.line, first.column),
            ref,
        )

    def flag_value(instruction: Instruction, flag_name: str, key: str | None, context: str) -> Occurrence | None:
        flag = instruction.flag(flag_name)
        if flag is None or flag.value is None:
            return None
        value = flag.value
        inner = 0
        if key is not None:  # --mount=type=bind,from=img,target=/x
            found = None
            position = 0
            for part in value.split(","):
                name, sep, item = part.partition("=")
                if sep and name.strip().lower() == key:
                    found = item
                    inner = position + len(name) + 1
                    break
                position += len(part) + 1
            if found is None:
                return None
            value = found
        if value.lower() in all_stages or value.isdigit() or not value:
            return None
        prefix = f"--{flag_name}="
        line, column = flag.position.line, flag.position.column + len(prefix) + inner
        raw_line = text[bom:].splitlines()[line - 1] if line - 1 < len(starts) - 1 else ""
        if raw_line[column - 1 : column - 1 + len(value)] != value:
            return _skipped(display, line, column, context, value, "the option is split by a continuation")
        if _VARIABLE.search(value):
            return _skipped(display, line, column, context, value, "built from build arguments")
        return Occurrence(display, line, column, FileKind.DOCKERFILE, context, value, offset_of(line, column), value)

    stage_names: set[str] = set()  # stages defined so far (FROM may only name an earlier one)
    all_stages = dockerfile.stage_names()  # COPY --from may name any stage
    occurrences: list[Occurrence] = []
    # global ARGs used inside a stage (re-declared there) may feed RUN/ENV: never rewritten
    redeclared: set[str] = set()
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.keyword == "ARG":
                for word in instruction.arguments.split():
                    redeclared.add(word.partition("=")[0])
    global_arg_sites: dict[str, tuple[Instruction, int, str]] = {}
    for instruction in dockerfile.instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            for match in re.finditer(
                r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S+)", instruction.arguments
            ):
                raw = match.group(2)
                quoted = raw[:1] in "\"'"
                value = raw[1:-1] if quoted else raw
                global_arg_sites[match.group(1)] = (instruction, match.start(2) + (1 if quoted else 0), value)
    arg_uses: dict[str, int] = {}
    for stage in dockerfile.stages:
        image = stage.image
        lowered = (stage.resolved_image or image).lower()
        if image and (
            lowered == "scratch" or lowered in stage_names or (lowered.isdigit() and int(lowered) < stage.index)
        ):
            pass
        elif image and "$" not in image:
            occurrences.append(at(stage.from_instruction, 0, len(image), "FROM", image))
        elif image:
            name = _sole_variable(image)
            if name is not None and name in global_arg_sites:
                arg_uses[name] = arg_uses.get(name, 0) + 1
            else:
                where = stage.from_instruction.position(0)
                reason = (
                    "built from build arguments; pin the ARG defaults by hand"
                    if name is None
                    else f"ARG {name} has no default"
                )
                occurrences.append(
                    _skipped(display, where.line, where.column, "FROM", stage.resolved_image or image, reason)
                )
        if stage.name:
            stage_names.add(stage.name)
        for instruction in stage.instructions:
            if instruction.keyword in ("COPY", "ADD"):
                found = flag_value(instruction, "from", None, "COPY --from")
                if found is not None:
                    occurrences.append(found)
            elif instruction.keyword == "RUN":
                for flag in instruction.flags:
                    if flag.name == "mount":
                        found = flag_value(instruction, "mount", "from", "RUN --mount from")
                        if found is not None:
                            occurrences.append(found)
                        break
    for name in arg_uses:
        instruction, index, value = global_arg_sites[name]
        context = f"ARG {name}"
        if name in redeclared:
            where = instruction.position(index)
            occurrences.append(
                _skipped(display, where.line, where.column, context, value, f"ARG {name} is also used inside a stage")
            )
        elif _VARIABLE.search(value) or not value:
            where = instruction.position(index)
            occurrences.append(_skipped(display, where.line, where.column, context, value, "default is not an image"))
        else:
            occurrences.append(at(instruction, index, len(value), context, value))
    return sorted(occurrences, key=lambda o: (o.line, o.column))


def _sole_variable(image: str) -> str | None:
    match = re.fullmatch(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))", image)
    return (match.group(1) or match.group(2)) if match else None


def _skipped(display: str, line: int, column: int, context: str, ref: str, reason: str) -> Occurrence:
    return Occurrence(display, line, column, FileKind.DOCKERFILE, context, ref, None, "", skip_reason=reason)


# -- YAML ---------------------------------------------------------------------------------------


def yaml_kind(path: Path, documents: list[Any]) -> FileKind | None:
    """What a YAML file is, from its name and its top-level keys."""
    maps = [d for d in documents if isinstance(d, dict)]
    name = path.name.lower()
    if any(isinstance(d.get("jobs"), dict) for d in maps):
        return FileKind.GITHUB_ACTIONS
    if any(isinstance(d.get("kind"), str) and "apiVersion" in d for d in maps):
        return FileKind.KUBERNETES
    if any(isinstance(d.get("services"), dict) for d in maps) and (
        "compose" in name
        or any(_looks_like_compose(d["services"]) for d in maps if isinstance(d.get("services"), dict))
    ):
        return FileKind.COMPOSE
    if name.startswith("values") or (path.parent / "Chart.yaml").is_file():
        return FileKind.HELM_VALUES
    return None


def _looks_like_compose(services: dict[Any, Any]) -> bool:
    return any(isinstance(s, dict) and ("image" in s or "build" in s) for s in services.values())


def yaml_references(text: str, display: str, path: Path) -> tuple[FileKind | None, list[Occurrence]]:
    """(kind, references) of a YAML file; (None, []) when it is not one pin knows."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    loader = YAML(typ="rt")
    try:
        documents = list(loader.load_all(text))
    except YAMLError as exc:
        raise PolicyError(f"{display}: malformed YAML ({str(exc).splitlines()[0] if str(exc) else exc})") from exc
    kind = yaml_kind(path, documents)
    if kind is None:
        return None, []
    starts = _line_starts(text)
    found: list[Occurrence] = []

    def scalar(node: Any, key: Any, context: str) -> None:
        value = node[key]
        line, column = _position(node, key)
        found.append(_yaml_occurrence(text, starts, display, kind, line, column, str(value), context))

    for document in documents:
        if kind is FileKind.COMPOSE and isinstance(document, dict):
            for service in _mapping_values(document.get("services")):
                if isinstance(service.get("image"), str):
                    scalar(service, "image", "image")
        elif kind is FileKind.GITHUB_ACTIONS and isinstance(document, dict):
            for job in _mapping_values(document.get("jobs")):
                container = job.get("container")
                if isinstance(container, str):
                    scalar(job, "container", "container")
                elif isinstance(container, dict) and isinstance(container.get("image"), str):
                    scalar(container, "image", "container")
                for service in _mapping_values(job.get("services")):
                    if isinstance(service.get("image"), str):
                        scalar(service, "image", "services")
                steps = job.get("steps")
                for step in steps if isinstance(steps, list) else []:
                    uses = step.get("uses") if isinstance(step, dict) else None
                    if isinstance(uses, str) and uses.startswith("docker://"):
                        line, column = _position(step, "uses")
                        occurrence = _yaml_occurrence(text, starts, display, kind, line, column, uses, "docker://")
                        found.append(_strip_prefix(occurrence, "docker://"))
        elif kind is FileKind.KUBERNETES:
            for container in _workload_containers(document):
                if isinstance(container.get("image"), str):
                    scalar(container, "image", "image")
        elif kind is FileKind.HELM_VALUES:
            _helm_references(document, text, starts, display, found)
    return kind, sorted(found, key=lambda o: (o.line, o.column))


def _position(node: Any, key: Any) -> tuple[int, int]:
    """0-based (line, column) of ``node[key]``'s value, as ruamel.yaml's round-trip loader recorded it."""
    line, column = node.lc.value(key)
    return int(line), int(column)


def _mapping_values(value: Any) -> Iterator[dict[Any, Any]]:
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, dict):
                yield item


def _workload_containers(node: Any) -> Iterator[dict[Any, Any]]:
    """Every container mapping under a Kubernetes document, at any depth (templates, jobTemplate, List items)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in WORKLOAD_LISTS and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        yield item
            elif isinstance(value, dict | list):
                yield from _workload_containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _workload_containers(item)


def _helm_references(node: Any, text: str, starts: list[int], display: str, found: list[Occurrence]) -> None:
    if isinstance(node, list):
        for item in node:
            _helm_references(item, text, starts, display, found)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "image" and isinstance(value, str):
            line, column = _position(node, key)
            found.append(_yaml_occurrence(text, starts, display, FileKind.HELM_VALUES, line, column, value, "image"))
        elif isinstance(value, dict) and isinstance(value.get("repository"), str) and "tag" in value:
            found.append(_helm_block(value, text, starts, display))
        elif isinstance(value, dict | list):
            _helm_references(value, text, starts, display, found)


def _helm_block(block: dict[Any, Any], text: str, starts: list[int], display: str) -> Occurrence:
    """``{registry?, repository, tag}``: the occurrence rewrites the tag scalar."""
    line, column = _position(block, "tag")
    raw = _raw_scalar(text, starts[line] + column)
    repository = str(block["repository"])
    registry = block.get("registry")
    name = f"{registry}/{repository}" if isinstance(registry, str) and registry else repository
    digest = block.get("digest")
    if raw is None or raw[1] == "":
        reason = "the tag is empty (the chart's appVersion is used)" if raw is not None else "the tag is not a scalar"
        return Occurrence(
            display, line + 1, column + 1, FileKind.HELM_VALUES, "helm image", name, None, "", skip_reason=reason
        )
    offset, tag = raw
    reference = f"{name}:{tag}"
    if isinstance(digest, str) and digest:
        # the chart pins through its own digest key: checked, but the tag is left alone
        reference = f"{name}:{tag.split('@')[0]}@{digest}"
        return Occurrence(display, line + 1, column + 1, FileKind.HELM_VALUES, "helm image", reference, None, "")
    if _VARIABLE.search(reference):
        return Occurrence(
            display, line + 1, column + 1, FileKind.HELM_VALUES, "helm image", reference, None, "", "a template"
        )
    return Occurrence(
        display, line + 1, column + 1, FileKind.HELM_VALUES, "helm image", reference, offset, tag, helm_tag=True
    )


def _raw_scalar(text: str, position: int) -> tuple[int, str] | None:
    """(offset, characters) of a plain or simply-quoted scalar starting at ``position``."""
    first = text[position : position + 1]
    if first in ("'", '"'):
        end = text.find(first, position + 1)
        newline = text.find("\n", position)
        if end < 0 or (0 <= newline < end):
            return None
        inner = text[position + 1 : end]
        if first == '"' and "\\" in inner:
            return None
        return position + 1, inner
    if first in ("|", ">", "&", "*", "!", "{", "["):
        return None
    match = _PLAIN_SCALAR_END.search(text, position)
    end = match.start() if match else len(text)
    return position, text[position:end]


def _yaml_occurrence(
    text: str, starts: list[int], display: str, kind: FileKind, line: int, column: int, value: str, context: str
) -> Occurrence:
    raw = _raw_scalar(text, starts[line] + column)
    if _VARIABLE.search(value):
        return Occurrence(display, line + 1, column + 1, kind, context, value, None, "", "uses a variable or template")
    if raw is None or raw[1] != value:
        return Occurrence(display, line + 1, column + 1, kind, context, value, None, "", "not a simple scalar")
    return Occurrence(display, line + 1, column + 1, kind, context, value, raw[0], value)


def _strip_prefix(occurrence: Occurrence, prefix: str) -> Occurrence:
    text = occurrence.text.removeprefix(prefix)
    if occurrence.offset is None:
        return Occurrence(
            occurrence.path,
            occurrence.line,
            occurrence.column,
            occurrence.kind,
            occurrence.context,
            text,
            None,
            "",
            occurrence.skip_reason,
        )
    return Occurrence(
        occurrence.path,
        occurrence.line,
        occurrence.column + len(prefix),
        occurrence.kind,
        occurrence.context,
        text,
        occurrence.offset + len(prefix),
        text,
    )


# -- the operation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PinOptions:
    check: bool = False  # report only; never write
    offline: bool = False  # no registry: only report unpinned references
    update: bool = False  # re-pin references whose tag moved
    platform: str | None = None
    insecure_registry: bool = False
    timeout: float = 30.0
    workers: int = 8


def references_in(path: Path, display: str) -> tuple[FileKind | None, str, list[Occurrence]]:
    """(kind, text, references) of one file."""
    text = _read_text(path)
    if is_dockerfile_name(path.name):
        return FileKind.DOCKERFILE, text, dockerfile_references(text, display)
    if path.name.lower().endswith((".yml", ".yaml")):
        kind, found = yaml_references(text, display, path)
        return kind, text, found
    return None, text, []


def pin_paths(
    paths: Iterable[Path],
    options: PinOptions,
    resolver: Resolver | None = None,
    *,
    select: Callable[[Occurrence], bool] | None = None,
) -> PinReport:
    """Find every reference under ``paths``, resolve tags, and (unless ``check``/``offline``) rewrite files.

    ``select`` keeps only some references (``lint --fix`` pins base images only).
    """
    paths = list(paths)
    files: list[tuple[Path, str, str, list[Occurrence]]] = []
    explicit = {p for p in paths if p.is_file()}
    for path in discover(paths):
        display = path.as_posix()
        kind, text, found = references_in(path, display)
        if select is not None:
            found = [o for o in found if select(o)]
        if kind is None:
            if path in explicit:
                raise UsageError(
                    f"{display}: not a Dockerfile, compose, Kubernetes, Helm values or GitHub Actions workflow file"
                )
            continue
        files.append((path, display, text, found))
    if not files:
        shown = ", ".join(p.as_posix() for p in paths)
        raise UsageError(f"{shown}: no Dockerfile, compose, Kubernetes, Helm values or workflow file found")
    own = resolver is None
    if resolver is None:
        resolver = Resolver(platform=options.platform, timeout=options.timeout, insecure=options.insecure_registry)
    try:
        results = _resolve_all([o for *_, found in files for o in found], options, resolver)
    finally:
        if own:
            resolver.close()
    written: list[str] = []
    if not (options.check or options.offline):
        by_file: dict[str, list[PinResult]] = {}
        for result in results:
            by_file.setdefault(result.occurrence.path, []).append(result)
        for path, display, text, _ in files:
            edits = [
                r
                for r in by_file.get(display, [])
                if r.status is Status.PINNED or (r.status is Status.MOVED and options.update)
            ]
            if edits:
                write_text_atomically(path, apply_pins(text, edits))
                written.append(display)
    return PinReport(tuple(d for _, d, _, _ in files), tuple(results), tuple(written), resolver.manifest_requests)


def _resolve_all(occurrences: list[Occurrence], options: PinOptions, resolver: Resolver) -> list[PinResult]:
    parsed: dict[int, ImageReference | str] = {}
    for index, occurrence in enumerate(occurrences):
        if occurrence.skip_reason is None:
            try:
                parsed[index] = parse_reference(occurrence.text)
            except UsageError as exc:
                parsed[index] = exc.diagnostics()
    lookups = {
        index: ref
        for index, ref in parsed.items()
        if isinstance(ref, ImageReference) and ref.tag is not None and not options.offline
    }
    # one request per distinct reference, several in flight
    distinct = {f"{r.registry}/{r.repository}:{r.tag}": r for r in lookups.values()}
    answers: dict[str, Resolution | ResolveFailure] = {}
    if distinct:
        with ThreadPoolExecutor(max_workers=max(1, min(options.workers, len(distinct)))) as pool:
            for key, answer in zip(distinct, pool.map(resolver.try_resolve, distinct.values()), strict=True):
                answers[key] = answer
    results: list[PinResult] = []
    for index, occurrence in enumerate(occurrences):
        ref = parsed.get(index)
        if occurrence.skip_reason is not None:
            results.append(PinResult(occurrence, Status.SKIPPED, None, None, occurrence.skip_reason))
            continue
        if isinstance(ref, str) or ref is None:
            results.append(PinResult(occurrence, Status.ERROR, None, None, ref or "not a reference"))
            continue
        if ref.tag is None:
            results.append(PinResult(occurrence, Status.DIGEST_ONLY, ref.digest, ref.digest, "pinned by digest only"))
            continue
        if options.offline:
            if ref.digest is not None:
                results.append(PinResult(occurrence, Status.CURRENT, ref.digest, ref.digest, "pinned (not checked)"))
            else:
                results.append(PinResult(occurrence, Status.UNPINNED, None, None, "no digest"))
            continue
        answer = answers[f"{ref.registry}/{ref.repository}:{ref.tag}"]
        if isinstance(answer, ResolveFailure):
            results.append(PinResult(occurrence, Status.ERROR, None, ref.digest, answer.reason))
            continue
        note = _describe(answer)
        if ref.digest is None:
            results.append(PinResult(occurrence, Status.PINNED, answer.digest, None, note))
        elif ref.digest == answer.digest:
            results.append(PinResult(occurrence, Status.CURRENT, answer.digest, ref.digest, note))
        else:
            moved = f"tag moved: was {ref.digest}, now {answer.digest}"
            results.append(PinResult(occurrence, Status.MOVED, answer.digest, ref.digest, moved))
    return results


def _describe(resolution: Resolution) -> str:
    if resolution.kind == "platform-manifest":
        return f"{resolution.platform} manifest of a multi-platform index"
    if resolution.kind == "index":
        return "multi-platform index"
    return "single-platform manifest"


def pinned_text(reference: str, digest: str) -> str:
    """``name:tag`` or ``name:tag@sha256:old`` → ``name:tag@digest``."""
    return _DIGEST_SUFFIX.sub("", reference) + "@" + digest


def apply_pins(text: str, results: Iterable[PinResult]) -> str:
    """``text`` with each result's reference rewritten at its offset; nothing else changes."""
    edits = sorted(
        (r for r in results if r.occurrence.offset is not None and r.digest is not None),
        key=lambda r: r.occurrence.offset or 0,
        reverse=True,
    )
    for result in edits:
        occurrence = result.occurrence
        start = occurrence.offset
        assert start is not None
        assert result.digest is not None
        end = start + len(occurrence.old)
        if text[start:end] != occurrence.old:
            raise PolicyError(f"{occurrence.path}:{occurrence.line}: changed while pinning; run pin again")
        new = pinned_text(occurrence.old, result.digest)
        text = text[:start] + new + text[end:]
    return text


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path``'s content, keeping its mode; a crash leaves the old file or the new, never half."""
    mode = path.stat().st_mode & 0o7777
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
