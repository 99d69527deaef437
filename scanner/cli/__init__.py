"""The ``cityscan`` command. Thin: it parses options, calls the pipeline, the reports and the
history, and maps errors to exit codes. One module per group of commands; importing this
package registers them all on :data:`cli`."""

from scanner.cli import data, history, knowledge, lab, scan, settings  # noqa: F401 - they register their commands
from scanner.cli.app import cli, main, name_environment

name_environment(cli, "CITYSCAN")

__all__ = ["cli", "main"]
