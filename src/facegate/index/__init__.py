"""1:N search indexes, rebuilt from the store and kept in step with it."""

from facegate.index.base import Hit, VectorIndex
from facegate.index.exact import ExactIndex
from facegate.index.ivf import IvfIndex

__all__ = ["ExactIndex", "Hit", "IvfIndex", "VectorIndex"]
