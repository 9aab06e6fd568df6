"""The key that signs audit checkpoints and each audit record (``security.controls``).

An Ed25519 key, kept apart from the master key and outside the data directory: from the file
named by ``FACEGATE_SIGNING_KEY_FILE``, by default ``signing-<data dir hash>.key`` beside the
master key file (``~/.config/facegate/`` unless ``FACEGATE_KEY_FILE`` says otherwise), mode
0600, created by ``facegate init``. Whoever can rewrite the database cannot re-sign what they
rewrote without this key; the public key travels with each checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from facegate.crypto.keys import MasterKeyError, default_key_file


class SigningKeyError(MasterKeyError):
    code = "signing_key"


def default_signing_key_file(data_dir: Path) -> Path:
    master = Path(os.environ.get("FACEGATE_KEY_FILE") or default_key_file(data_dir))
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return master.parent / f"signing-{tag}.key"


def checkpoint_dir(data_dir: Path) -> Path:
    """Where signed checkpoints are kept, outside the data directory: the folder named by
    ``FACEGATE_CHECKPOINT_DIR``, by default ``checkpoints-<data dir hash>`` beside the signing
    key. Whoever rewrites the database cannot rewrite these files through it."""
    env = os.environ.get("FACEGATE_CHECKPOINT_DIR")
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    path = Path(env) if env else signing_key_file(data_dir).parent / f"checkpoints-{tag}"
    if path.resolve().is_relative_to(data_dir.resolve()):
        raise SigningKeyError(f"the checkpoint folder {path} must not be inside the data "
                              "directory")
    return path


def signing_key_file(data_dir: Path) -> Path:
    path = Path(os.environ.get("FACEGATE_SIGNING_KEY_FILE") or default_signing_key_file(data_dir))
    if path.resolve().is_relative_to(data_dir.resolve()):
        raise SigningKeyError(f"the signing key file {path} must not be inside the data "
                              "directory")
    master = os.environ.get("FACEGATE_KEY_FILE") or default_key_file(data_dir)
    if path.resolve() == Path(master).resolve():
        raise SigningKeyError(f"the signing key file {path} must not be the master key file")
    return path


def load_signing_key(data_dir: Path, *, create: bool = False) -> Ed25519PrivateKey:
    """The checkpoint signing key (created by ``init`` if asked)."""
    path = signing_key_file(data_dir)
    if not path.exists():
        if not create:
            raise SigningKeyError(f"no signing key: set FACEGATE_SIGNING_KEY_FILE or create "
                                  f"{path} (facegate init does)")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    try:
        raw = base64.b64decode(path.read_text().strip(), validate=True)
    except ValueError:
        raise SigningKeyError(f"the signing key file {path} is not valid base64") from None
    if len(raw) != 32:
        raise SigningKeyError(f"the signing key file {path} must hold base64 of 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()
