"""Sample scan configurations shipped with cityscan."""
