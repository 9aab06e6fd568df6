"""Approximate 1:N search for one machine with millions of templates: faiss IVF-Flat (inner
product on normalised templates), built in the background while an exact index answers.

Below ``build_threshold`` templates the index is an ``ExactIndex``. Once the gallery reaches it,
a thread snapshots the vectors, trains the coarse quantizer on a sample, fills the inverted
lists, picks ``nprobe`` for the target recall@1 against exact search, replays every addition
and removal made meanwhile, and swaps the IVF index in under the lock. When the gallery has
grown ``rebuild_growth`` times since the last build, it is rebuilt the same way while the
current IVF index keeps serving. IVF-Flat keeps the raw vectors, so every score it returns is
the exact inner product; only which vectors are visited is approximate.

Template ids map to int64 faiss ids; the inverted lists keep a hash-table direct map, so
removing templates costs O(removed), not a rebuild.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from facegate.index.base import Hit
from facegate.index.exact import ExactIndex
from facegate.index.ivf_parts import Change, calibrate, extract, remove_ids, replay

log = logging.getLogger(__name__)

# At most this many logged changes are replayed while searches wait on the swap.
SWAP_BATCH = 1024


def default_nlist(n: int) -> int:
    """About sqrt(n) lists, a power of two (1024 at 1M), with >= 39 training points each."""
    nlist = int(2 ** round(math.log2(max(1.0, math.sqrt(n)))))
    nlist = max(16, min(nlist, 65536))
    while nlist > 1 and 39 * nlist > n:
        nlist //= 2
    return nlist


class IvfIndex:
    """``VectorIndex`` over faiss ``IndexIVFFlat``; exact search until the IVF index is ready.

    Thread-safe: one ``RLock`` guards the bookkeeping and every faiss call on the serving
    index; training and filling run on a private index outside it.
    """

    def __init__(self, dim: int, *, build_threshold: int = 50_000, nlist: int | None = None,
                 nprobe: int | None = None, target_recall: float = 0.995,
                 calibration_queries: int = 500, rebuild_growth: float | None = 4.0,
                 seed: int = 0) -> None:
        self.dim = dim
        self.build_threshold = build_threshold
        self._nlist = nlist
        self._fixed_nprobe = nprobe
        self._target = target_recall
        self._calibration_queries = calibration_queries
        self._growth = rebuild_growth
        self._seed = seed
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._meta: dict[int, tuple[str, str]] = {}  # faiss id -> (template, subject)
        self._ids: dict[str, int] = {}  # template -> faiss id
        self._members: dict[str, set[int]] = {}  # subject -> faiss ids
        self._next_id = 0
        # Exact phase: the searchable index and the vectors a build starts from.
        self._exact: ExactIndex | None = ExactIndex(dim)
        self._buf_vecs = np.zeros((0, dim), dtype=np.float32)
        self._buf_ids = np.zeros(0, dtype=np.int64)  # -1 where removed
        self._buf_rows: dict[int, int] = {}
        self._buf_n = 0
        # IVF phase.
        self._ivf: Any = None
        self.nprobe = 0
        self._log: list[Change] | None = None  # changes since the running build's snapshot
        self._next_build_at = build_threshold
        self._bulk = 0  # bulk() levels open: no build starts
        self.builds = 0

    # -- state -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._meta)

    @property
    def nlist(self) -> int:
        with self._lock:
            return int(self._ivf.nlist) if self._ivf is not None else 0

    @property
    def building(self) -> bool:
        with self._lock:
            return self._log is not None

    @property
    def ready(self) -> bool:
        """True once the IVF index serves searches, or while the gallery is below the
        threshold (and no build is running): searches are then as good as they will get."""
        with self._lock:
            return self._ivf is not None or (
                self._log is None and len(self._meta) < self.build_threshold)

    def wait_ready(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.ready, timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no build (first or later) is running."""
        with self._changed:
            return self._changed.wait_for(lambda: self._log is None, timeout)

    def subjects(self) -> set[str]:
        with self._lock:
            return set(self._members)

    def subject_count(self) -> int:
        """The number of subjects held (``len(subjects())`` without the copy)."""
        with self._lock:
            return len(self._members)

    # -- changes ---------------------------------------------------------------------------

    def _vector(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        v = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            raise ValueError(f"vector has {v.shape[0]} dimensions, the index {self.dim}")
        return v

    def add(self, template_id: str, subject_id: str, vector: NDArray[np.float32]) -> None:
        v = self._vector(vector)
        with self._lock:
            if template_id in self._ids:
                self.remove_templates([template_id])
            fid = self._next_id
            self._next_id += 1
            self._meta[fid] = (template_id, subject_id)
            self._ids[template_id] = fid
            self._members.setdefault(subject_id, set()).add(fid)
            ids = np.array([fid], dtype=np.int64)
            if self._ivf is not None:
                self._ivf.add_with_ids(v.reshape(1, -1), ids)
            else:
                assert self._exact is not None
                self._exact.add(template_id, subject_id, v)
                self._buffer_add(fid, v)
            if self._log is not None:
                self._log.append(("add", ids, v.reshape(1, -1)))
            self._maybe_build()

    def add_many(self, template_ids: Sequence[str], subject_ids: Sequence[str],
                 vectors: NDArray[np.float32]) -> None:
        """``add`` for each row of ``vectors``, in one faiss call (or one exact batch)."""
        if len(template_ids) != len(subject_ids):
            raise ValueError("as many template ids as subject ids are needed")
        rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(template_ids), -1)
        if rows.shape[1] != self.dim:
            raise ValueError(f"vectors have {rows.shape[1]} dimensions, the index {self.dim}")
        with self._lock:
            if len(set(template_ids)) != len(template_ids) or any(
                    t in self._ids for t in template_ids):  # replacements: one at a time
                for t, s, v in zip(template_ids, subject_ids, rows, strict=True):
                    self.add(t, s, v)
                return
            ids = np.arange(self._next_id, self._next_id + len(rows), dtype=np.int64)
            self._next_id += len(rows)
            for f, t, s in zip(ids.tolist(), template_ids, subject_ids, strict=True):
                self._meta[f] = (t, s)
                self._ids[t] = f
                self._members.setdefault(s, set()).add(f)
            if self._ivf is not None:
                self._ivf.add_with_ids(rows, ids)
            else:
                assert self._exact is not None
                self._exact.add_many(template_ids, subject_ids, rows)
                for f, v in zip(ids.tolist(), rows, strict=True):
                    self._buffer_add(f, v)
            if self._log is not None:
                self._log.append(("add", ids, rows))
            self._maybe_build()

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """Additions inside start no build; at the end one starts if the gallery is large
        enough: a rebuild from the store trains once, at its full size."""
        with self._lock:
            self._bulk += 1
        try:
            yield
        finally:
            with self._lock:
                self._bulk -= 1
                self._maybe_build()

    def _maybe_build(self) -> None:
        if not self._bulk and self._log is None and len(self._meta) >= self._next_build_at:
            self._start_build()

    def _buffer_add(self, fid: int, v: NDArray[np.float32]) -> None:
        if self._buf_n == self._buf_vecs.shape[0]:
            size = max(64, 2 * self._buf_n)
            # New arrays, never resized in place: a running build may hold views of the old.
            vecs = np.zeros((size, self.dim), dtype=np.float32)
            vecs[: self._buf_n] = self._buf_vecs[: self._buf_n]
            ids = np.full(size, -1, dtype=np.int64)
            ids[: self._buf_n] = self._buf_ids[: self._buf_n]
            self._buf_vecs, self._buf_ids = vecs, ids
        self._buf_vecs[self._buf_n] = v
        self._buf_ids[self._buf_n] = fid
        self._buf_rows[fid] = self._buf_n
        self._buf_n += 1

    def _remove(self, fids: list[int]) -> int:
        """Drop faiss ids (all known) from the serving path, the bookkeeping and the log."""
        if not fids:
            return 0
        gone = [self._meta.pop(f) for f in fids]
        for f, (tid, sid) in zip(fids, gone, strict=True):
            del self._ids[tid]
            members = self._members[sid]
            members.discard(f)
            if not members:
                del self._members[sid]
        ids = np.array(fids, dtype=np.int64)
        if self._ivf is not None:
            remove_ids(self._ivf, ids)
        else:
            assert self._exact is not None
            self._exact.remove_templates([tid for tid, _ in gone])
            for f in fids:
                self._buf_ids[self._buf_rows.pop(f)] = -1
        if self._log is not None:
            self._log.append(("remove", ids, None))
        return len(fids)

    def remove_templates(self, template_ids: list[str]) -> int:
        with self._lock:
            fids = {self._ids[t] for t in template_ids if t in self._ids}
            return self._remove(sorted(fids))

    def remove_subject(self, subject_id: str) -> int:
        with self._lock:
            return self._remove(sorted(self._members.get(subject_id, ())))

    # -- search ----------------------------------------------------------------------------

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit]:
        q = self._vector(vector)
        with self._lock:
            if not self._meta or k <= 0:
                return []
            if self._ivf is None:
                assert self._exact is not None
                return self._exact.search(q, k)
            return self._search_ivf(q.reshape(1, -1), k)

    def _search_ivf(self, q: NDArray[np.float32], k: int) -> list[Hit]:
        # A subject may hold several templates: over-fetch, keep the best template per subject,
        # and fetch more (then probe more lists) until k subjects are found or none are left.
        total = int(self._ivf.ntotal)
        nlist = int(self._ivf.nlist)
        m = min(total, max(16 * k, 64))
        probe = self.nprobe
        while True:
            params = faiss.SearchParametersIVF(nprobe=probe)  # type: ignore[call-arg]
            scores, ids = self._ivf.search(q, m, params=params)
            hits = self._best_per_subject(scores[0], ids[0], k)
            if len(hits) == k:
                return hits
            if ids[0, -1] != -1 and m < total:  # every slot filled: fetch more
                m = min(total, 4 * m)
            elif probe < nlist:  # the probed lists ran out: probe more
                probe = min(nlist, 4 * probe)
            else:
                return hits

    def _best_per_subject(self, scores: NDArray[np.float32], ids: NDArray[np.int64],
                          k: int) -> list[Hit]:
        seen: set[str] = set()
        hits: list[Hit] = []
        for s, f in zip(scores.tolist(), ids.tolist(), strict=True):
            if f < 0:
                break
            tid, sid = self._meta[f]
            if sid in seen:
                continue
            seen.add(sid)
            hits.append(Hit(sid, tid, float(s)))
            if len(hits) == k:
                break
        return hits

    # -- background build ------------------------------------------------------------------

    def _start_build(self) -> None:
        """Snapshot the gallery (under the lock) and build from it on a new thread."""
        if self._ivf is not None:
            ids, vecs = extract(self._ivf, self.dim)
        else:
            ids = self._buf_ids[: self._buf_n].copy()
            vecs = self._buf_vecs[: self._buf_n]  # rows below _buf_n are never rewritten
            alive = ids >= 0
            if not alive.all():
                ids, vecs = ids[alive], vecs[alive]
        self._log = []
        threading.Thread(target=self._build, args=(ids, vecs), name="ivf-build",
                         daemon=True).start()

    def _build(self, ids: NDArray[np.int64], vecs: NDArray[np.float32]) -> None:
        try:
            index, nprobe = self._train_and_fill(ids, vecs)
            self._catch_up_and_swap(index, nprobe)
        except Exception:
            log.exception("IVF build of %d vectors failed; searches stay as they were", len(ids))
            with self._changed:
                self._log = None
                self._next_build_at = 2 * max(len(self._meta), self.build_threshold)
                self._changed.notify_all()

    def _train_and_fill(self, ids: NDArray[np.int64],
                        vecs: NDArray[np.float32]) -> tuple[Any, int]:
        """A trained, filled IVF index of the snapshot and its nprobe (no lock held)."""
        n = len(ids)
        nlist = self._nlist or default_nlist(n)
        rng = np.random.default_rng(self._seed)
        sample = rng.choice(n, size=min(n, 64 * nlist), replace=False)
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(vecs[np.sort(sample)]))
        # faiss's bundled stubs lack DirectMap and SearchParametersIVF's keyword arguments.
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        for start in range(0, n, 65536):
            index.add_with_ids(np.ascontiguousarray(vecs[start: start + 65536]),
                               np.ascontiguousarray(ids[start: start + 65536]))
        nprobe = self._fixed_nprobe or calibrate(index, vecs, ids, rng,
                                                     self._calibration_queries, self._target)
        index.nprobe = nprobe
        log.info("IVF index built: %d vectors, %d lists, nprobe %d", n, nlist, nprobe)
        return index, nprobe

    def _catch_up_and_swap(self, index: Any, nprobe: int) -> None:
        """Replay the changes made since the snapshot, the bulk without the lock, the last
        few under it, then serve from the new index."""
        done = 0
        while True:
            with self._changed:
                assert self._log is not None
                if len(self._log) - done <= SWAP_BATCH:
                    replay(index, self._log[done:])
                    self._ivf, self.nprobe = index, nprobe
                    self._exact = None
                    self._buf_vecs = np.zeros((0, self.dim), dtype=np.float32)
                    self._buf_ids = np.zeros(0, dtype=np.int64)
                    self._buf_rows, self._buf_n = {}, 0
                    self._log = None
                    self.builds += 1
                    growth = self._growth
                    self._next_build_at = (
                        max(self.build_threshold, math.ceil(growth * len(self._meta)))
                        if growth else 2**62)
                    self._changed.notify_all()
                    return
                chunk = self._log[done:]
            replay(index, chunk)
            done += len(chunk)
