"""Reading the user's files: one place for the bound on size and for the one-line error.

Every input a user names (nmap XML, flow logs, YAML configs and policies, stored results) is
opened here, so that a missing, unreadable or oversized file always gives the same clear
:class:`~scanner.errors.InputError` naming the file, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from scanner.errors import InputError


def open_input(path: str, what: str = "file", regular_only: bool = False) -> BinaryIO:
    """``path`` opened for binary reading; ``what`` names the kind of file in the error.

    ``regular_only`` refuses a FIFO, device or socket: such an input never ends, or blocks the
    scan waiting for a writer. The check is made on the opened file (no race with a rename), and
    the open itself does not wait for a FIFO's writer.
    """
    with _as_input_error(path, what):
        if not regular_only:
            return open(path, "rb")  # noqa: SIM115 - the caller closes it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"is a directory, not a {what}", path)
        if not stat.S_ISREG(mode):
            kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise InputError(f"is {kind}, not a regular {what}", path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def _as_input_error(path: str, what: str) -> Iterator[None]:
    """An OS error opening a user's file, as the one-line input error that names it."""
    try:
        yield
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a {what}", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None


def read_bounded(path: str, limit: int, what: str = "file", regular_only: bool = False) -> bytes:
    """At most ``limit + 1`` bytes of ``path``: one more than allowed tells the caller it is too large."""
    with open_input(path, what, regular_only) as handle:
        try:
            return handle.read(limit + 1)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", path) from None
