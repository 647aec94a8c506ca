"""Which operating system release a rootfs holds.

``/etc/os-release`` first (dpkg.read_distro); images that lack it fall back to
the distribution's own release file (``/etc/alpine-release``,
``/etc/redhat-release``, ``/etc/system-release``).
"""

from __future__ import annotations

import re

from chainwarden.inventory.dpkg import OS_RELEASE_PATHS, read_distro
from chainwarden.models import Distro
from chainwarden.sources.interface import FileSystemView

ALPINE_RELEASE = "/etc/alpine-release"
REDHAT_RELEASE_PATHS = ("/etc/redhat-release", "/etc/system-release", "/etc/centos-release")
RELEASE_PATHS = (*OS_RELEASE_PATHS, ALPINE_RELEASE, *REDHAT_RELEASE_PATHS)

# "Rocky Linux release 9.3 (Blue Onyx)", "CentOS Linux release 7.9.2009 (Core)",
# "Red Hat Enterprise Linux release 8.9 (Ootpa)", "Amazon Linux release 2023 (Amazon Linux)"
_REDHAT_RELEASE = re.compile(r"^(?P<name>.+?) release (?P<version>[0-9][0-9.]*)")
_REDHAT_IDS = (
    ("Red Hat Enterprise Linux", "rhel"),
    ("CentOS Stream", "centos"),
    ("CentOS", "centos"),
    ("Rocky Linux", "rocky"),
    ("AlmaLinux", "almalinux"),
    ("Fedora", "fedora"),
    ("Amazon Linux", "amzn"),
    ("Oracle Linux", "ol"),
)


def _read(view: FileSystemView, path: str) -> str | None:
    try:
        return view.read_text(path)
    except Exception:  # missing, or not captured by any cataloger
        return None


def parse_redhat_release(text: str) -> Distro | None:
    """The distro from a ``/etc/redhat-release`` line, when it names a known one."""
    match = _REDHAT_RELEASE.match(text.strip())
    if match is None:
        return None
    name = match.group("name")
    for prefix, distro_id in _REDHAT_IDS:
        if name.startswith(prefix):
            return Distro(distro_id, match.group("version"), "", text.strip().splitlines()[0])
    return None


def read_release(view: FileSystemView) -> Distro | None:
    """The release from os-release, else from the distribution's own release file."""
    distro = read_distro(view)
    if distro is not None:
        return distro
    alpine = _read(view, ALPINE_RELEASE)
    if alpine is not None and alpine.strip():
        version = alpine.strip().splitlines()[0]
        return Distro("alpine", version, "", f"Alpine Linux v{version}")
    for path in REDHAT_RELEASE_PATHS:
        text = _read(view, path)
        if text is not None and (found := parse_redhat_release(text)) is not None:
            return found
    return None
