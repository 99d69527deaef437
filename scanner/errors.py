"""Errors the CLI turns into one line and an exit code (never a traceback)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3


class CityscanError(Exception):
    """Base of the project's own errors; ``exit_code`` tells the CLI how to leave."""

    exit_code = EXIT_USAGE


class InputError(CityscanError):
    """Bad user input: an option, a config, a policy, an imported file.

    Rendered as ``file:line: message`` (the parts that are known).
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return f"{where}{self.message}"


class InputErrors(InputError):
    """Several mistakes in one input (e.g. a policy file): all are reported, one line each, so a
    user fixes the file in one go instead of one error per run."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.message, first.file, first.line)

    def lines(self) -> list[str]:
        return [str(e) for e in self.errors]


class ScopeError(InputError):
    """A target outside the configured scope (refused before any packet is sent)."""


class CannotRunError(CityscanError):
    """The scan could not run: nmap missing, no permission, no namespaces."""

    exit_code = EXIT_CANNOT_RUN
