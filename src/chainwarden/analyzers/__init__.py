"""Package-threat analyzers: typosquats, dependency confusion, malicious code, risky updates.

Library API (the CLI's ``vet``/``diff``/``data refresh`` are thin wrappers)::

    from chainwarden.analyzers import vet, VetOptions, review_update
    result = vet(["pypi:reqeusts", "npm:lodahs", "./dist/pkg-1.0.tar.gz"])
    for finding in result.findings: ...
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from chainwarden.analyzers.confusion import (
    RULE_CLAIMED,
    RULE_CLAIMED_BY_YOU,
    RULE_EXTRA_INDEX,
    RULE_LOOKUP_FAILED,
    RULE_NPM_SCOPE,
    RULE_NPM_UNSCOPED,
    RULE_POETRY_SOURCE,
    RULE_UNCLAIMED,
    RULE_UV_STRATEGY,
    InternalName,
    analyze_project,
    check_claims,
    claim_findings,
    registry_urls,
)
from chainwarden.analyzers.diff import (
    RULE_CHANGED_HOOK,
    RULE_MAINTAINERS,
    RULE_NEW_CAPABILITY,
    RULE_NEW_DEPENDENCY,
    RULE_NEW_HOOK,
    RULE_NEW_OBFUSCATED,
    RULE_NEW_THREAT,
    RULE_VERDICT,
    DiffReport,
    diff_artifacts,
)
from chainwarden.analyzers.heuristics import RULES as HEURISTIC_RULES
from chainwarden.analyzers.heuristics import HeuristicReport, analyze_artifact
from chainwarden.analyzers.packages import (
    PackageArtifact,
    PackageSpec,
    fetch_spec,
    installed_artifact,
    open_artifact,
    package_manifest,
    parse_spec,
    plan_installed_code,
    wanted_paths,
)
from chainwarden.analyzers.registry_client import (
    DEFAULT_NPM,
    DEFAULT_PYPI,
    RegistryClient,
    RegistryClientError,
    npm_maintainers,
)
from chainwarden.analyzers.typosquat import RULE_ID as TYPOSQUAT_RULE
from chainwarden.analyzers.typosquat import TyposquatDetector, bare_package, detector_for, match_to_finding
from chainwarden.config import Config
from chainwarden.errors import SourceError, UsageError
from chainwarden.models import Digest, Ecosystem, Finding, Inventory, Location, Package, Severity, Skipped
from chainwarden.report.interface import RuleInfo
from chainwarden.sources.interface import ProgressCallback

if TYPE_CHECKING:
    from chainwarden.sources import SourceOptions

__all__ = [
    "DiffReport",
    "HeuristicReport",
    "InstalledScan",
    "VetOptions",
    "VetResult",
    "analyze_artifact",
    "apply_suppressions",
    "open_artifact",
    "review_update",
    "rule_infos",
    "scan_installed_code",
    "vet",
]

ARCHIVE_SUFFIXES: Final = (".whl", ".tar.gz", ".tgz", ".zip", ".tar", ".tar.bz2", ".egg")


@dataclass(frozen=True, slots=True)
class VetOptions:
    """How ``vet`` reaches registries and what it scans."""

    offline: bool = False  # no registry lookups at all (typosquat + local code only)
    pypi_url: str | None = None  # mirror of https://pypi.org/simple
    npm_url: str | None = None  # mirror of https://registry.npmjs.org
    scan_code: bool = False  # also run code heuristics over target directories and images' installed packages
    scan_distro_packages: bool = False  # with scan_code on images: also Debian packages and Debian-shipped npm modules
    check_claims: bool = True  # public-claim check for internal names
    ignore: tuple[str, ...] = ()  # "RULE", "RULE:PACKAGE" or "*:PACKAGE"
    cache_dir: Path | None = None
    env: Mapping[str, str] | None = None  # environment for pip settings (default: os.environ)
    source: SourceOptions | None = None  # --platform, layer cache, --insecure-registry for image targets


@dataclass(frozen=True, slots=True)
class VetResult:
    findings: tuple[Finding, ...]
    packages_checked: int
    artifacts_scanned: int
    inventories: tuple[Inventory, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    reports: tuple[HeuristicReport, ...] = field(default_factory=tuple)
    #: what the user should know about how the targets were read (a package directory's code left unscanned)
    notes: tuple[str, ...] = ()
    #: package purl -> the target it came from (``pypi:NAME``, an archive path): where a report points a finding
    origins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstalledScan:
    """Code heuristics over the installed packages of one image or root filesystem."""

    inventory: Inventory
    reports: tuple[HeuristicReport, ...]
    skipped: tuple[Skipped, ...]
    files_read: int

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for report in self.reports for f in report.findings)


def scan_installed_code(
    target: str,
    *,
    include_distro: bool = False,
    source_options: SourceOptions | None = None,
    progress: ProgressCallback | None = None,
) -> InstalledScan:
    """Inventory ``target`` (an image or rootfs) and run the code heuristics over each installed package.

    Nothing is extracted: a first pass over the layers reads the package
    metadata and every file's size, a second keeps only the bodies of files
    owned by PyPI/npm packages (Debian ones too with ``include_distro``) that
    fit the per-file and per-image limits. Findings point at the file's path
    in the image and the layer that last wrote it.
    """
    from chainwarden.inventory import cache_key, catalog_view, default_catalogers, wanted_by
    from chainwarden.sources import open_source

    progress = progress or ProgressCallback()
    with open_source(target, source_options) as source:
        is_image = source.info.kind != "dir"
        catalogers = default_catalogers(is_image=is_image)
        metadata = source.view(wanted_by(catalogers), progress, cache_key(catalogers))
        inventory = catalog_view(metadata, source.info, catalogers, is_image=is_image, skipped=source.skipped)
        plans = [
            plan
            for plan in plan_installed_code(metadata, inventory.packages, include_distro=include_distro)
            if plan.paths or plan.too_large or plan.over_budget
        ]
        wanted = wanted_paths(plans)
        del metadata
        # the per-layer cache is keyed by predicate: this one changes with every inventory, so never cache it
        bodies = source.view(wanted.__contains__, progress, None) if wanted else None
        reports: list[HeuristicReport] = []
        skipped: list[Skipped] = []
        files_read = 0
        if plans:
            progress.start(len(plans), "scanning installed package code")
        for plan in plans:
            if bodies is None:
                progress.advance(1)
                continue
            artifact, layers = installed_artifact(plan, bodies)
            files_read += len(artifact.files)
            skipped.extend(artifact.skipped)
            if artifact.files:
                report = analyze_artifact(artifact, plan.package)
                findings = tuple(_in_image(f, plan.paths, layers) for f in report.findings)
                reports.append(dataclasses.replace(report, findings=findings))
            progress.advance(1)
        if plans:
            progress.finish()
    return InstalledScan(inventory, tuple(reports), tuple(skipped), files_read)


def _in_image(finding: Finding, paths: Mapping[str, str], layers: Mapping[str, Digest | None]) -> Finding:
    """Point a package-relative finding at the file's path in the image and its layer."""
    location = finding.location
    if location is None or location.path not in paths:
        return finding
    image_path = paths[location.path]
    moved = Location(image_path, layers.get(location.path), location.line, location.column)
    prefix = f"{location.path}:"
    evidence = tuple(
        image_path + item[len(location.path) :] if index == 0 and item.startswith(prefix) else item
        for index, item in enumerate(finding.evidence)
    )
    return dataclasses.replace(finding, location=moved, evidence=evidence)


