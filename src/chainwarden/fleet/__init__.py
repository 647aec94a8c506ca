"""Fleet: every image of a registry in one database, queried without rescanning.

>>> from chainwarden.fleet import open_store
>>> with open_store("postgresql://fleet@db/fleet") as store:   # doctest: +SKIP
...     store.stats()
"""

from __future__ import annotations

from chainwarden.fleet.interface import AffectedRow, FleetError, ImageRow, PackageUsage, StoreMissingError
from chainwarden.fleet.store import FleetStore, default_store_url, open_store

__all__ = [
    "AffectedRow",
    "FleetError",
    "FleetStore",
    "ImageRow",
    "PackageUsage",
    "StoreMissingError",
    "default_store_url",
    "open_store",
]
