"""Sample policies shipped with cityscan (usable by name, e.g. --policy eu-gdpr-baseline)."""