def make_client(options: VetOptions, config: Config | None = None) -> RegistryClient:
    """A registry client honouring --pypi-url/--npm-url, else the configured public registries."""
    pypi = options.pypi_url or next(
        (u for u in (config.registries.pypi if config else ()) if "simple" in u), DEFAULT_PYPI
    )
    npm = options.npm_url or (config.registries.npm[0] if config and config.registries.npm else DEFAULT_NPM)
    return RegistryClient(pypi_url=pypi, npm_url=npm, cache_dir=options.cache_dir)


def _typosquat_allow(config: Config, ecosystem: Ecosystem) -> list[str]:
    table = config.raw.get("typosquat", {})
    allow = table.get("allow", []) if isinstance(table, dict) else []
    prefix = f"{ecosystem.value}:"
    names = [str(a) for a in allow] if isinstance(allow, list) else []
    return [a.removeprefix(prefix) for a in names if ":" not in a or a.startswith(prefix)]


class _Suppressions:
    """Allow lists (whole packages) and ignore entries (rule, optionally per package)."""

    def __init__(self, config: Config, cli_ignore: Sequence[str]) -> None:
        table = config.raw.get("vet", {})
        table = table if isinstance(table, dict) else {}
        allow = table.get("allow", [])
        self.allowed = {str(a).lower() for a in allow} if isinstance(allow, list) else set()
        entries: list[str] = list(cli_ignore)
        raw_ignore = table.get("ignore", [])
        for entry in raw_ignore if isinstance(raw_ignore, list) else []:
            if isinstance(entry, str):
                entries.append(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("rule"), str):
                entries.append(f"{entry['rule']}:{entry.get('package', '')}".rstrip(":"))
        self.ignores: list[tuple[str, str | None]] = []
        for entry in entries:
            rule, _, package = entry.partition(":")
            self.ignores.append((rule, package.lower() or None))
        self.config = config

    def _names(self, package: Package | None) -> set[str]:
        if package is None:
            return set()
        return {package.name.lower(), f"{package.ecosystem.value}:{package.name.lower()}"}

    def apply(self, findings: Sequence[Finding]) -> list[Finding]:
        kept: list[Finding] = []
        for finding in findings:
            names = self._names(finding.package)
            if names & self.allowed:
                continue
            if any(
                (rule in ("*", finding.rule_id)) and (package is None or package in names)
                for rule, package in self.ignores
            ):
                continue
            severity = self.config.rules.apply(finding.rule_id, finding.severity)
            if severity is None:
                continue
            kept.append(finding if severity is finding.severity else dataclasses.replace(finding, severity=severity))
        return kept


