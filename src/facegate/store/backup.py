"""Backup archives without subject keys, and the key vault that deletion reaches.

An archive is a logical copy of every table except ``subject_keys``: gzip'd JSON lines, a
header first (format, schema revision, master key fingerprint, time), then one line a row in
foreign-key order, then a trailer with the row count and the SHA-256 of every line before it.
Without the subject keys every template, identity and guardian's reference in it is
ciphertext, so an archive may be copied and kept like any other file.

The subject keys go to a vault beside the archives: one small SQLite file, owner-only, that
holds each subject's wrapped key. The installation remembers every vault it wrote (a list in
``backups.json`` in the data directory), and every transaction that deletes or replaces a
subject's key removes it from each vault as it commits (``UnitOfWork.commit``). A restore takes
keys only from the vault, so an archive made before a deletion cannot bring the subject back.
The vault is written with ``secure_delete`` and a rollback journal, so a removed key leaves no
copy in any file.

A vault that cannot be reached when a key is deleted (its file moved away, its disk
unmounted) does not keep that key for a later restore: the subject ids go to a tombstone file
beside the vault's path (``subject-keys.db.forget``), which the vault honours when it is read
and applies when it is next written, and to a list in the data directory
(``backups.json``, ``pending``), applied to the vault at the next deletion or backup that
reaches it. Each such miss is logged.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, LargeBinary, Table, insert, select
from sqlalchemy.types import Date, DateTime

from facegate.store.models import Base

FORMAT = "facegate-backup/1"
KEY_TABLE = "subject_keys"
POINTER = "backups.json"
VAULT = "subject-keys.db"


class ArchiveError(ValueError):
    """An archive that cannot be restored: not an archive, damaged, or another schema."""


def _encode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in table.columns:
        v = row[col.name]
        if v is not None and isinstance(col.type, LargeBinary):
            v = base64.b64encode(v).decode()
        elif isinstance(v, datetime | date):
            v = v.isoformat()
        out[col.name] = v
    return out


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in table.columns:
        v = row.get(col.name)
        if v is not None and isinstance(col.type, LargeBinary):
            v = base64.b64decode(v)
        elif v is not None and isinstance(col.type, DateTime):
            v = datetime.fromisoformat(v)
        elif v is not None and isinstance(col.type, Date):
            v = date.fromisoformat(v)
        out[col.name] = v
    return out


def tables() -> list[Table]:
    """Every table an archive holds, parents before children."""
    return [t for t in Base.metadata.sorted_tables if t.name != KEY_TABLE]


def write_archive(conn: Connection, fh: IO[bytes], header: dict[str, Any]) -> dict[str, int]:
    """Write every row but the subject keys to ``fh``; returns rows per table."""
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    with gzip.GzipFile(fileobj=fh, mode="wb") as gz:
        def line(obj: dict[str, Any]) -> None:
            data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"
            digest.update(data)
            gz.write(data)

        line({"format": FORMAT, **header})
        for table in tables():
            n = 0
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                line({"t": table.name, "r": _encode(table, dict(row._mapping))})
                n += 1
            counts[table.name] = n
        gz.write(json.dumps({"end": True, "rows": sum(counts.values()),
                             "sha256": digest.hexdigest()}).encode() + b"\n")
    return counts


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rb") as gz:
            for raw in gz:
                yield json.loads(raw)
    except (OSError, EOFError, ValueError) as e:
        raise ArchiveError(f"{path.name} is not a readable facegate archive: {e}") from None


def read_header(path: Path) -> dict[str, Any]:
    """The archive's header, after checking its trailer: every line is there, unchanged."""
    digest, header, rows, trailer = hashlib.sha256(), None, 0, None
    for obj in _lines(path):
        if trailer is not None:
            raise ArchiveError(f"{path.name} has lines after its end")
        if obj.get("end"):
            trailer = obj
            continue
        digest.update(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        if header is None:
            header = obj
        else:
            rows += 1
    if header is None or header.get("format") != FORMAT:
        raise ArchiveError(f"{path.name} is not a {FORMAT} archive")
    if trailer is None or trailer.get("rows") != rows or trailer.get("sha256") != \
            digest.hexdigest():
        raise ArchiveError(f"{path.name} is damaged or incomplete: its checksum does not match")
    return header


def load_archive(conn: Connection, path: Path) -> dict[str, int]:
    """Insert every row of a checked archive; returns rows per table."""
    by_name = {t.name: t for t in tables()}
    counts: dict[str, int] = dict.fromkeys(by_name, 0)
    batch: list[dict[str, Any]] = []
    current: Table | None = None

    def flush() -> None:
        if current is not None and batch:
            conn.execute(insert(current), batch)
            batch.clear()

    for obj in _lines(path):
        name = obj.get("t")
        if name is None:
            continue  # the header and the trailer
        if name not in by_name:
            raise ArchiveError(f"the archive holds an unknown table {name!r}")
        if current is None or current.name != name:
            flush()
            current = by_name[name]
        batch.append(_decode(current, obj["r"]))
        counts[name] += 1
        if len(batch) >= 500:
            flush()
    flush()
    return counts


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON, owner-only, all at once (a reader never sees
    half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    tmp.replace(path)


class KeyVault:
    """The wrapped subject keys of an installation's backups, in one owner-only file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA secure_delete=ON")  # a removed key's bytes are overwritten
        conn.execute("PRAGMA journal_mode=DELETE")  # no log file outlives a transaction
        conn.execute("CREATE TABLE IF NOT EXISTS subject_keys "
                     "(subject_id TEXT PRIMARY KEY, wrapped BLOB NOT NULL)")
        return conn

    def replace(self, keys: Iterable[tuple[str, bytes]]) -> None:
        """Hold exactly ``keys`` (subject id, wrapped key)."""
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM subject_keys")
            conn.executemany("INSERT INTO subject_keys VALUES (?, ?)", keys)
            conn.execute("COMMIT")

    def keep_only(self, live: dict[str, bytes]) -> int:
        """Remove every key that is no longer the subject's live key; returns how many."""
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            gone = [sid for sid, w in conn.execute("SELECT subject_id, wrapped FROM "
                                                    "subject_keys") if live.get(sid) != w]
            conn.executemany("DELETE FROM subject_keys WHERE subject_id = ?",
                             [(g,) for g in gone])
            conn.execute("COMMIT")
        return len(gone)

    @property
    def tombstone(self) -> Path:
        """Subject ids whose keys must leave this vault, written while it was out of reach."""
        return self.path.with_name(self.path.name + ".forget")

    def _buried(self) -> set[str]:
        try:
            return set(json.loads(self.tombstone.read_text())["subjects"])
        except FileNotFoundError:
            return set()
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise OSError(f"the tombstone {self.tombstone} cannot be read: {e}") from None

    def forget(self, subject_ids: Iterable[str]) -> bool:
        """Remove the keys of ``subject_ids`` (and any buried beside the vault); False when
        the vault is out of reach, after burying them beside its path if that folder is
        there."""
        ids = set(subject_ids)
        if not self.path.exists():
            if self.path.parent.is_dir():
                _write_json(self.tombstone, {"subjects": sorted(self._buried() | ids)})
            return False
        ids |= self._buried()
        with closing(self._connect()) as conn:
            conn.executemany("DELETE FROM subject_keys WHERE subject_id = ?",
                             [(s,) for s in sorted(ids)])
        self.tombstone.unlink(missing_ok=True)
        return True

    def keys(self) -> dict[str, bytes]:
        """The keys a restore may use: never one buried beside the vault."""
        if not self.path.exists():
            return {}
        buried = self._buried()
        with closing(self._connect()) as conn:
            return {sid: w for sid, w in conn.execute(
                "SELECT subject_id, wrapped FROM subject_keys") if sid not in buried}


class Vaults:
    """The vaults an installation wrote, listed in its data directory: deletion reaches each."""

    def __init__(self, data_dir: Path) -> None:
        self.pointer = data_dir / POINTER

    def _read(self) -> dict[str, Any]:
        if not self.pointer.exists():
            return {"vaults": []}
        return dict(json.loads(self.pointer.read_text()))

    def paths(self) -> list[Path]:
        return [Path(p) for p in self._read()["vaults"]]

    def pending(self) -> dict[str, list[str]]:
        """Per vault out of reach at a deletion, the subject ids whose keys it still holds."""
        return {k: list(v) for k, v in self._read().get("pending", {}).items()}

    def add(self, vault: Path) -> None:
        data = self._read()
        if str(vault) not in data["vaults"]:
            data["vaults"].append(str(vault))
            _write_json(self.pointer, data)

    def forget(self, subject_ids: Iterable[str]) -> None:
        """Remove the keys from every vault; a vault out of reach keeps them pending (and
        buried beside it), and is logged."""
        ids = set(subject_ids)
        data = self._read()
        before: dict[str, list[str]] = data.get("pending", {})
        pending = dict(before)
        for path in data["vaults"]:
            owed = ids | set(pending.get(path, ()))
            if not owed:
                continue
            if KeyVault(Path(path)).forget(owed):
                pending.pop(path, None)
            else:
                pending[path] = sorted(owed)
                logging.getLogger("facegate").error(
                    "the backup vault %s is out of reach: %d deleted subject key(s) are "
                    "buried beside it and removed when it is back", path, len(owed))
        if pending != before:
            _write_json(self.pointer, {**data, "pending": pending})
