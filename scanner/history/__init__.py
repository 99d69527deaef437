"""History of scheduled scans: the store, and what changed between two results."""
