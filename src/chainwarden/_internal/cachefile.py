"""Best-effort, atomic cache files.

A cache only saves time: a write that fails (read-only or full disk) is
ignored, and a half-written file is never left where a reader would find it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomically(path: Path, data: bytes) -> bool:
    """Write ``data`` to a temp file beside ``path``, then rename; False on failure."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return True
    except BaseException as exc:
        # a failed write, Ctrl-C or SIGTERM: never leave the temp file behind
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            return False
        raise


def write_json_atomically(path: Path, payload: Any) -> bool:
    return write_bytes_atomically(path, json.dumps(payload, separators=(",", ":")).encode())
