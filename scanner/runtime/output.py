"""Write results so that a crash or a second run never leaves a half-written file.

A regular file (or a new path) is written through a temporary file in the same directory and an
atomic rename. Anything else the user names — ``/dev/stdout``, ``/dev/null``, a FIFO, a terminal —
is written to as it is (streamed): renaming over it would replace a device node with a file.
A symbolic link is followed, so the file it points to is replaced, not the link.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from scanner.errors import InputError

_pending: set[str] = set()  # temporary files of writes in flight, removed if the process must exit at once


def discard_pending_writes() -> None:
    """Remove the temporary files of unfinished writes (a second stop signal exits without clean-up)."""
    for tmp in list(_pending):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def is_special(path: str | Path) -> bool:
    """True for an existing path that is not a regular file or a directory (a device, FIFO, socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_atomic(path: str | Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path``: atomically for a regular file, streamed for a device or FIFO.

    A new file gets the user's umask, or ``mode`` when given (0600 for private data such as a cache).
    """
    _check_link(Path(path))
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise InputError("is a directory, not a file", str(path))
    if is_special(target):
        _stream(target, text, str(path))
        return
    directory = target.parent
    if not directory.is_dir():
        raise InputError("output directory does not exist", str(Path(path).parent))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", str(path)) from None
    _pending.add(tmp)
    try:
        existing = _existing(target)
        os.fchmod(fd, mode if mode is not None else (stat.S_IMODE(existing.st_mode) if existing else _umask_mode()))
        if existing is not None and os.geteuid() == 0 and (existing.st_uid, existing.st_gid) != (0, 0):
            os.fchown(fd, existing.st_uid, existing.st_gid)  # root replacing a user's report keeps it theirs
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write: {exc.strerror}", str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _pending.discard(tmp)


def _check_link(path: Path) -> None:
    """A symbolic link is followed only when it is the writer's own: a link another user planted
    (e.g. in /tmp) must not make cityscan replace the file it points to."""
    try:
        info = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISLNK(info.st_mode):
        return
    parent = os.stat(path.parent if str(path.parent) else Path("."))
    if info.st_uid != os.geteuid() or (parent.st_mode & stat.S_ISVTX and parent.st_uid != os.geteuid()):
        raise InputError("is a symbolic link of another user (or in a shared directory): not followed", str(path))


def _existing(target: Path) -> os.stat_result | None:
    try:
        return os.stat(target)
    except OSError:
        return None


def _stream(target: Path, text: str, shown: str) -> None:
    try:
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", shown) from None


def _umask_mode() -> int:
    """0666 less the process's umask: what ``open()`` would give a new file (mkstemp gives 0600).

    Read from /proc where it can be: setting the umask to learn it would race with other threads."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            current = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        current = os.umask(0o022)
        os.umask(current)
    return 0o666 & ~current
