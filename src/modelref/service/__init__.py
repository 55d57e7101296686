"""Use cases: each public method owns exactly one transaction."""
