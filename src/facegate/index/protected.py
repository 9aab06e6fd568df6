"""Protected templates (ISO/IEC 24745): what enters an index is the template turned by a
secret orthogonal rotation of its deployment, never the template itself.

The rotation is drawn from a secret seed (the master key, the deployment and an epoch): a
Gaussian matrix, orthonormalised by QR with the signs fixed, so that it is uniformly
distributed over the orthogonal group (Haar). A rotation keeps every inner product, so cosine
scores, and with them accuracy, are unchanged; but vectors leaked from one deployment's index
cannot be compared with another deployment's, nor with another system's templates
(unlinkable), and a new epoch gives a new rotation (renewable)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facegate.index.base import Hit, VectorIndex


def rotation(seed: bytes, dim: int) -> NDArray[np.float64]:
    """The ``dim`` x ``dim`` orthogonal matrix named by ``seed`` (Haar-distributed)."""
    if len(seed) < 16:
        raise ValueError("a rotation seed needs at least 16 bytes")
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(seed, "big")))
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return np.asarray(q * signs, dtype=np.float64)  # each column times the sign of R's diagonal


class ProtectedIndex:
    """A ``VectorIndex`` over rotated templates: ``add`` and ``search`` rotate the vector
    before the inner index sees it; removals pass through. Scores are the inner index's."""

    def __init__(self, inner: VectorIndex, rotation: NDArray[np.float64]) -> None:
        if rotation.shape != (inner.dim, inner.dim):
            raise ValueError(f"a rotation of shape {rotation.shape} does not fit an index of "
                             f"{inner.dim} dimensions")
        self.inner = inner
        self.dim = inner.dim
        self._rotation = rotation

    def protect(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        v = np.asarray(vector, dtype=np.float64).reshape(-1)
        if v.shape[0] != self.dim:
            raise ValueError(f"vector has {v.shape[0]} dimensions, the index {self.dim}")
        return np.asarray(self._rotation @ v, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.inner)

    def add(self, template_id: str, subject_id: str, vector: NDArray[np.float32]) -> None:
        self.inner.add(template_id, subject_id, self.protect(vector))

    def add_many(self, template_ids: Sequence[str], subject_ids: Sequence[str],
                 vectors: NDArray[np.float32]) -> None:
        """``add`` for each row of ``vectors``, rotated together (one matrix product)."""
        rows = np.asarray(vectors, dtype=np.float64).reshape(len(template_ids), -1)
        if rows.shape[1] != self.dim:
            raise ValueError(f"vectors have {rows.shape[1]} dimensions, the index {self.dim}")
        turned = np.asarray(rows @ self._rotation.T, dtype=np.float32)
        bulk = getattr(self.inner, "add_many", None)  # a remote index: one request per batch
        if bulk is not None:
            bulk(template_ids, subject_ids, turned)
            return
        for template_id, subject_id, v in zip(template_ids, subject_ids, turned, strict=True):
            self.inner.add(template_id, subject_id, v)

    def remove_templates(self, template_ids: list[str]) -> int:
        return self.inner.remove_templates(template_ids)

    def remove_subject(self, subject_id: str) -> int:
        return self.inner.remove_subject(subject_id)

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit]:
        """The best ``k`` subjects (one hit each, their best template), best first."""
        return self.inner.search(self.protect(vector), k)

    def subjects(self) -> set[str]:
        """The subjects held, where the inner index can tell (``ExactIndex`` can)."""
        inner: Any = self.inner
        return set(inner.subjects())

    def subject_count(self) -> int:
        """The number of subjects held."""
        inner: Any = self.inner
        count = getattr(inner, "subject_count", None)
        return int(count()) if count is not None else len(self.subjects())
