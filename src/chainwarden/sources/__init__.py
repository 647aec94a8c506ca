"""Target strings → :class:`Source`, auto-detected like syft and trivy.

Explicit schemes: ``oci:DIR[:TAG]``, ``docker-archive:FILE.tar``,
``oci-archive:FILE.tar``, ``registry:HOST[:PORT]/REPO[:TAG|@sha256:…]``,
``dir:PATH``. Without a scheme, an existing directory is an OCI layout when it
has ``oci-layout``/``index.json``, otherwise a rootfs or project; an existing
tar is inspected for ``manifest.json`` (docker) or ``index.json`` (OCI).
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from chainwarden.errors import SourceError, UsageError
from chainwarden.sources.image import DEFAULT_PLATFORM, ImageSource
from chainwarden.sources.interface import Source

SCHEMES = ("oci", "docker-archive", "oci-archive", "registry", "dir", "sbom")


@dataclass(frozen=True, slots=True)
class SourceOptions:
    platform: str = DEFAULT_PLATFORM
    cache_dir: Path | None = None
    #: allow plain http and unverified TLS for the registry (dangerous by name)
    insecure_registry: bool = False
    registry_timeout: float = 30.0
    #: the platform was asked for (``--platform``): a single-platform image of
    #: another platform is an error instead of being scanned anyway
    strict_platform: bool = False
    #: fnmatch patterns (relative paths) a directory walk skips. None: take
    #: ``exclude`` from the project's chainwarden.toml — for projects only, never
    #: for a root filesystem, which must not be able to hide from its scanner.
    exclude: tuple[str, ...] | None = None


def split_scheme(target: str) -> tuple[str | None, str]:
    scheme, sep, rest = target.partition(":")
    if sep and scheme in SCHEMES:
        return scheme, rest
    return None, target


#: Schemes of other tools (or of ``vet``) that users type by habit; never a registry host.
_FOREIGN_SCHEMES = frozenset(
    {"docker", "docker-daemon", "podman", "containerd", "containers-storage", "file", "http", "https", "pypi", "npm"}
)


def _scheme_list() -> str:
    return ", ".join(s + ":" for s in SCHEMES)


def detect_scheme(target: str) -> tuple[str, str]:
    """(scheme, rest) for ``target``; raises UsageError when nothing fits."""
    if not target.strip():
        raise UsageError("the target is empty: give an image or a directory ('.' for the current one)")
    scheme, rest = split_scheme(target)
    if scheme is None and not os.path.lexists(target):
        prefix, sep, _ = target.partition(":")
        if sep and (target[len(prefix) :].startswith("://") or prefix.lower() in _FOREIGN_SCHEMES):
            raise UsageError(f"{target}: unknown scheme '{prefix}'; the schemes are {_scheme_list()}")
    if scheme is not None:
        if not rest:
            raise UsageError(f"{target}: nothing after '{scheme}:'")
        return scheme, rest
    path = Path(target)
    if path.is_dir():
        if (path / "index.json").is_file() and (path / "oci-layout").is_file():
            return "oci", target
        return "dir", target
    if path.is_file():
        from chainwarden.inventory.sbom_document import looks_like_sbom

        if looks_like_sbom(path):
            return "sbom", target
        try:
            with tarfile.open(target, mode="r:") as archive:
                names = {n.removeprefix("./") for n in archive.getnames()[:10_000]}
        except (OSError, tarfile.TarError) as exc:
            raise UsageError(f"{target}: a file, but not a tar image archive ({exc})") from exc
        if "manifest.json" in names:
            return "docker-archive", target
        if "index.json" in names:
            return "oci-archive", target
        raise UsageError(f"{target}: tar has neither manifest.json (docker) nor index.json (OCI)")
    if "/" in target and not target.startswith((".", "/")) and not os.path.exists(target):
        return "registry", target
    raise UsageError(f"{target}: no such file or directory; use a scheme ({_scheme_list()})")


def open_source(target: str, options: SourceOptions | None = None) -> Source:
    """Open ``target``; the caller closes the result (it is a context manager)."""
    options = options or SourceOptions()
    scheme, rest = detect_scheme(target)
    source = _open(target, scheme, rest, options)
    if options.strict_platform and isinstance(source, ImageSource):
        source.require_platform(options.platform)
    return source


def _open(target: str, scheme: str, rest: str, options: SourceOptions) -> Source:
    if scheme == "oci":
        from chainwarden.sources.oci import OCILayoutSource

        return OCILayoutSource(target, rest, options.platform, options.cache_dir)
    if scheme == "oci-archive":
        from chainwarden.sources.oci import OCIArchiveSource

        return OCIArchiveSource(target, rest, options.platform, options.cache_dir)
    if scheme == "docker-archive":
        from chainwarden.sources.docker_archive import DockerArchiveSource

        return DockerArchiveSource(target, rest, options.cache_dir)
    if scheme == "registry":
        try:
            from chainwarden.sources.registry import RegistrySource
        except ImportError as exc:  # pragma: no cover
            raise SourceError(f"{target}: registry support is unavailable ({exc})") from exc
        return RegistrySource(target, rest, options)
    if scheme == "dir":
        from chainwarden.sources.rootfs import DirectorySource

        source = DirectorySource(target, rest)
        exclude = options.exclude
        if exclude is None:
            exclude = () if source.looks_like_rootfs() else _project_excludes(source.root)
        source.exclude(exclude)
        return source
    if scheme == "sbom":
        raise UsageError(f"{target}: an SBOM lists packages but holds no files; give the image itself")
    raise UsageError(f"{target}: unknown scheme {scheme!r}")  # pragma: no cover


def _project_excludes(root: Path) -> tuple[str, ...]:
    from chainwarden.config import load_config

    return load_config(root).exclude
