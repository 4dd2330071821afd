"""`ehcp` commands for forecast: argument parsing only; the work is done in the library."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``ehcp`` app."""
