"""Subcommands of `pgfnet` for this area; filled in with the area's code."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add this area's subcommands to the `pgfnet` parser."""
