"""Reading and writing user-visible files: bounded reads; atomic writes through symlinks, keeping what the file was.

Every file a user names as input (a policy, an ignore file, a key, a trusted
root) is read through :func:`read_bounded`: at most a limit's worth of bytes is
read, so ``/dev/zero`` or a FIFO given by mistake cannot exhaust memory.

Every file chainwarden writes for a user (a report given with ``-o``, a fixed
manifest, an SBOM, refreshed data) goes through :func:`write_atomically`: the
bytes land in a temporary file beside the target and are renamed over it, so
an error, Ctrl-C or SIGTERM half-way leaves the old file whole and no temp file
behind. A symlink is written through to its target (the link stays a link), an
existing file keeps its permission bits (and owner, when we are root), a new
one gets what the umask allows. Devices and FIFOs (``-o /dev/stdout``) are
written in place: there is nothing to replace.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from chainwarden.errors import Error, UsageError


def read_bounded(path: Path, limit: int, error: type[Error], what: str = "") -> bytes:
    """The bytes of ``path``, at most ``limit`` of them; anything longer is refused, not truncated.

    Failures raise ``error``: ``PATH: cannot read WHAT (reason)`` or ``PATH: WHAT is larger than SIZE``.
    The length is what was read, not what ``stat`` says: devices and FIFOs are bounded too.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read{' ' + what if what else ''} ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise error(f"{path}: {what + ' is ' if what else ''}larger than {_size(limit)}")
    return data


def _size(count: int) -> str:
    for unit, factor in (("MiB", 1024**2), ("KiB", 1024)):
        if count >= factor and count % factor == 0:
            return f"{count // factor} {unit}"
    return f"{count} bytes"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the contents of ``path`` with ``data``; raises OSError (nothing changed then)."""
    with _replacing(path, binary=True) as handle:
        handle.write(data)


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


@contextlib.contextmanager
def open_atomically(path: Path) -> Iterator[IO[str]]:
    """A text stream whose contents replace ``path`` when the block ends without an exception.

    For reports written in pieces (a large SBOM): the same guarantees as
    :func:`write_atomically` without holding the whole text.
    """
    with _replacing(path, binary=False) as stream:
        yield stream


@contextlib.contextmanager
def _replacing(path: Path, *, binary: bool) -> Iterator[Any]:
    target = Path(os.path.realpath(path))
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory", str(path))
    mode, encoding = ("wb", None) if binary else ("w", "utf-8")
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(target, mode, encoding=encoding) as handle:  # a device or FIFO: write through, no rename
            yield handle
        return
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, (st.st_mode & 0o7777) if st is not None else 0o666 & ~_umask())
        if st is not None and os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
            with contextlib.suppress(OSError):
                os.chown(temporary, st.st_uid, st.st_gid)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def check_output_path(path: Path, option: str = "-o") -> None:
    """Fail before any work when ``path`` cannot be written: a missing or read-only directory, a directory."""
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a directory")
    if target.exists():
        if target.is_file() and not os.access(target, os.W_OK):
            raise UsageError(f"{option} {path}: not writable")
        return
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: directory {parent} is not writable")
