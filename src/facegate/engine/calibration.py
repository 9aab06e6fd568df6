"""Measuring an engine on a labelled face set (LFW's format): templates through facegate's own
path (decode, detect, align, embed), the 10-fold verification protocol, error rates at a target
false-match rate, and the threshold table that ``facegate engine calibrate`` prints.

The face set is the operator's (for instance ``../shared/data/lfw``); nothing here is needed at
run time by the service. Templates are cached in a file so that a rerun is fast.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facegate.engine.base import Box, Engine, Face, Quality
from facegate.images import ImageLimits, decode_image
from facegate.progress import Progress

FMR_TARGETS = (1e-2, 1e-3, 1e-4, 1e-5)

# Worker processes start fresh ("spawn"): a forked child would inherit dlib's thread pool in a
# broken state (the CNN detector then waits for threads that do not exist in the child).
SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Pair:
    a: str  # image path relative to the set's root
    b: str
    same: bool
    fold: int


def image_path(name: str, n: int | str) -> str:
    return f"images/{name}/{name}_{int(n):04d}.jpg"


def read_pairs(path: Path) -> list[Pair]:
    """LFW ``pairs.txt``: a header ``folds n``, then per fold n same-person lines
    ``name n1 n2`` and n different-person lines ``name1 n1 name2 n2``."""
    lines = path.read_text().split("\n")
    head = lines[0].split()
    folds, n = (int(head[0]), int(head[1])) if len(head) == 2 else (1, int(head[0]))
    out: list[Pair] = []
    rows = [line.split() for line in lines[1:] if line.strip()]
    for i, row in enumerate(rows):
        fold = i // (2 * n) if len(head) == 2 else 0
        if len(row) == 3:
            out.append(Pair(image_path(row[0], row[1]), image_path(row[0], row[2]), True, fold))
        elif len(row) == 4:
            out.append(Pair(image_path(row[0], row[1]), image_path(row[2], row[3]), False, fold))
        else:
            raise ValueError(f"{path}: line {i + 2} is not a pair: {' '.join(row)}")
    if len(out) != folds * 2 * n:
        raise ValueError(f"{path}: expected {folds * 2 * n} pairs, found {len(out)}")
    return out


# ---- templates through facegate's path ----------------------------------------------------

_engine: Engine | None = None


def _init(factory: Callable[[], Engine]) -> None:
    global _engine
    _engine = factory()


def template_of(engine: Engine, data: bytes) -> tuple[NDArray[np.float32] | None, str]:
    """The template of the face nearest the image centre (LFW's convention) and how it was
    found: ``hog``/``cnn`` (the detector), ``centre`` (no face found: the central box of the
    aligned image, landmarks fitted there) or ``failed``."""
    image = decode_image(data, ImageLimits())
    h, w = image.shape[:2]
    faces = engine.analyse(image)
    if faces:
        def off_centre(f: Face) -> float:
            cx, cy = (f.box.left + f.box.right) / 2, (f.box.top + f.box.bottom) / 2
            return float((cx - w / 2) ** 2 + (cy - h / 2) ** 2)
        face = min(faces, key=off_centre)
        assert face.embedding is not None
        return face.embedding, face.detector
    side = min(h, w) * 0.4
    box = Box(int(w / 2 - side / 2), int(h / 2 - side / 2), int(w / 2 + side / 2),
              int(h / 2 + side / 2))
    try:
        return engine.embed(image, Face(box=box, landmarks=(), quality=Quality(
            int(side), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), detector="centre")), "centre"
    except Exception:  # pragma: no cover - the centre box always yields landmarks on LFW
        return None, "failed"


def _work(item: tuple[str, str]) -> tuple[str, NDArray[np.float32] | None, str]:
    root, rel = item
    assert _engine is not None
    vector, how = template_of(_engine, (Path(root) / rel).read_bytes())
    return rel, vector, how


class TemplateCache:
    """Templates per image path, in an ``.npz`` file keyed by the engine and model version."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vectors: dict[str, NDArray[np.float32]] = {}
        self.how: dict[str, str] = {}
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                for rel, vec, how in zip(z["paths"], z["vectors"], z["how"], strict=True):
                    self.how[str(rel)] = str(how)
                    if str(how) != "failed":
                        self.vectors[str(rel)] = vec.astype(np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        paths = sorted(self.how)
        dim = next((len(v) for v in self.vectors.values()), 128)
        vectors = np.stack([self.vectors.get(p, np.zeros(dim, np.float32)) for p in paths]) \
            if paths else np.zeros((0, dim), np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, paths=np.array(paths), vectors=vectors,
                 how=np.array([self.how[p] for p in paths]))
        os.replace(tmp, self.path)


def default_cache(engine: Engine) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "facegate" / "bench" / f"{engine.name}-{engine.model_version}.npz"


def templates(root: Path, paths: Iterable[str], factory: Callable[[], Engine],
              cache: TemplateCache, workers: int | None = None,
              progress: bool = False) -> TemplateCache:
    """Fill ``cache`` with the templates of ``paths`` (only those it lacks), in ``workers``
    processes; saved every few hundred images so an interrupted run resumes."""
    todo = [p for p in dict.fromkeys(paths) if p not in cache.how]
    if not todo:
        return cache
    workers = workers or os.cpu_count() or 1
    bar = Progress(len(todo), "templates", force=progress)
    with ProcessPoolExecutor(workers, mp_context=SPAWN, initializer=_init,
                             initargs=(factory,)) as pool:
        for i, (rel, vec, how) in enumerate(pool.map(_work, [(str(root), p) for p in todo],
                                                     chunksize=8)):
            cache.how[rel] = how
            if vec is not None:
                cache.vectors[rel] = vec
            bar.update()
            if i % 500 == 499:
                cache.save()
    cache.save()
    return cache


# ---- scores and error rates ---------------------------------------------------------------

def pair_scores(pairs: Sequence[Pair], cache: TemplateCache) -> NDArray[np.float64]:
    """Cosine similarity per pair; a pair with a missing template scores -1 (a non-match)."""
    out = np.empty(len(pairs))
    for i, p in enumerate(pairs):
        a, b = cache.vectors.get(p.a), cache.vectors.get(p.b)
        out[i] = -1.0 if a is None or b is None else float(np.dot(a, b))
    return out


def best_threshold(scores: NDArray[np.float64], same: NDArray[np.bool_]) -> float:
    """The threshold with the highest accuracy (match when score >= threshold)."""
    order = np.sort(np.unique(scores))
    candidates = np.concatenate([[order[0] - 1e-6], (order[:-1] + order[1:]) / 2,
                                 [order[-1] + 1e-6]])
    best, best_acc = float(candidates[0]), -1.0
    for t in candidates:
        acc = float(np.mean((scores >= t) == same))
        if acc > best_acc:
            best, best_acc = float(t), acc
    return best


def ten_fold(scores: NDArray[np.float64], same: NDArray[np.bool_],
             folds: NDArray[np.int_]) -> tuple[list[float], list[float]]:
    """The LFW protocol: for each fold, the threshold chosen on the other folds, accuracy
    measured on this one. Returns (accuracies, thresholds)."""
    accs, thresholds = [], []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        t = best_threshold(scores[train], same[train])
        accs.append(float(np.mean((scores[test] >= t) == same[test])))
        thresholds.append(t)
    return accs, thresholds


def threshold_for_fmr(impostor: NDArray[np.float64], fmr: float) -> float:
    """The lowest threshold whose false-match rate on ``impostor`` scores is <= ``fmr``."""
    s = np.sort(impostor)[::-1]
    k = int(np.floor(fmr * len(s)))  # at most k impostor scores may reach the threshold
    if k >= len(s):
        return float(s[-1])
    return float(np.nextafter(s[k], np.inf))


def rates(genuine: NDArray[np.float64], impostor: NDArray[np.float64],
          threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) at ``threshold``."""
    return (float(np.mean(impostor >= threshold)), float(np.mean(genuine < threshold)))


def calibration_table(genuine: NDArray[np.float64], impostor: NDArray[np.float64],
                      targets: Sequence[float] = FMR_TARGETS) -> list[dict[str, Any]]:
    """Per target FMR: the threshold, the FMR actually measured and the FNMR (= 1 - TAR).
    Targets below 1 / (number of impostor scores) cannot be resolved and are marked."""
    rows = []
    for fmr in targets:
        t = threshold_for_fmr(impostor, fmr)
        measured_fmr, fnmr = rates(genuine, impostor, t)
        rows.append({"fmr_target": fmr, "threshold": round(t, 4),
                     "fmr": measured_fmr, "fnmr": round(fnmr, 5), "tar": round(1 - fnmr, 5),
                     "resolved": fmr * len(impostor) >= 1})
    return rows


def all_pair_scores(vectors: NDArray[np.float32], labels: Sequence[str],
                    chunk: int = 2048) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Every genuine and impostor score among ``vectors`` (each unordered pair once)."""
    lab = np.asarray(labels)
    gen: list[NDArray[np.float64]] = []
    imp: list[NDArray[np.float64]] = []
    n = len(vectors)
    for start in range(0, n, chunk):
        block = vectors[start:start + chunk] @ vectors.T
        rows = np.arange(start, min(n, start + chunk))
        upper = np.arange(n)[None, :] > rows[:, None]
        same = lab[rows][:, None] == lab[None, :]
        gen.append(block[upper & same].astype(np.float64))
        imp.append(block[upper & ~same].astype(np.float64))
    return np.concatenate(gen), np.concatenate(imp)
