"""``facegate serve``: the REST API, in this process or in several worker processes.

One process (the default) serves an app built here. With ``--workers N`` (N > 1) uvicorn starts
N processes, each building its own service from the environment
(``facegate.api.app:app_from_env``); they share the store, which must then be PostgreSQL
(SQLite, the embedded default, is a single-writer file meant for one process). Each worker
keeps its own 1:N indexes, kept in step through the store's index change log."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from facegate.cli.common import STATE
from facegate.errors import BadInput


def serve(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
          workers: Annotated[int, typer.Option(
              min=1, help="Worker processes; more than one needs PostgreSQL "
                          "(FACEGATE_DATABASE_URL).")] = 1) -> None:
    """Start the REST API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    if workers == 1:
        from facegate.api.app import create_app

        STATE.service.engine  # noqa: B018 - a model that fails its check refuses to start here
        uvicorn.run(create_app(STATE.service), host=host, port=port, log_level="info")
        return
    settings = STATE.settings
    url = settings.database_url or ""
    if not url or url.startswith("sqlite"):
        raise BadInput(f"--workers {workers} needs PostgreSQL: set FACEGATE_DATABASE_URL to a "
                       "postgresql+psycopg:// URL. SQLite, the embedded default, is one "
                       "process's single-writer file: serve it with --workers 1.")
    STATE.service.engine  # noqa: B018 - as above, once, before the workers start
    STATE.service.close()
    STATE._service = None
    # The workers build their settings from the environment, as this command did.
    os.environ["FACEGATE_DATA"] = str(settings.data_dir)
    uvicorn.run("facegate.api.app:app_from_env", factory=True, workers=workers, host=host,
                port=port, log_level="info")
