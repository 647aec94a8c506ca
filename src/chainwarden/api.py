"""The public library API: what the CLI calls, usable on its own.

>>> from chainwarden.api import build_inventory
>>> inventory = build_inventory("oci:./image")
"""

from __future__ import annotations

from pathlib import Path

from chainwarden.inventory import catalog_source
from chainwarden.inventory.sbom_document import read_sbom
from chainwarden.models import Inventory
from chainwarden.sources import SourceOptions, detect_scheme, open_source
from chainwarden.sources.interface import ProgressCallback, Source

__all__ = ["SourceOptions", "build_inventory", "open_target"]


def open_target(target: str, options: SourceOptions | None = None) -> Source:
    """Open a target string (``oci:DIR``, ``registry:…``, a path…); close it after use."""
    return open_source(target, options)


def build_inventory(
    target: str,
    *,
    options: SourceOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Inventory:
    """Every package in ``target``, with locations and owned files.

    An SBOM (``sbom:FILE``, or a CycloneDX/SPDX JSON file) is read as the
    inventory it describes: packages and their purls, without files.
    """
    scheme, rest = detect_scheme(target)
    if scheme == "sbom":
        return read_sbom(Path(rest), target)
    with open_source(target, options) as source:
        return catalog_source(source, progress=progress)
