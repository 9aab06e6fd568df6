"""The 1:N index interface. Implementations: ``ExactIndex`` (NumPy, exact); an ANN index or a
distributed engine can implement the same methods later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Hit:
    subject_id: str
    template_id: str
    score: float


class VectorIndex(Protocol):
    dim: int

    def add(self, template_id: str, subject_id: str, vector: NDArray[np.float32]) -> None: ...

    def remove_templates(self, template_ids: list[str]) -> int: ...

    def remove_subject(self, subject_id: str) -> int: ...

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit]:
        """The best ``k`` subjects (one hit each, their best template), best first."""
        ...

    def __len__(self) -> int: ...
