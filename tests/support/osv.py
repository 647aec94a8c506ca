"""An offline OSV database from records written by a test, through ``chainwarden db import``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def import_records(root: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """``root/osv.sqlite3`` holding ``records`` (each written as ``root/advisories/<id>.json`` first)."""
    from chainwarden.cli import main

    advisories = root / "advisories"
    advisories.mkdir()
    for record in records:
        (advisories / f"{record['id']}.json").write_text(json.dumps(record))
    db = root / "osv.sqlite3"
    assert main(["db", "import", str(advisories), "--db", str(db)]) == 0
    return db
