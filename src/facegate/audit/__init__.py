"""The audit trail: append-only, hash-chained, checkpointed under a Merkle tree, verifiable
offline.

The trail's names load on first use, so that ``facegate.audit.merkle`` and
``facegate.audit.offline`` import without the database layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facegate.audit import trail
    from facegate.audit.trail import (
        AuditEntry,
        ChainReport,
        append,
        record_dict,
        tail,
        verify_chain,
        verify_rows,
    )

__all__ = [
    "AuditEntry", "ChainReport", "append", "record_dict", "tail", "trail", "verify_chain",
    "verify_rows",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = importlib.import_module("facegate.audit.trail")
        return module if name == "trail" else getattr(module, name)
    raise AttributeError(f"module 'facegate.audit' has no attribute {name!r}")