def apply_suppressions(findings: Sequence[Finding], config: Config, ignore: Sequence[str] = ()) -> list[Finding]:
    """The findings the configuration's allow/ignore lists and rule severities keep, as ``vet`` reports them."""
    return _Suppressions(config, ignore).apply(findings)


def _is_image_dir(path: Path) -> bool:
    """An OCI layout or a root filesystem: not a project, so its installed packages are what to scan."""
    if not path.is_dir():
        return False
    if (path / "index.json").is_file() and (path / "oci-layout").is_file():
        return True
    return any((path / p).exists() for p in ("etc/os-release", "usr/lib/os-release", "var/lib/dpkg"))


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _is_checkout(path: Path) -> bool:
    """A version-controlled working tree: the user's own project rather than a package someone shipped."""
    return any((path / marker).exists() for marker in (".git", ".hg", ".svn"))


def vet(
    targets: Sequence[str],
    *,
    config: Config | None = None,
    options: VetOptions | None = None,
    client: RegistryClient | None = None,
    progress: ProgressCallback | None = None,
    inventory_builder: Callable[[str], Inventory] | None = None,
) -> VetResult:
    """Check targets before installing: typosquats, confusion, and malicious code.

    ``targets`` mixes bare names (``pypi:reqeusts``), registry versions
    (``pypi:NAME==VER``, ``npm:NAME@VER``: downloaded and scanned), package
    archives and directories (``--scan-code``), and anything
    :func:`chainwarden.api.build_inventory` accepts (projects, images).

    A directory that is a package (``setup.py``, ``setup.cfg``, ``PKG-INFO``,
    ``pyproject.toml`` with ``[project]``/``[tool.poetry]``, ``package.json``)
    has its code scanned as its archive would be, unless it is a
    version-controlled checkout (``.git``, ``.hg``, ``.svn``): then
    ``VetResult.notes`` says its code was left to ``scan_code``.
    """
    config = config or Config()
    options = options or VetOptions()
    progress = progress or ProgressCallback()
    own_client = client is None and not options.offline
    client = client or (None if options.offline else make_client(options, config))
    detectors: dict[Ecosystem, TyposquatDetector] = {}

    def detector(ecosystem: Ecosystem) -> TyposquatDetector:
        if ecosystem not in detectors:
            detectors[ecosystem] = detector_for(ecosystem, _typosquat_allow(config, ecosystem))
        return detectors[ecosystem]

    findings: list[Finding] = []
    inventories: list[Inventory] = []
    skipped: list[Skipped] = []
    reports: list[HeuristicReport] = []
    internal: dict[tuple[Ecosystem, str], InternalName] = {}
    packages: list[Package] = []
    artifacts: list[PackageArtifact] = []
    private_pypi: str | None = config.internal.pypi_index
    installed_scanned = 0
    notes: list[str] = []
    origins: dict[str, str] = {}
    workdir = Path(tempfile.mkdtemp(prefix="chainwarden-vet-"))
    try:
        for target in targets:
            spec = parse_spec(target)
            if spec is not None:
                package = bare_package(spec.ecosystem, spec.name, spec.version or "")
                packages.append(package)
                origins.setdefault(package.purl, target)
                if spec.version is not None:
                    if client is None:
                        raise UsageError(f"{target}: downloading needs the registry; drop --offline")
                    artifacts.append(fetch_spec(spec, client, workdir / str(len(artifacts))))
                continue
            path = Path(target)
            if _is_archive(path):
                artifacts.append(open_artifact(path))
                continue
            if options.scan_code and (not path.exists() or _is_image_dir(path)):
                # an image or rootfs: its installed packages' code, read out of the layers
                scan = scan_installed_code(
                    target,
                    include_distro=options.scan_distro_packages,
                    source_options=options.source,
                    progress=progress,
                )
                inventories.append(scan.inventory)
                packages.extend(scan.inventory.packages)
                skipped.extend(scan.inventory.skipped)
                skipped.extend(scan.skipped)
                reports.extend(scan.reports)
                findings.extend(scan.findings)
                installed_scanned += len(scan.reports)
                continue
            if path.is_dir():
                inventory = _inventory(target, inventory_builder, progress, options.source)
                inventories.append(inventory)
                picture = analyze_project(path, config, env=options.env, packages=inventory.packages)
                findings.extend(picture.findings)
                internal.update(picture.internal)
                if picture.private_pypi:
                    private_pypi = private_pypi or picture.private_pypi[0]
                packages.extend(inventory.packages)
                skipped.extend(inventory.skipped)
                manifest = package_manifest(path)
                if options.scan_code:
                    artifacts.append(open_artifact(path))
                elif manifest is not None and not _is_checkout(path):
                    # A directory that is a package (an unpacked sdist or npm tarball, a
                    # vendored copy) is vetted as its archive would be: its code is what runs.
                    try:
                        artifacts.append(open_artifact(path))
                    except SourceError as exc:
                        skipped.append(Skipped(f"code of {target}", Location(manifest), f"not scanned: {exc}"))
                elif manifest is not None:
                    notes.append(
                        f"{target} is a package ({manifest}) in a version-controlled checkout: its dependencies "
                        "were vetted, its own code was not (add --scan-code to scan it as its tarball would be)"
                    )
                continue
            if path.exists():
                raise UsageError(f"{target}: not a package archive (.whl, .tar.gz, .tgz, .zip) or directory")
            _refuse_bare_name(target)
            inventory = _inventory(target, inventory_builder, progress, options.source)
            inventories.append(inventory)
            packages.extend(inventory.packages)
            skipped.extend(inventory.skipped)

        seen: set[tuple[Ecosystem, str]] = set()
        names = [p for p in packages if p.ecosystem in (Ecosystem.PYPI, Ecosystem.NPM)]
        if len(names) > 50:
            progress.start(len(names), "typosquat check")
        for package in names:
            key = (package.ecosystem, package.name)
            if config.internal.is_internal(package.name, package.ecosystem.value):
                known = internal.get(key)
                if known is None or (known.version is None and package.version):
                    internal[key] = InternalName(
                        package.ecosystem, package.name, package.version or None, "matches chainwarden.toml [internal]"
                    )
            if key in seen:
                continue
            seen.add(key)
            if key not in internal:
                match = detector(package.ecosystem).check(package.name)
                if match is not None and not _same_npm_maintainers(
                    client, package.ecosystem, package.name, match.target
                ):
                    findings.append(match_to_finding(match, package))
            if len(names) > 50:
                progress.advance(1)
        if len(names) > 50:
            progress.finish()

        if artifacts:
            progress.start(len(artifacts), "scanning package code")
        for artifact in artifacts:
            progress.note(f"scanning {artifact.label}")
            report = analyze_artifact(artifact)
            reports.append(report)
            findings.extend(report.findings)
            skipped.extend(artifact.skipped)
            if artifact.name and (artifact.ecosystem, artifact.name) not in seen:
                seen.add((artifact.ecosystem, artifact.name))
                match = detector(artifact.ecosystem).check(artifact.name)
                if match is not None:
                    findings.append(match_to_finding(match, report.package))
            progress.advance(1)
        if artifacts:
            progress.finish()

        if internal and client is not None and options.check_claims:
            progress.note(f"checking {len(internal)} internal names on public registries")
            results = check_claims(internal.values(), client, config, private_pypi=private_pypi)
            findings.extend(claim_findings(results, registry_urls=registry_urls(client)))
    finally:
        if own_client and client is not None:
            client.close()
        _remove_tree(workdir)
    findings = _Suppressions(config, options.ignore).apply(findings)
    for artifact, report in zip(artifacts, reports[len(reports) - len(artifacts) :], strict=True):
        origins.setdefault(report.package.purl, artifact.label)
    return VetResult(
        findings=tuple(findings),
        packages_checked=len(seen),
        artifacts_scanned=len(artifacts) + installed_scanned,
        inventories=tuple(inventories),
        skipped=tuple(skipped),
        reports=tuple(reports),
        notes=tuple(notes),
        origins=origins,
    )


