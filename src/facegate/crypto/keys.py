"""Per-subject keys, so that deleting one key shreds every copy of a subject's face data.

The master key (KEK) comes from ``FACEGATE_MASTER_KEY`` (base64 of 32 bytes) or a key file
(``FACEGATE_KEY_FILE``, default ``~/.config/facegate/master-<data dir hash>.key``, mode 0600): it is
never stored in the data directory. Each subject gets a random 256-bit data key (DEK), stored only
wrapped by the KEK (AES-GCM, bound to the subject id). Templates and identity data are sealed with
the DEK (AES-GCM, bound to what they are). Rules: ``storage.separate-identity``,
``consent.withdraw``, ``security.controls``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from facegate.errors import FacegateError, KeyShredded

NONCE = 12


class MasterKeyError(FacegateError):
    code = "master_key"


@dataclass(frozen=True)
class MasterKey:
    material: bytes
    source: str

    def derive(self, purpose: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=b"facegate/" + purpose.encode()).derive(self.material)


def default_key_file(data_dir: Path) -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "facegate"
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return base / f"master-{tag}.key"


def load_master_key(data_dir: Path, *, create: bool = False) -> MasterKey:
    """The master key: environment first, then the key file (created by ``init`` if asked)."""
    env = os.environ.get("FACEGATE_MASTER_KEY")
    if env:
        try:
            raw = base64.b64decode(env, validate=True)
        except ValueError:
            raise MasterKeyError("FACEGATE_MASTER_KEY is not valid base64") from None
        if len(raw) != 32:
            raise MasterKeyError("FACEGATE_MASTER_KEY must encode exactly 32 bytes")
        return MasterKey(raw, "environment")
    path = Path(os.environ.get("FACEGATE_KEY_FILE") or default_key_file(data_dir))
    if path.resolve().is_relative_to(data_dir.resolve()):
        raise MasterKeyError(f"the key file {path} must not be inside the data directory")
    if not path.exists():
        if not create:
            raise MasterKeyError(f"no master key: set FACEGATE_MASTER_KEY or create {path} "
                                 "(facegate init does)")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    raw = base64.b64decode(path.read_text().strip())
    if len(raw) != 32:
        raise MasterKeyError(f"the key file {path} must hold base64 of 32 bytes")
    return MasterKey(raw, str(path))


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(blob[:NONCE], blob[NONCE:], aad)


class KeyRing:
    """Wraps and unwraps subject keys; seals and opens data under them."""

    def __init__(self, master: MasterKey) -> None:
        self._kek = master.derive("kek")
        self._ref_key = master.derive("ref-index")
        self.session_key = master.derive("console-session")  # signs console cookies
        self._request_key = master.derive("rights-requests")
        self._rotation_key = master.derive("index-rotation")
        # Names the master key without revealing it (a backup must be restored under it).
        self.fingerprint = master.derive("fingerprint").hex()[:16]

    def new_subject_key(self, subject_id: str) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (the only form that is stored)."""
        dek = secrets.token_bytes(32)
        return dek, _seal(self._kek, dek, b"dek:" + subject_id.encode())

    def unwrap(self, subject_id: str, wrapped: bytes | None) -> bytes:
        if wrapped is None:
            raise KeyShredded(f"the key of subject {subject_id} has been deleted")
        try:
            return _open(self._kek, wrapped, b"dek:" + subject_id.encode())
        except InvalidTag:
            raise MasterKeyError(
                f"the key of subject {subject_id} does not unwrap: wrong master key?") from None

    @staticmethod
    def seal(dek: bytes, plaintext: bytes, aad: str) -> bytes:
        return _seal(dek, plaintext, aad.encode())

    @staticmethod
    def open(dek: bytes, blob: bytes, aad: str) -> bytes:
        return _open(dek, blob, aad.encode())

    @staticmethod
    def opener(dek: bytes) -> Callable[[bytes, bytes], bytes]:
        """``open`` under one data key, the cipher set up once: ``(blob, aad bytes) ->
        plaintext``, for opening many items of one subject in a row."""
        cipher = AESGCM(dek)

        def open_one(blob: bytes, aad: bytes) -> bytes:
            return cipher.decrypt(blob[:NONCE], blob[NONCE:], aad)

        return open_one

    def seal_contact(self, request_id: str, contact: str) -> bytes:
        """A requester's contact details, sealed (they are personal data too)."""
        return _seal(self._request_key, contact.encode(), b"contact:" + request_id.encode())

    def open_contact(self, request_id: str, blob: bytes) -> str:
        return _open(self._request_key, blob, b"contact:" + request_id.encode()).decode()

    def ref_digest(self, ref: str) -> str:
        """Keyed digest of an external reference: lookups without storing the reference plain."""
        return hmac.new(self._ref_key, ref.strip().encode(), hashlib.sha256).hexdigest()

    def index_seed(self, deployment_id: str, epoch: int) -> bytes:
        """32 secret bytes naming a deployment's template rotation at ``epoch`` (protected
        templates, ISO/IEC 24745): a new epoch gives an unrelated rotation."""
        info = f"{deployment_id}/{epoch}".encode()
        return hmac.new(self._rotation_key, info, hashlib.sha256).digest()
