"""cityscan fingerprint database (YAML data files; see docs/data-formats.md)."""