_BARE_NAME = re.compile(r"(?:@[a-z0-9][a-z0-9._~-]*/)?[A-Za-z0-9][A-Za-z0-9._~-]*")


def _refuse_bare_name(target: str) -> None:
    """``vet requests``: a package name without a registry is not a file nor an image to guess."""
    if not _BARE_NAME.fullmatch(target):
        return
    choices = f"npm:{target}" if target.startswith("@") else f"pypi:{target} or npm:{target}"
    raise UsageError(f"{target}: no such file or directory; to vet a package, name its registry: {choices}")


def _same_npm_maintainers(client: RegistryClient | None, ecosystem: Ecosystem, name: str, target: str) -> bool:
    """A look-alike published by the anchor's own maintainers is theirs, not a squat."""
    if client is None or ecosystem is not Ecosystem.NPM:
        return False
    try:
        candidate, anchor = client.npm_packument(name), client.npm_packument(target)
    except RegistryClientError:
        return False  # cannot tell: keep the finding
    if not candidate or not anchor:
        return False
    return bool(npm_maintainers(candidate) & npm_maintainers(anchor))


def _inventory(
    target: str,
    builder: Callable[[str], Inventory] | None,
    progress: ProgressCallback,
    source_options: SourceOptions | None = None,
) -> Inventory:
    if builder is not None:
        return builder(target)
    from chainwarden.inventory import build_inventory

    return build_inventory(target, options=source_options, progress=progress)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _resolve_pair(old: str, new: str | None) -> tuple[str, str]:
    """``diff OLD NEW`` or ``diff pypi:NAME==A..B`` / ``diff npm:NAME@A..B``."""
    if new is not None:
        return old, new
    spec = parse_spec(old)
    if spec is None or spec.version is None or ".." not in spec.version:
        raise UsageError(f"{old}: give OLD and NEW, or a range like pypi:NAME==1.0..1.1 / npm:NAME@1.0.0..1.0.1")
    first, _, second = spec.version.partition("..")
    if spec.ecosystem is Ecosystem.PYPI:
        return f"pypi:{spec.name}=={first}", f"pypi:{spec.name}=={second}"
    return f"npm:{spec.name}@{first}", f"npm:{spec.name}@{second}"


