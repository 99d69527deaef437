"""Reading the user's files: one place for the bound on size and for the one-line error.

Every input a user names (nmap XML, flow logs, YAML configs and policies, stored results) is
opened here, so that a missing, unreadable or oversized file always gives the same clear
:class:`~scanner.errors.InputError` naming the file, never a traceback.
"""

from __future__ import annotations

from typing import BinaryIO

from scanner.errors import InputError


def open_input(path: str, what: str = "file") -> BinaryIO:
    """``path`` opened for binary reading; ``what`` names the kind of file in the error."""
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a {what}", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None


def read_bounded(path: str, limit: int, what: str = "file") -> bytes:
    """At most ``limit + 1`` bytes of ``path``: one more than allowed tells the caller it is too large."""
    with open_input(path, what) as handle:
        try:
            return handle.read(limit + 1)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", path) from None
