"""Synthetic templates whose genuine and impostor score distributions are fitted to an
engine's real LFW templates (for ``bench/scale.py``).

The fit: when ``bench/accuracy.py`` has cached the engine's LFW templates
(``~/.cache/facegate/bench/<engine>-<model>.npz``), every genuine pair of the cache and a
random sample of impostor pairs are scored. Otherwise the figures of BENCHMARKS.md for SFace
are used (genuine cosine mostly 0.4-0.9, impostor about 0 +- 0.1).

The model: each identity has a random unit centre in a ``d_eff``-dimensional subspace
(``d_eff = 1 / impostor variance``, so that two identities score about 0 +- the impostor
spread); a template is ``a * centre + sqrt(1 - a^2) * noise`` (noise a random unit vector),
with ``a^2`` drawn from the real genuine scores, so that two templates of one person score
about ``a1 * a2``; a shared axis moves every score by the impostor mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

CACHE = Path.home() / ".cache" / "facegate" / "bench"


def _unit(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True), dtype=np.float32)


def real_scores(engine_name: str, seed: int = 0, impostors: int = 200_000
                ) -> tuple[NDArray[np.float32], NDArray[np.float32], str] | None:
    """Genuine and impostor scores of the engine's cached LFW templates, and the cache file."""
    found = sorted(CACHE.glob(f"{engine_name}-*.npz"))
    if not found:
        return None
    data = np.load(found[0])
    vectors = _unit(np.asarray(data["vectors"], dtype=np.float32))
    labels = np.array([str(p).split("/")[1] if "/" in str(p) else str(p)
                       for p in data["paths"]])
    genuine: list[NDArray[np.float32]] = []
    for person in np.unique(labels):
        rows = vectors[labels == person]
        if len(rows) > 1:
            gram = rows @ rows.T
            genuine.append(gram[np.triu_indices(len(rows), 1)])
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(vectors), (2, impostors))
    keep = labels[a] != labels[b]
    imp = np.einsum("ij,ij->i", vectors[a[keep]], vectors[b[keep]])
    return np.concatenate(genuine), imp.astype(np.float32), found[0].name


def fit(engine_name: str) -> dict[str, Any]:
    """The model's parameters: genuine score sample, impostor mean and spread, and where
    they came from."""
    real = real_scores(engine_name)
    if real is None:
        rng = np.random.default_rng(0)
        genuine = np.clip(rng.normal(0.65, 0.13, 100_000), 0.05, 0.99).astype(np.float32)
        return {"source": "BENCHMARKS.md figures (no cached LFW templates)",
                "genuine": genuine, "impostor_mean": 0.0, "impostor_std": 0.1}
    genuine, impostor, name = real
    return {"source": f"cached LFW templates {name}", "genuine": genuine,
            "impostor_mean": float(impostor.mean()), "impostor_std": float(impostor.std())}


class FaceModel:
    """Identities and their templates, drawn from the fitted distributions."""

    def __init__(self, params: dict[str, Any], dim: int, seed: int = 0) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(seed)
        self.mean = max(0.0, float(params["impostor_mean"]))
        self.d_eff = int(np.clip(round(1.0 / float(params["impostor_std"]) ** 2), 8, dim))
        self.basis = np.linalg.qr(self.rng.standard_normal((dim, dim)))[0][:, : self.d_eff]
        self.axis = _unit(self.rng.standard_normal(dim).astype(np.float32))
        # (genuine - mean) / (1 - mean) = a1 * a2: draw a^2 from that distribution
        g = (np.asarray(params["genuine"], dtype=np.float64) - self.mean) / (1 - self.mean)
        self.a2 = np.clip(g, 0.01, 0.999)

    def centres(self, people: int) -> NDArray[np.float32]:
        z = self.rng.standard_normal((people, self.d_eff)).astype(np.float32)
        return _unit((z @ self.basis.T).astype(np.float32))

    def samples(self, centres: NDArray[np.float32]) -> NDArray[np.float32]:
        """One template of each identity (a row of ``centres``)."""
        n = len(centres)
        a = np.sqrt(self.rng.choice(self.a2, n)).astype(np.float32)[:, None]
        noise = _unit(self.rng.standard_normal((n, self.dim)).astype(np.float32))
        t = a * centres + np.sqrt(1 - a * a) * noise
        return _unit(np.sqrt(self.mean) * self.axis + np.sqrt(1 - self.mean) * t)


def check(model: FaceModel, params: dict[str, Any], people: int = 2000) -> dict[str, Any]:
    """Quantiles of the model's genuine and impostor scores beside the real ones."""
    centres = model.centres(people)
    a, b = model.samples(centres), model.samples(centres)
    gen = np.einsum("ij,ij->i", a, b)
    imp = (a @ b.T)[~np.eye(people, dtype=bool)]
    q = [0.05, 0.5, 0.95]
    real_gen = np.asarray(params["genuine"])
    return {"source": params["source"], "d_eff": model.d_eff,
            "genuine_q05_50_95": [round(float(x), 3) for x in np.quantile(gen, q)],
            "real_genuine_q05_50_95": [round(float(x), 3) for x in np.quantile(real_gen, q)],
            "impostor_mean_std": [round(float(imp.mean()), 3), round(float(imp.std()), 3)],
            "real_impostor_mean_std": [round(params["impostor_mean"], 3),
                                       round(params["impostor_std"], 3)]}
