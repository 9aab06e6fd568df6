"""Helpers for tests that serve over real sockets: the machine's network address, a
self-signed certificate, ``facegate serve`` in a subprocess (with its output kept) and a
uvicorn server in a thread on any interface."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from stress.common import Server, facegate_command, terminate


def lan_address() -> str | None:
    """An IPv4 address of this machine other than loopback (``hostname -I``), if any."""
    try:
        words = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                               timeout=10, check=False).stdout.split()
    except OSError:
        words = []
    for word in words:
        try:
            ip = ipaddress.ip_address(word)
        except ValueError:
            continue
        if ip.version == 4 and not ip.is_loopback:
            return word
    return None


def free_port(host: str = "0.0.0.0") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


def self_signed(folder: Path, addresses: Sequence[str]) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) valid for ``addresses`` and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "facegate test")])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


class Served:
    """``facegate serve ARGS`` of ``server``'s installation, its output in ``log``."""

    def __init__(self, server: Server, args: Sequence[str], env: dict[str, str],
                 log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*facegate_command(), "serve", *args], env={**server.env, **env},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, url: str, verify: Any = True, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(url, verify=verify, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{url} did not answer: {self.log.read_text(errors='replace')}")

    def stop(self) -> str:
        """SIGTERM, wait, and return everything the process wrote."""
        terminate(self.proc)
        return self.log.read_text(encoding="utf-8")


@contextmanager
def threaded(app: Any, host: str, **options: Any) -> Iterator[int]:
    """Serve ``app`` with uvicorn in a thread on ``host``; yields the port."""
    import uvicorn

    port = free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
