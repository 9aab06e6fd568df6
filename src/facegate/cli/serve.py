"""``facegate serve``: the REST API, in this process or in several worker processes.

One process (the default) serves an app built here. With ``--workers N`` (N > 1) uvicorn starts
N processes, each building its own service from the environment
(``facegate.api.app:app_from_env``); they share the store, which must then be PostgreSQL
(SQLite, the embedded default, is a single-writer file meant for one process). Each worker
keeps its own 1:N indexes, kept in step through the store's index change log.

``--tls-cert FILE --tls-key FILE`` serves HTTPS directly (both or neither);
``--trusted-proxies "10.0.0.1,10.0.0.2"`` believes ``X-Forwarded-For`` and
``X-Forwarded-Proto`` from those addresses only (default: from none). Logs go to standard
error as JSON lines (``FACEGATE_LOG_FORMAT=text`` for plain text, ``FACEGATE_LOG_LEVEL``),
uvicorn's included; the access line names the route's path template, never the query string
or the client's address (``facegate.logs``). With ``PROMETHEUS_MULTIPROC_DIR`` set, every
worker's metrics are summed at ``/metrics`` (``facegate.api.metrics``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate import logs
from facegate.cli.common import STATE
from facegate.errors import BadInput


def tls_options(cert: Path | None, key: Path | None) -> dict[str, Any]:
    """uvicorn's TLS arguments: both files or neither, each readable."""
    if (cert is None) != (key is None):
        raise BadInput("--tls-cert and --tls-key go together: give both files (the "
                       "certificate chain and its private key), or neither for plain HTTP")
    if cert is None or key is None:
        return {}
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise BadInput(f"{flag} {path}: no such file")
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def proxy_options(trusted: str) -> dict[str, Any]:
    """uvicorn's proxy arguments: forwarded headers believed only from ``trusted``."""
    hosts = [h.strip() for h in trusted.split(",") if h.strip()]
    if not hosts:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": hosts}


def clear_multiproc_dir() -> None:
    """Empty the metrics directory of an earlier run (prometheus-client's multiprocess mode
    needs a clean directory at start)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def serve(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
          workers: Annotated[int, typer.Option(
              min=1, help="Worker processes; more than one needs PostgreSQL "
                          "(FACEGATE_DATABASE_URL).")] = 1,
          tls_cert: Annotated[Path | None, typer.Option(
              help="Serve HTTPS with this certificate (PEM; with --tls-key).")] = None,
          tls_key: Annotated[Path | None, typer.Option(
              help="The certificate's private key (PEM; with --tls-cert).")] = None,
          trusted_proxies: Annotated[str, typer.Option(
              help="Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
                   "X-Forwarded-Proto are believed (default: none).")] = "") -> None:
    """Start the REST API (OpenAPI at /openapi.json, docs at /docs, metrics at /metrics)."""
    import uvicorn

    fmt, level = logs.checked(os.environ.get("FACEGATE_LOG_FORMAT") or "json",
                              os.environ.get("FACEGATE_LOG_LEVEL") or "INFO")
    options: dict[str, Any] = {
        "host": host, "port": port, "log_level": level.lower(), "access_log": False,
        "log_config": logs.configure(fmt, level), **tls_options(tls_cert, tls_key),
        **proxy_options(trusted_proxies)}
    clear_multiproc_dir()
    if workers == 1:
        from facegate.api.app import create_app

        STATE.service.engine  # noqa: B018 - a model that fails its check refuses to start here
        uvicorn.run(create_app(STATE.service), **options)
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
    uvicorn.run("facegate.api.app:app_from_env", factory=True, workers=workers, **options)
