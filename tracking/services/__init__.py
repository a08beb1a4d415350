"""Writes: each service is one verb, keyword-only arguments, one transaction."""
