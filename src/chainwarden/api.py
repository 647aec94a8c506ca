"""The public library API: what the CLI calls, usable on its own.

>>> from chainwarden.api import build_inventory
>>> inventory = build_inventory("oci:./image")
"""

from __future__ import annotations

from chainwarden.inventory import build_inventory
from chainwarden.sources import SourceOptions, open_source
from chainwarden.sources.interface import Source

__all__ = ["SourceOptions", "build_inventory", "open_target"]


def open_target(target: str, options: SourceOptions | None = None) -> Source:
    """Open a target string (``oci:DIR``, ``registry:…``, a path…); close it after use."""
    return open_source(target, options)
