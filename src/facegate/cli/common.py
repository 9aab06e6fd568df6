"""What every command shares: the data directory, the service, output and errors."""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
import yaml

from facegate.errors import BadInput, FacegateError
from facegate.service import Actor, Facegate, Settings


@dataclass
class State:
    data: Path | None = None
    json: bool = False
    _service: Facegate | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.data)

    @property
    def service(self) -> Facegate:
        if self._service is None:
            settings = self.settings
            if not (settings.data_dir / "facegate.db").exists() and not settings.database_url:
                raise BadInput(f"{settings.data_dir} is not initialised: run 'facegate init'")
            self._service = Facegate(settings)
        return self._service


STATE = State()


def actor() -> Actor:
    return Actor(f"cli:{getpass.getuser()}", "admin")


def seconds(at: str) -> str:
    """A time as the service tells it (the installation's zone with its offset), to the
    second."""
    return datetime.fromisoformat(at).isoformat(timespec="seconds")


def emit(obj: Any, human: str | None = None) -> None:
    if STATE.json:
        typer.echo(json.dumps(obj, ensure_ascii=False, default=str))
    elif human is not None:
        typer.echo(human)
    else:
        typer.echo(yaml.safe_dump(obj, allow_unicode=True, sort_keys=False).rstrip())


def report(err: FacegateError) -> int:
    """Print an error (JSON or text) and return the exit code."""
    body = err.to_dict()
    if STATE.json:
        typer.echo(json.dumps(body, ensure_ascii=False, default=str))
    else:
        typer.echo(f"error: {err.message}", err=True)
        if err.rules:
            typer.echo(f"rules: {', '.join(err.rules)}", err=True)
        for remedy in body.get("remedies", []):
            typer.echo(f"to make it lawful: {remedy}", err=True)
    return err.exit_code


def read_image(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BadInput(f"{path} is not valid YAML/JSON: {e}") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{path} must hold a mapping of manifest fields")
    return raw
