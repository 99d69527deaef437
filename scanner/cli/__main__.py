"""``python -m scanner.cli``: the same as ``cityscan``."""

from scanner.cli import main

main()
