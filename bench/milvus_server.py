"""A standalone Milvus server from the ``milvus`` wheel, for the benchmarks and the tests:
started in a directory (a temporary one by default) on a free port, stopped (and every process
it started killed: it ignores SIGTERM) on exit. ``pip install --no-deps milvus==2.3.5``, as
scripts/test.sh does."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kill_under(base: str) -> None:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.startswith(base):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


@contextlib.contextmanager
def milvus_server(base: str | None = None) -> Iterator[str]:
    """Yields the server's URI; its files go under ``base`` (default: a temporary folder)."""
    from milvus import MilvusServer

    with contextlib.ExitStack() as stack:
        folder = base or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="facegate-milvus-"))
        server: Any = MilvusServer()
        server.set_base_dir(folder)
        server.listen_port = free_port()
        try:
            server.start()
            yield f"http://127.0.0.1:{server.listen_port}"
        finally:
            try:
                server.stop()
            finally:
                _kill_under(folder)
