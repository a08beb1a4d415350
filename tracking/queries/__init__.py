"""Reads: access-scoped look-ups and searches, a fixed number of queries per call."""
