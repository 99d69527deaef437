"""``python -m scanner``: the same as the ``cityscan`` command."""

from scanner.cli import main

if __name__ == "__main__":
    main()