def _open_one(target: str, client: RegistryClient | None, workdir: Path) -> PackageArtifact:
    spec: PackageSpec | None = parse_spec(target)
    if spec is not None:
        if client is None:
            raise UsageError(f"{target}: downloading needs the registry; drop --offline")
        return fetch_spec(spec, client, workdir)
    path = Path(target)
    if not path.exists():
        raise UsageError(f"{target}: no such file or directory (or give pypi:NAME==VER / npm:NAME@VER)")
    return open_artifact(path)


def review_update(
    old: str,
    new: str | None = None,
    *,
    config: Config | None = None,
    options: VetOptions | None = None,
    client: RegistryClient | None = None,
) -> DiffReport:
    """Compare two versions of one package (archives, dirs or registry specs)."""
    config = config or Config()
    options = options or VetOptions()
    old, new_target = _resolve_pair(old, new)
    own_client = client is None and not options.offline
    client = client or (None if options.offline else make_client(options, config))
    workdir = Path(tempfile.mkdtemp(prefix="chainwarden-diff-"))
    try:
        before = _open_one(old, client, workdir / "old")
        after = _open_one(new_target, client, workdir / "new")
        if before.name and after.name and before.name != after.name:
            raise UsageError(f"diff compares two versions of one package, got {before.name!r} and {after.name!r}")
        report = diff_artifacts(before, after, detector=detector_for(after.ecosystem), client=client)
    finally:
        if own_client and client is not None:
            client.close()
        _remove_tree(workdir)
    kept = _Suppressions(config, options.ignore).apply(report.findings)
    return dataclasses.replace(
        report,
        findings=tuple(kept),
        files_compared=len(before.files) + len(after.files),
        skipped=tuple(before.skipped) + tuple(after.skipped),
    )


