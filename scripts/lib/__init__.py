"""Shared code of the operations scripts (scripts/*)."""
