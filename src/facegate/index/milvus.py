"""A 1:N index held by a Milvus server or cluster, for galleries past one machine.

One collection per (deployment, engine, rotation epoch), named by a hash (``collection_name``):
no deployment's id reaches the server, and what the collection holds are protected templates
(``ProtectedIndex`` turns them before they get here). Its fields: the template id (primary
key, varchar), the subject id (varchar) and the vector (``FLOAT_VECTOR``, inner product: the
templates are normalised, so the score is the cosine, as in ``ExactIndex``).

Index type: ``FLAT`` by default. It is exact (the same candidates and scores as
``ExactIndex``, which the tests check), needs no training and no rebuild as the gallery
changes, and Milvus spreads a flat search over its query nodes segment by segment, so a
larger gallery is served by adding nodes. ``IVF_FLAT`` (``nlist``/``nprobe``) may be chosen
for collections of tens of millions of templates where latency matters more than recall; a
missed candidate is a false non-match, never a false match (the store confirms every one).

Creating an index keeps its collection when it exists: other processes (``serve --workers
N``, other machines) search the same collection, and a full rebuild in one of them must not
empty it under the others. The rebuild upserts every template from the store and then
removes every row the store no longer has (``remove_absent``). Creating an index drops the
collections of the same deployment and engine at other epochs (a re-keyed deployment leaves
no template turned by its old rotation behind).

Consistency: a ``Strong`` search waits for the server's next time tick (about 200 ms on a
standalone server), so searches are ``Strong`` only within ``STRONG_AFTER_WRITE_S`` of this
index's last write, and ``Bounded`` otherwise (2 ms; it sees every write older than the
server's graceful time, 5 s by default). Every removal that a process's search must respect
is written by that process itself: its own withdrawals, and the other processes' removals,
which it applies from the change log before it searches. So a search after a removal (a
withdrawal) never returns what was removed, and the store confirms every candidate anyway.

The template ids and subjects held are tracked here (``len``, ``subjects()`` cost no round
trip); several processes sharing one collection apply the same change log, so they agree.
Every failure to reach the server becomes ``IndexUnavailable`` (HTTP 503)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import grpc
import numpy as np
from numpy.typing import NDArray
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from facegate.errors import IndexUnavailable
from facegate.index.base import Hit

T = TypeVar("T")
PREFIX = "fg_"
MAX_ID = 128  # characters of a template or subject id
MAX_TOPK = 16384  # Milvus's limit on one search's results
BATCH_ROWS = 2048  # rows per insert request
IndexType = Literal["FLAT", "IVF_FLAT"]
# Searches within this many seconds of the index's last write use Strong consistency: twice
# Milvus's default graceful time (common.gracefulTime, 5 s), after which Bounded sees it.
STRONG_AFTER_WRITE_S = 10.0

_clients: dict[tuple[str, str | None], MilvusClient] = {}
_clients_lock = threading.Lock()


def collection_name(deployment_id: str, engine_key: str, epoch: int) -> str:
    """A safe collection name for a deployment's templates of one engine at one epoch."""
    return f"{_family(deployment_id, engine_key)}{int(epoch)}"


def _family(deployment_id: str, engine_key: str) -> str:
    digest = hashlib.sha256(f"{deployment_id}\0{engine_key}".encode()).hexdigest()[:32]
    return f"{PREFIX}{digest}_e"


def _literal(value: str) -> str:
    """A string literal of Milvus's filter expressions."""
    return json.dumps(value)


