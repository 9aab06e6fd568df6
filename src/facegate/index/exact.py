"""Exact cosine search over normalised templates with NumPy: one matrix-vector product."""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

from facegate.index.base import Hit


class ExactIndex:
    """Rows of a growing float32 matrix; removal compacts in place. Thread-safe."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._n = 0
        self._template_ids: list[str] = []
        self._subject_ids: list[str] = []
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._n

    def add(self, template_id: str, subject_id: str, vector: NDArray[np.float32]) -> None:
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            raise ValueError(f"vector has {v.shape[0]} dimensions, the index {self.dim}")
        with self._lock:
            if self._n == self._matrix.shape[0]:
                grown = np.zeros((max(64, 2 * self._n), self.dim), dtype=np.float32)
                grown[: self._n] = self._matrix[: self._n]
                self._matrix = grown
            self._matrix[self._n] = v
            self._n += 1
            self._template_ids.append(template_id)
            self._subject_ids.append(subject_id)

    def _keep(self, keep: list[int]) -> int:
        removed = self._n - len(keep)
        if removed:
            self._matrix[: len(keep)] = self._matrix[keep]
            self._matrix[len(keep): self._n] = 0.0
            self._template_ids = [self._template_ids[i] for i in keep]
            self._subject_ids = [self._subject_ids[i] for i in keep]
            self._n = len(keep)
        return removed

    def remove_templates(self, template_ids: list[str]) -> int:
        gone = set(template_ids)
        with self._lock:
            return self._keep([i for i, t in enumerate(self._template_ids) if t not in gone])

    def remove_subject(self, subject_id: str) -> int:
        with self._lock:
            return self._keep([i for i, s in enumerate(self._subject_ids) if s != subject_id])

    def subjects(self) -> set[str]:
        with self._lock:
            return set(self._subject_ids)

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        with self._lock:
            if self._n == 0 or k <= 0:
                return []
            scores = self._matrix[: self._n] @ q
            # Best template per subject, then the top k subjects. Partition first: a subject
            # may hold several templates, so look at a margin of candidates beyond k.
            m = min(self._n, max(16 * k, 64))
            while True:
                if m < self._n:
                    cand = np.argpartition(-scores, m - 1)[:m]
                    order = cand[np.argsort(-scores[cand], kind="stable")]
                else:
                    order = np.argsort(-scores, kind="stable")
                hits = self._best_per_subject(order, scores, k)
                if len(hits) == k or m >= self._n:
                    return hits
                m = min(self._n, 4 * m)

    def _best_per_subject(self, order: NDArray[np.intp], scores: NDArray[np.float32],
                          k: int) -> list[Hit]:
        seen: set[str] = set()
        hits: list[Hit] = []
        for i in order:
            sid = self._subject_ids[i]
            if sid in seen:
                continue
            seen.add(sid)
            hits.append(Hit(sid, self._template_ids[i], float(scores[i])))
            if len(hits) == k:
                break
        return hits
