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
from pathlib import Path

from chainwarden.errors import SourceError, UsageError
from chainwarden.sources.image import ImageSource
from chainwarden.sources.interface import Source
from chainwarden.sources.interface import SourceOptions as SourceOptions  # the options open_source takes

SCHEMES = ("oci", "docker-archive", "oci-archive", "registry", "dir", "sbom")


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


def looks_like_sbom(path: Path) -> bool:
    """A JSON file that names itself CycloneDX or SPDX in its first or last 4 KiB
    (cyclonedx-python-lib writes ``bomFormat`` last, after the components)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            size = os.fstat(handle.fileno()).st_size
            if size > 8192:
                handle.seek(size - 4096)
            tail = handle.read(4096) if size > 4096 else b""
    except OSError:
        return False
    if not head.lstrip().startswith(b"{"):
        return False
    return any(marker in head + tail for marker in (b'"bomFormat"', b'"spdxVersion"'))


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