class MilvusIndex:
    """A ``VectorIndex`` over one Milvus collection (created when missing). Thread-safe."""

    def __init__(self, dim: int, uri: str, collection: str, *, token: str | None = None,
                 timeout: float = 10.0, index_type: IndexType = "FLAT", nlist: int = 1024,
                 nprobe: int = 32, family: str | None = None) -> None:
        """``family``: a prefix of ``collection``; other collections under it are dropped
        (``collection_name``'s other epochs)."""
        if dim <= 0:
            raise ValueError("dim must be positive")
        if not collection.replace("_", "").isalnum() or len(collection) > 255:
            raise ValueError(f"not a safe collection name: {collection!r}")
        self.dim = dim
        self.uri = uri
        self.collection = collection
        self._timeout = timeout
        self._index_type = index_type
        self._nlist = nlist
        self._search_params: dict[str, Any] = {"metric_type": "IP"}
        if index_type == "IVF_FLAT":
            self._search_params["params"] = {"nprobe": nprobe}
        self._subject_of: dict[str, str] = {}  # template id -> subject id
        self._templates_of: dict[str, set[str]] = {}  # subject id -> template ids
        self._seq: dict[str, int] = {}  # template id -> insertion number (ties: earliest first)
        self._next_seq = 0
        self._strong_until = time.monotonic() + STRONG_AFTER_WRITE_S
        self._lock = threading.RLock()
        self._client = self._call(lambda: _client(uri, token, timeout))
        self._create(family)

    @classmethod
    def for_deployment(cls, dim: int, uri: str, deployment_id: str, engine_key: str,
                       epoch: int, **kwargs: Any) -> MilvusIndex:
        """The index of a deployment's templates of one engine at one epoch; the collections
        of its other epochs are dropped."""
        return cls(dim, uri, collection_name(deployment_id, engine_key, epoch),
                   family=_family(deployment_id, engine_key), **kwargs)

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        try:
            yield
        except (MilvusException, grpc.RpcError, ConnectionError, OSError) as e:
            raise IndexUnavailable(f"the Milvus index at {self.uri} is unavailable: {e}",
                                   details={"index": "milvus"}) from e

    def _call(self, fn: Callable[[], T]) -> T:
        with self._unavailable():
            return fn()

    def _create(self, family: str | None) -> None:
        c = self._client
        with self._unavailable():
            names = c.list_collections(timeout=self._timeout)
            for name in names:
                if name != self.collection and family and name.startswith(family):
                    c.drop_collection(name, timeout=self._timeout)
            if self.collection in names:
                return  # shared: kept, and settled by the rebuild (``remove_absent``)
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("template_id", DataType.VARCHAR, is_primary=True, max_length=MAX_ID)
            schema.add_field("subject_id", DataType.VARCHAR, max_length=MAX_ID)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
            params = c.prepare_index_params()
            extra = {"nlist": self._nlist} if self._index_type == "IVF_FLAT" else {}
            params.add_index(field_name="vector", index_type=self._index_type,
                             metric_type="IP", params=extra)
            c.create_collection(self.collection, schema=schema, index_params=params,
                                consistency_level="Strong", timeout=self._timeout)

    def __len__(self) -> int:
        return len(self._subject_of)

    def subjects(self) -> set[str]:
        with self._lock:
            return set(self._templates_of)

    def subject_count(self) -> int:
        with self._lock:
            return len(self._templates_of)

    def _vectors(self, vectors: NDArray[np.float32], n: int) -> NDArray[np.float32]:
        rows = np.asarray(vectors, dtype=np.float32).reshape(n, -1)
        if rows.shape[1] != self.dim:
            raise ValueError(f"vector has {rows.shape[1]} dimensions, the index {self.dim}")
        return rows

    def add(self, template_id: str, subject_id: str, vector: NDArray[np.float32]) -> None:
        """Add a template; one already held under ``template_id`` is replaced."""
        self.add_many([template_id], [subject_id], np.asarray(vector).reshape(1, -1))

    def add_many(self, template_ids: Sequence[str], subject_ids: Sequence[str],
                 vectors: NDArray[np.float32]) -> None:
        """``add`` for each row of ``vectors``, sent in batches (upserts)."""
        if len(template_ids) != len(subject_ids):
            raise ValueError("as many template ids as subject ids are needed")
        rows = self._vectors(vectors, len(template_ids))
        for i in (*template_ids, *subject_ids):
            if not i or len(i) > MAX_ID:
                raise ValueError(f"an id must have 1 to {MAX_ID} characters: {i!r}")
        with self._lock:
            for start in range(0, len(template_ids), BATCH_ROWS):
                end = start + BATCH_ROWS
                data = [{"template_id": t, "subject_id": s, "vector": v}
                        for t, s, v in zip(template_ids[start:end], subject_ids[start:end],
                                           rows[start:end].tolist(), strict=True)]
                self._wrote()
                self._call(lambda d=data: self._client.upsert(  # type: ignore[misc]
                    self.collection, d, timeout=self._timeout))
                self._wrote()
            for t, s in zip(template_ids, subject_ids, strict=True):
                self._forget(t)
                self._subject_of[t] = s
                self._templates_of.setdefault(s, set()).add(t)
                self._seq[t] = self._next_seq
                self._next_seq += 1

    def _wrote(self) -> None:
        """A write was sent: searches wait for it (``Strong``) for ``STRONG_AFTER_WRITE_S``."""
        self._strong_until = time.monotonic() + STRONG_AFTER_WRITE_S

    def consistency(self) -> str:
        """The consistency level the next search uses."""
        return "Strong" if time.monotonic() < self._strong_until else "Bounded"

    def _forget(self, template_id: str) -> bool:
        sid = self._subject_of.pop(template_id, None)
        if sid is None:
            return False
        self._seq.pop(template_id, None)
        held = self._templates_of[sid]
        held.discard(template_id)
        if not held:
            del self._templates_of[sid]
        return True

    def remove_templates(self, template_ids: list[str]) -> int:
        ids = sorted(set(template_ids))
        if not ids:
            return 0
        with self._lock:
            self._wrote()
            self._call(lambda: self._client.delete(self.collection, ids=ids,
                                                   timeout=self._timeout))
            self._wrote()
            return sum(self._forget(t) for t in ids)

    def remove_absent(self) -> int:
        """Delete every row of the collection that this index does not hold: after a full
        rebuild has added every template the store has, what is left over on the server was
        removed from the store meanwhile (or by another process's change this one will
        apply again). Returns the rows deleted."""
        with self._lock:
            stale: list[str] = []
            with self._unavailable():
                rows = self._client.query_iterator(self.collection, batch_size=BATCH_ROWS * 4,
                                                   output_fields=["template_id"],
                                                   timeout=self._timeout)
                try:
                    while batch := rows.next():
                        stale += [str(r["template_id"]) for r in batch
                                  if r["template_id"] not in self._subject_of]
                finally:
                    rows.close()
                for start in range(0, len(stale), BATCH_ROWS):
                    ids = stale[start:start + BATCH_ROWS]
                    self._wrote()
                    self._client.delete(self.collection, ids=ids, timeout=self._timeout)
                self._wrote()
            return len(stale)

    def remove_subject(self, subject_id: str) -> int:
        """Remove every template of the subject, those another process added included."""
        with self._lock:
            self._wrote()
            self._call(lambda: self._client.delete(
                self.collection, filter=f"subject_id == {_literal(subject_id)}",
                timeout=self._timeout))
            self._wrote()
            return sum(self._forget(t) for t in list(self._templates_of.get(subject_id, ())))

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit]:
        """The best ``k`` subjects (one hit each, their best template), best first; equal
        scores, the template added first."""
        q = self._vectors(vector, 1)[0].tolist()
        n = len(self)
        if n == 0 or k <= 0:
            return []
        limit = min(n, max(16 * k, 64), MAX_TOPK)
        while True:
            found = self._call(lambda lim=limit: self._client.search(  # type: ignore[misc]
                self.collection, data=[q], limit=lim, output_fields=["subject_id"],
                search_params=self._search_params, consistency_level=self.consistency(),
                timeout=self._timeout))
            rows = list(found[0]) if found else []
            hits = self._best_per_subject(rows, k)
            if len(hits) == k or len(rows) < limit or limit >= min(n, MAX_TOPK):
                return hits
            limit = min(n, 4 * limit, MAX_TOPK)

    def _best_per_subject(self, rows: list[dict[str, Any]], k: int) -> list[Hit]:
        far = self._next_seq
        scored = sorted(((float(r["distance"]), str(r["id"]), str(r["entity"]["subject_id"]))
                         for r in rows), key=lambda h: (-h[0], self._seq.get(h[1], far)))
        seen: set[str] = set()
        hits: list[Hit] = []
        for score, tid, sid in scored:
            if sid in seen:
                continue
            seen.add(sid)
            hits.append(Hit(sid, tid, score))
            if len(hits) == k:
                break
        return hits

    def drop(self) -> None:
        """Drop the collection (the deployment's index is no longer used)."""
        with self._lock:
            self._call(lambda: self._client.drop_collection(self.collection,
                                                            timeout=self._timeout))
            self._subject_of.clear()
            self._templates_of.clear()
            self._seq.clear()


def _client(uri: str, token: str | None, timeout: float) -> MilvusClient:
    """One client (one connection) per server, shared by its collections."""
    with _clients_lock:
        found = _clients.get((uri, token))
        if found is None:
            found = MilvusClient(uri=uri, token=token or "", timeout=timeout)
            _clients[(uri, token)] = found
        return found
