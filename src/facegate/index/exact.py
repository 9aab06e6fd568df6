"""Exact cosine search over normalised templates with NumPy: one matrix-vector product per
block of rows.

Storage is chunked: a list of float32 blocks of ``block_rows`` rows each (the first block
alone starts small and doubles up to that size, so a deployment of a few people does not hold
megabytes). A template occupies one row; ``template_id -> row`` and ``subject_id -> rows``
maps find its rows without a scan.

Why blocks: growing one matrix means allocating a larger one and copying every row into it,
and that copy has to happen under the lock (a concurrent removal moves rows), at 10M
templates seconds long and twice the memory at the peak. Appending a block copies nothing;
the only copy ever made is the first block's doubling, bounded by ``block_rows`` rows (at
most once per index, a copy of under 64 MiB), whatever the size of the index.

Why swap-with-last removal: the freed row receives the last row (its maps updated), so
removing a template costs one row copy and removing a subject one per template, whatever the
size of the index, and the rows stay dense, so a search never skips holes. The row order no
longer follows insertion, so each row carries its insertion sequence number, and ties are
broken on it: results are those of a stable sort of all rows in insertion order (the best
template of each subject, the top ``k`` subjects, best first; equal scores, earliest added
first). Trailing blocks that removals empty are released (one spare kept).

Thread-safety: every method takes the index's lock; a search holds it while it reads the
blocks (a removal moves rows), which costs one pass over the rows, not a copy of them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from facegate.index.base import Hit

# Bytes per block: 64 MiB, 131,072 rows of 128 float32. Each block is one BLAS call, and a
# multithreaded BLAS pays a start-up per call (measured: 16,384-row blocks searched 1M rows
# three times slower than one matrix, on 2 busy cores); 8 calls per million rows cost next to
# nothing. Allocating a block is one calloc (pages are mapped as rows are written).
BLOCK_BYTES = 64 << 20
FIRST_BLOCK_ROWS = 64


class ExactIndex:
    """Rows in fixed-size float32 blocks, removal by swapping the last row into the freed
    slot (O(templates removed)), growth by appending a block (no copy). Thread-safe."""

    def __init__(self, dim: int, block_rows: int | None = None) -> None:
        """``block_rows``: rows per block (default: ``BLOCK_BYTES`` of float32 rows)."""
        if dim <= 0 or (block_rows is not None and block_rows <= 0):
            raise ValueError("dim and block_rows must be positive")
        self.dim = dim
        self._block_rows = block_rows or max(FIRST_BLOCK_ROWS, BLOCK_BYTES // (4 * dim))
        self._blocks: list[NDArray[np.float32]] = []
        self._seqs: list[NDArray[np.int64]] = []  # insertion sequence number of each row
        self._n = 0
        self._next_seq = 0
        self._template_ids: list[str] = []  # by row
        self._subject_ids: list[str] = []  # by row
        self._row_of: dict[str, int] = {}  # template_id -> row
        self._rows_of: dict[str, set[int]] = {}  # subject_id -> rows
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._n

    def _vector(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            raise ValueError(f"vector has {v.shape[0]} dimensions, the index {self.dim}")
        return v

    def _slot(self, row: int) -> tuple[int, int]:
        return divmod(row, self._block_rows)

    def _capacity(self) -> int:
        if not self._blocks:
            return 0
        return (len(self._blocks) - 1) * self._block_rows + int(self._blocks[-1].shape[0])

    def _grow(self) -> None:
        """Room for one more row: double the first block while it is below ``block_rows``
        (a copy of at most that many rows), else append a block (no copy)."""
        if len(self._blocks) == 1 and self._blocks[0].shape[0] < self._block_rows:
            rows = min(self._block_rows, 2 * self._blocks[0].shape[0])
            block = np.zeros((rows, self.dim), dtype=np.float32)
            seqs = np.zeros(rows, dtype=np.int64)
            block[: self._n] = self._blocks[0][: self._n]
            seqs[: self._n] = self._seqs[0][: self._n]
            self._blocks[0], self._seqs[0] = block, seqs
            return
        rows = min(FIRST_BLOCK_ROWS, self._block_rows) if not self._blocks else self._block_rows
        self._blocks.append(np.zeros((rows, self.dim), dtype=np.float32))
        self._seqs.append(np.zeros(rows, dtype=np.int64))

    def add(self, template_id: str, subject_id: str, vector: NDArray[np.float32]) -> None:
        """Add a template; one already held under ``template_id`` is replaced (it counts as
        added now)."""
        v = self._vector(vector)
        with self._lock:
            if template_id in self._row_of:
                self._remove_rows([self._row_of[template_id]])
            if self._n == self._capacity():
                self._grow()
            row = self._n
            b, i = self._slot(row)
            self._blocks[b][i] = v
            self._seqs[b][i] = self._next_seq
            self._next_seq += 1
            self._n += 1
            self._template_ids.append(template_id)
            self._subject_ids.append(subject_id)
            self._row_of[template_id] = row
            self._rows_of.setdefault(subject_id, set()).add(row)

    def add_many(self, template_ids: Sequence[str], subject_ids: Sequence[str],
                 vectors: NDArray[np.float32]) -> None:
        """``add`` for each row of ``vectors``, copied into the blocks a slice at a time."""
        if len(template_ids) != len(subject_ids):
            raise ValueError("as many template ids as subject ids are needed")
        rows = np.asarray(vectors, dtype=np.float32).reshape(len(template_ids), -1)
        if rows.shape[1] != self.dim:
            raise ValueError(f"vectors have {rows.shape[1]} dimensions, the index {self.dim}")
        if len(set(template_ids)) != len(template_ids):  # the batch replaces itself
            for t, s, v in zip(template_ids, subject_ids, rows, strict=True):
                self.add(t, s, v)
            return
        with self._lock:
            held = [self._row_of[t] for t in template_ids if t in self._row_of]
            if held:
                self._remove_rows(held)
            done = 0
            while done < len(rows):
                if self._n == self._capacity():
                    self._grow()
                b, i = self._slot(self._n)
                take = min(len(rows) - done, int(self._blocks[b].shape[0]) - i)
                self._blocks[b][i: i + take] = rows[done: done + take]
                self._seqs[b][i: i + take] = np.arange(self._next_seq, self._next_seq + take)
                for k in range(take):
                    self._row_of[template_ids[done + k]] = self._n + k
                    self._rows_of.setdefault(subject_ids[done + k], set()).add(self._n + k)
                self._template_ids.extend(template_ids[done: done + take])
                self._subject_ids.extend(subject_ids[done: done + take])
                self._n += take
                self._next_seq += take
                done += take

    def _remove_rows(self, rows: list[int]) -> int:
        """Free ``rows`` (distinct), highest first: the last row moves into each freed one.
        Highest first, the row moved is never one still to be freed."""
        for row in sorted(rows, reverse=True):
            last = self._n - 1
            tid, sid = self._template_ids[row], self._subject_ids[row]
            del self._row_of[tid]
            held = self._rows_of[sid]
            held.discard(row)
            if not held:
                del self._rows_of[sid]
            if row != last:
                b, i = self._slot(row)
                lb, li = self._slot(last)
                self._blocks[b][i] = self._blocks[lb][li]
                self._seqs[b][i] = self._seqs[lb][li]
                moved_tid, moved_sid = self._template_ids[last], self._subject_ids[last]
                self._template_ids[row], self._subject_ids[row] = moved_tid, moved_sid
                self._row_of[moved_tid] = row
                moved = self._rows_of[moved_sid]
                moved.discard(last)
                moved.add(row)
            lb, li = self._slot(last)
            self._blocks[lb][li] = 0.0  # no copy of a removed template stays behind
            self._template_ids.pop()
            self._subject_ids.pop()
            self._n = last
        # release emptied trailing blocks, keeping one spare against add/remove churn
        while len(self._blocks) > 1 and self._n <= (len(self._blocks) - 2) * self._block_rows:
            self._blocks.pop()
            self._seqs.pop()
        return len(rows)

    def remove_templates(self, template_ids: list[str]) -> int:
        with self._lock:
            rows = {self._row_of[t] for t in template_ids if t in self._row_of}
            return self._remove_rows(list(rows))

    def remove_subject(self, subject_id: str) -> int:
        with self._lock:
            return self._remove_rows(list(self._rows_of.get(subject_id, ())))

    def subjects(self) -> set[str]:
        with self._lock:
            return set(self._rows_of)

    def subject_count(self) -> int:
        """The number of subjects held (``len(subjects())`` without the copy)."""
        with self._lock:
            return len(self._rows_of)

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit]:
        q = self._vector(vector)
        with self._lock:
            n = self._n
            if n == 0 or k <= 0:
                return []
            scores = np.empty(n, dtype=np.float32)
            for b, block in enumerate(self._blocks):
                start = b * self._block_rows
                if start >= n:
                    break
                end = min(n, start + block.shape[0])
                np.matmul(block[: end - start], q, out=scores[start:end])
            # Best template per subject, then the top k subjects. Partition first: a subject
            # may hold several templates, so look at a margin of candidates beyond k. Every
            # row tied with the m-th score joins the candidates, so that ties are broken on
            # the insertion sequence, not on where the partition happened to cut.
            m = min(n, max(16 * k, 64))
            while True:
                if m < n:
                    kth = scores[np.argpartition(scores, n - m)[n - m]]  # the m-th best
                    cand = np.flatnonzero(scores >= kth)
                else:
                    cand = np.arange(n)
                order = cand[np.lexsort((self._seq_of(cand), -scores[cand]))]
                hits = self._best_per_subject(order, scores, k)
                if len(hits) == k or len(cand) >= n:
                    return hits
                m = min(n, 4 * m)

    def _seq_of(self, rows: NDArray[np.intp]) -> NDArray[np.int64]:
        """The insertion sequence numbers of ``rows``, gathered block by block."""
        out = np.empty(len(rows), dtype=np.int64)
        block, offset = np.divmod(rows, self._block_rows)
        for b in np.unique(block).tolist():
            at = block == b
            out[at] = self._seqs[b][offset[at]]
        return out

    def _best_per_subject(self, order: NDArray[np.intp], scores: NDArray[np.float32],
                          k: int) -> list[Hit]:
        seen: set[str] = set()
        hits: list[Hit] = []
        for i in order.tolist():
            sid = self._subject_ids[i]
            if sid in seen:
                continue
            seen.add(sid)
            hits.append(Hit(sid, self._template_ids[i], float(scores[i])))
            if len(hits) == k:
                break
        return hits
