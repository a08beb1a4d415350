"""Writes to the registry: one verb-first function per change, each in one transaction."""
