"""The ``facegate`` command's global options: ``--version`` and ``--config FILE``."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from facegate import __version__
from facegate.service import config_file


def show_version(value: bool) -> None:
    """``--version``: print the version and stop (exit 0)."""
    if value:
        typer.echo(__version__)
        raise typer.Exit(0)


def use_config(path: Path | None) -> None:
    """``--config FILE`` sets ``FACEGATE_CONFIG``; the file named there (by the option or the
    environment) is read and checked now, and its settings go into the environment wherever
    a variable is unset, so every command and worker process sees them. A bad file is a
    ``BadInput`` (exit 2) naming the key."""
    if path is not None:
        os.environ[config_file.CONFIG_ENV] = str(path.expanduser().resolve())
    config_file.apply()