def rule_infos() -> dict[str, RuleInfo]:
    """SARIF/docs metadata for every rule these analyzers emit."""
    infos: dict[str, RuleInfo] = {}

    def add(rule_id: str, name: str, short: str, help_text: str, severity: Severity) -> None:
        infos[rule_id] = RuleInfo(rule_id, name, short, help_text, severity)

    add(
        TYPOSQUAT_RULE,
        "Typosquat",
        "Name imitates a popular package",
        "The name is one small transformation away from a popular package (swap, omission, look-alike, separator, "
        "affix, scope). Check the name; allow it in [typosquat] allow if intended.",
        Severity.HIGH,
    )
    for rule in HEURISTIC_RULES.values():
        add(rule.id, rule.name, rule.summary, f"{rule.rationale} {rule.remediation}", rule.base)
    confusion = {
        RULE_EXTRA_INDEX: ("ExtraIndexUrl", "pip merges a private index with PyPI", Severity.HIGH),
        RULE_UV_STRATEGY: ("UvIndexStrategy", "uv index configuration lets PyPI serve internal names", Severity.HIGH),
        RULE_POETRY_SOURCE: ("PoetrySourcePriority", "Poetry searches PyPI before the private source", Severity.HIGH),
        RULE_NPM_SCOPE: ("UnmappedScope", "Internal npm scope has no registry mapping", Severity.HIGH),
        RULE_NPM_UNSCOPED: ("UnscopedInternal", "Internal npm package is unscoped", Severity.HIGH),
        RULE_UNCLAIMED: ("Unclaimed", "Internal name is free on the public registry", Severity.MEDIUM),
        RULE_CLAIMED: ("ClaimedBySomeoneElse", "Internal name is taken on the public registry", Severity.CRITICAL),
        RULE_CLAIMED_BY_YOU: ("ClaimedByYou", "Internal name is held publicly by you", Severity.INFO),
        RULE_LOOKUP_FAILED: ("ClaimLookupFailed", "Public registry could not be asked", Severity.UNKNOWN),
    }
    update = {
        RULE_NEW_HOOK: ("NewInstallHook", "Release adds an install-time hook", Severity.HIGH),
        RULE_CHANGED_HOOK: ("ChangedInstallHook", "Release changes an install-time hook", Severity.MEDIUM),
        RULE_NEW_DEPENDENCY: ("NewDependency", "Release adds a dependency", Severity.LOW),
        RULE_NEW_CAPABILITY: ("NewCapability", "Release adds a capability", Severity.MEDIUM),
        RULE_NEW_THREAT: ("NewThreat", "Release adds a threat indicator", Severity.HIGH),
        RULE_NEW_OBFUSCATED: ("NewObfuscatedFile", "Release adds obfuscated/minified code", Severity.MEDIUM),
        RULE_MAINTAINERS: ("MaintainersChanged", "Maintainers or publisher changed", Severity.MEDIUM),
        RULE_VERDICT: ("UpdateVerdict", "Overall verdict on the update", Severity.INFO),
    }
    explained = (
        (confusion, ". Dependency confusion installs a public package in place of yours."),
        (update, "; the event-stream takeover looked like this. Review before upgrading."),
    )
    for table, rationale in explained:
        for rule_id, (name, short, severity) in table.items():
            add(rule_id, name, short, short + rationale, severity)
    return infos
