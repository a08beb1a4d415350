"""Reads of the registry: look-ups that answer the object or RESOURCE_DOES_NOT_EXIST, and searches."""
