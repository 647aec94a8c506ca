"""chainwarden: defend the software supply chain of images and packages.

The library API lives in :mod:`chainwarden.api`; the common entry points are
re-exported here lazily so that ``import chainwarden`` stays cheap::

    import chainwarden
    inventory = chainwarden.build_inventory("oci:./image")
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "build_inventory", "open_target"]

#: The release, as reports name their producer; pyproject.toml's ``version``
#: says the same (a test holds them together). Read from here rather than from
#: the installed metadata, whose lookup imports half the standard library.
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from chainwarden import api

        return getattr(api, name)
    raise AttributeError(f"module 'chainwarden' has no attribute {name!r}")
